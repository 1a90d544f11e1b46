import { NervError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import { GpuNetwork } from '../nn/network_gpu.ts';
import type { ModelDescription, TensorKind } from '../nn/model.ts';

export interface LearningRates {
  grid: number;
  weight: number;
  bias: number;
}

export interface TrainSchedule {
  /** Optimisation steps for this group. */
  steps: number;
  lr: LearningRates;
  /** Fraction of steps spent warming the learning rate up. */
  warmup: number;
  /** Final fraction of steps trained through hard fake quantization (needs quantSteps). */
  quantAwareFraction: number;
  /** Read the loss back every this many steps (each read stalls the GPU queue). */
  logEvery: number;
  seed: number;
  /**
   * Stop once the group reaches this PSNR (dB) through quantization: reaching it plus `quantMarginDb`
   * in float switches to the quantization-aware phase early, reaching it there ends the group.
   */
  stopAtPsnr?: number;
  quantMarginDb?: number;
}

export const DEFAULT_LEARNING_RATES: LearningRates = { grid: 2e-2, weight: 4e-3, bias: 4e-3 };

export interface StepReport {
  step: number;
  steps: number;
  /** Mean over the group's batch slots of each slot's latest loss (MSE on the [0,1] scale). */
  mse: number;
  psnr: number;
  quantized: boolean;
}

/** A group's frames (HWC RGB in [0,1], each width*height*3). */
export type GroupFrames = Float32Array[];

/**
 * Trains one network per group of frames on the GPU. The graph for each batch slot is recorded once;
 * a step is one submit; the CPU reads back only the loss every `logEvery` steps.
 */
export class GroupTrainer {
  readonly net: GpuNetwork;
  private readonly slotIds = new Map<string, number>();
  private readonly floatGraphs = new Map<number, ReturnType<GpuNetwork['trainPrograms']>>();
  private readonly quantGraphs = new Map<number, ReturnType<GpuNetwork['trainPrograms']>>();

  constructor(ctx: GpuContext, readonly model: ModelDescription, readonly batch: number) {
    this.net = new GpuNetwork(ctx, model, batch, { training: true });
  }

  /** Batch slots covering a group of `count` frames (the last one wraps round to stay full). */
  slotsFor(frames: GroupFrames): number[] {
    const count = frames.length;
    const slots: number[] = [];
    const pixels = this.model.width * this.model.height * 3;
    for (let start = 0; start < count; start += this.batch) {
      const indices = Array.from({ length: this.batch }, (_, k) => (start + k) % count);
      const target = new Float32Array(pixels * this.batch);
      indices.forEach((j, k) => target.set(frames[j], k * pixels));
      const key = indices.join(',');
      let id = this.slotIds.get(key);
      if (id === undefined) {
        id = this.net.addSlot({ frames: indices }, target);
        this.slotIds.set(key, id);
      } else {
        this.net.setSlotTarget(id, target);
      }
      slots.push(id);
    }
    return slots;
  }

  /**
   * Trains from `init` and returns the float parameters. `quantSteps` (one per tensor) enables the
   * quantization-aware tail of the schedule. Divergence (NaN, loss blow-up) restarts the group with
   * half the learning rate, at most three times.
   */
  async train(
    frames: GroupFrames,
    init: Float32Array[],
    schedule: TrainSchedule,
    quantSteps: number[] | undefined,
    onReport?: (report: StepReport) => void,
  ): Promise<{ params: Float32Array[]; reports: StepReport[] }> {
    const slots = this.slotsFor(frames);
    let lrScale = 1;
    for (let attempt = 0; attempt < 4; attempt++) {
      const reports = await this.trainOnce(slots, init, schedule, quantSteps, lrScale, onReport);
      if (reports) return { params: await this.net.getParameters(), reports };
      lrScale /= 2;
    }
    throw new NervError('TRAINING', 'training diverged four times, even at 1/8 of the learning rate');
  }

  private async trainOnce(
    slots: number[],
    init: Float32Array[],
    schedule: TrainSchedule,
    quantSteps: number[] | undefined,
    lrScale: number,
    onReport?: (report: StepReport) => void,
  ): Promise<StepReport[] | undefined> {
    const net = this.net;
    net.setParameters(init);
    net.resetOptimizer();
    const kinds = net.tensors.map((t) => t.kind);
    let quantStart = quantSteps ? Math.floor(schedule.steps * (1 - schedule.quantAwareFraction)) : Infinity;
    if (quantSteps) quantSteps.forEach((step, i) => net.setQuant(i, Float32Array.of(step, 0, 0, 0)));
    const order = shuffledOrder(slots.length, schedule.seed);
    // A report averages every slot's latest loss, so every slot must have run since the last one.
    const logEvery = Math.max(schedule.logEvery, slots.length);
    const reports: StepReport[] = [];
    let bestMse = Infinity;
    for (let step = 0; step < schedule.steps; step++) {
      const lr = learningRateFactor(step, schedule) * lrScale;
      kinds.forEach((kind, i) => net.setHyper(i, adamHyperFor(kind, schedule.lr, lr, step + 1)));
      const slotIndex = order[step % order.length];
      const slot = slots[slotIndex];
      const quantized = step >= quantStart;
      net.ctx.run(this.graph(slot, quantized));
      if (step % logEvery === logEvery - 1 || step === schedule.steps - 1) {
        // Each slot's loss buffer holds its latest batch loss: their mean tracks the whole group.
        const losses = await Promise.all(slots.map((id) => net.readLoss(id)));
        const mse = losses.reduce((a, b) => a + b, 0) / losses.length;
        const report: StepReport = { step: step + 1, steps: schedule.steps, mse, psnr: psnrOfMse(mse), quantized };
        reports.push(report);
        onReport?.(report);
        if (!Number.isFinite(mse) || (step > schedule.steps * schedule.warmup && mse > 8 * bestMse + 1e-3)) return undefined;
        bestMse = Math.min(bestMse, mse);
        const target = schedule.stopAtPsnr;
        if (target !== undefined) {
          if (quantized || !quantSteps) {
            if (report.psnr >= target) break;
          } else if (report.psnr >= target + (schedule.quantMarginDb ?? 0)) {
            quantStart = step + 1;
          }
        }
      }
    }
    return reports;
  }

  private graph(slot: number, quantized: boolean) {
    const cache = quantized ? this.quantGraphs : this.floatGraphs;
    let graph = cache.get(slot);
    if (!graph) {
      graph = this.net.trainPrograms(slot, quantized);
      cache.set(slot, graph);
    }
    return graph;
  }
}

/** Linear warm-up then cosine decay to 5% of the peak. */
export function learningRateFactor(step: number, schedule: Pick<TrainSchedule, 'steps' | 'warmup'>): number {
  const warm = Math.max(1, Math.floor(schedule.steps * schedule.warmup));
  if (step < warm) return (step + 1) / warm;
  const progress = (step - warm) / Math.max(1, schedule.steps - warm);
  return 0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * progress));
}

function adamHyperFor(kind: TensorKind, rates: LearningRates, factor: number, t: number): Float32Array {
  const beta1 = 0.9;
  const beta2 = 0.99;
  return Float32Array.of(rates[kind] * factor, beta1, beta2, 1e-8, 1 / (1 - beta1 ** t), 1 / (1 - beta2 ** t), 0, 1);
}

export function psnrOfMse(mse: number): number {
  return mse > 0 ? -10 * Math.log10(mse) : Infinity;
}

function shuffledOrder(count: number, seed: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = count - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
