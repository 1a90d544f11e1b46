import { NervError } from '../errors.ts';
import type { GroupGraph, GpuSnapshot } from '../nn/graph_gpu.ts';
import type { QuantizeSettings } from '../cpu/latents.ts';

/**
 * How one group is trained (C3 / Cool-chic recipe): distortion + lambda * rate with soft rounding
 * plus noise (temperature and noise annealed, cosine learning rate), keeping the best state measured
 * with hard rounding. No straight-through phase at the end, as C3 and Cool-chic have: at our step
 * counts its steps raised the hard-rounded bits, so the state kept was always the one from before
 * it; given to the soft phase they gave fewer bytes and a higher PSNR (vtest 160x96, 3 seeds at
 * preset fast, 2 at medium; README, "Ablation").
 */
export interface TrainSchedule {
  steps: number;
  lambda: number;
  lr: { latents: number; networks: number };
  /** Soft-round temperature and noise level, linearly from start to end. */
  temperature: [number, number];
  noise: [number, number];
  /** Fraction of the steps spent warming the learning rate up. */
  warmup: number;
  /** Measure (and keep the best state) every this many steps; each read stalls the GPU queue. */
  evalEvery: number;
  seed: number;
}

export const DEFAULT_SCHEDULE: Omit<TrainSchedule, 'steps' | 'lambda' | 'seed'> = {
  // Networks at 0.02 rather than 0.01: fewer bytes and a higher PSNR both on vtest at preset fast
  // (320x192x8 with two seeds, 160x96x16; bench/ablation.ts, variant networks-lr-0.01).
  lr: { latents: 0.2, networks: 2e-2 },
  temperature: [0.3, 0.1],
  noise: [0.25, 0.1],
  warmup: 0.02,
  evalEvery: 50,
};

export interface StepReport {
  step: number;
  steps: number;
  /** Weighted MSE (on [0, 1]) of the hard-rounded latents, and their estimated bits. */
  distortion: number;
  bits: number;
  /** distortion + lambda * bits / pixels */
  loss: number;
  /** Divergences recovered from so far (each restores the best state and halves the learning rate). */
  recoveries: number;
}

export interface TrainResult {
  reports: StepReport[];
  best: StepReport;
  steps: number;
  /** Training kept diverging even at a much lower learning rate and stopped early: `best` is the best state before. */
  gaveUp: boolean;
  /** Divergences recovered from (each restored the best state and lowered the learning rate). */
  recoveries: number;
}

const MAX_RECOVERIES = 6;

/** Trains the group loaded in `graph` (latents, networks, targets and context frame already set). */
export async function trainGroup(graph: GroupGraph, schedule: TrainSchedule, onReport?: (report: StepReport) => void): Promise<TrainResult> {
  const pixels = graph.groupFrames * graph.model.width * graph.model.height;
  // Short runs measure more often, so a divergence costs a small share of them.
  const evalEvery = Math.max(10, Math.min(schedule.evalEvery, Math.round(schedule.steps / 10)));
  const kinds = graph.plan.tensors.map((t) => t.kind);
  graph.setLambda(schedule.lambda);
  graph.resetOptimizer();
  const reports: StepReport[] = [];
  let best: { report: StepReport; snapshot: GpuSnapshot } | undefined;
  let lrScale = 1;
  let recoveries = 0;
  let adamStep = 0;
  let gaveUp = false;

  const measure = async (step: number): Promise<StepReport> => {
    graph.setQuantize({ mode: 'hard', temperature: 0.1, noise: 0, seed: 0 });
    let distortion = 0;
    let bits = 0;
    for (let s = 0; s < graph.slots.length; s++) {
      graph.evaluate(s);
      const stats = await graph.readStats(s);
      distortion += stats.distortion * graph.slots[s].count;
      bits += stats.bits;
    }
    distortion /= graph.groupFrames;
    const loss = distortion + (schedule.lambda * bits) / pixels;
    return { step, steps: schedule.steps, distortion, bits, loss, recoveries };
  };

  // The starting state is the first fallback: whatever happens, training returns something it measured.
  const start = await measure(0);
  if (Number.isFinite(start.loss)) best = { report: start, snapshot: graph.snapshot() };
  for (let step = 0; step < schedule.steps; step++) {
    const progress = step / schedule.steps;
    const lerp = ([a, b]: [number, number]) => a + (b - a) * progress;
    const warm = Math.max(1, Math.floor(schedule.steps * schedule.warmup));
    let factor = step < warm ? (step + 1) / warm : 0.5 * (1 + Math.cos((Math.PI * (step - warm)) / Math.max(1, schedule.steps - warm)));
    factor *= lrScale;
    adamStep++;
    kinds.forEach((kind, i) => graph.ctx.write(graph.tensorHyper[i], adamHyper(schedule.lr.networks * factor, kind === 'bias' ? 0.9 : 0.9, 0.999, adamStep)));
    graph.ctx.write(graph.latentHyper, adamHyper(schedule.lr.latents * factor, 0.9, 0.999, adamStep));
    const settings: QuantizeSettings = {
      mode: 'soft',
      temperature: lerp(schedule.temperature),
      noise: lerp(schedule.noise),
      seed: (schedule.seed * 7919 + step) >>> 0,
    };
    graph.setQuantize(settings);
    for (let s = 0; s < graph.slots.length; s++) graph.step(s, 'soft');

    const last = step === schedule.steps - 1;
    if ((step + 1) % evalEvery !== 0 && !last) continue;
    const report = await measure(step + 1);
    if (!Number.isFinite(report.loss) || (best && report.loss > 4 * best.report.loss + 1e-3)) {
      // Diverged: back to the best state seen, at half the learning rate, and carry on; what is
      // lost is at most the steps since the last measurement.
      if (!best) throw new NervError('TRAINING', `training diverged at step ${step + 1} from a starting state that does not evaluate`);
      graph.restore(best.snapshot);
      graph.resetOptimizer();
      if (++recoveries > MAX_RECOVERIES) {
        gaveUp = true;
        break;
      }
      lrScale /= 4;
      continue;
    }
    reports.push(report);
    onReport?.(report);
    if (!best || report.loss < best.report.loss) {
      best?.snapshot.params.forEach((b) => b.destroy());
      best?.snapshot.latents.forEach((b) => b.destroy());
      best = { report, snapshot: graph.snapshot() };
    }
  }
  if (!best) throw new NervError('TRAINING', 'training produced no state that evaluates to a finite loss');
  graph.restore(best.snapshot);
  await graph.ctx.finish();
  best.snapshot.params.forEach((b) => b.destroy());
  best.snapshot.latents.forEach((b) => b.destroy());
  return { reports, best: best.report, steps: reports.at(-1)?.step ?? 0, gaveUp, recoveries };
}

function adamHyper(lr: number, beta1: number, beta2: number, t: number): Float32Array {
  return Float32Array.of(lr, beta1, beta2, 1e-8, 1 / (1 - beta1 ** t), 1 / (1 - beta2 ** t), 0, 1);
}

export function psnrOfMse(mse: number): number {
  return mse > 0 ? -10 * Math.log10(mse) : Infinity;
}
