import { BadArgumentError, NervError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import { describeModel, initialParameters, macsPerPixel, modelTensors, parameterCount, predictionStrides, type ModelDescription, type TensorSpec } from '../nn/model.ts';
import { GpuRenderer } from '../nn/evaluate.ts';
import { GroupTrainer, DEFAULT_LEARNING_RATES, type LearningRates, type StepReport } from '../train/trainer.ts';
import { quantize, dequantize } from '../quant/quantize.ts';
import { encodeTensor } from '../entropy/tensor.ts';
import { writeNerv, type NervHeader } from '../format/index.ts';
import { framePsnr, meanPsnr } from '../metrics/psnr.ts';
import type { RgbFrame } from '../video/frame.ts';

export interface EncodeOptions {
  /** Frames per group (one network each). */
  groupSize?: number;
  /** A key group, coded without reference to the previous one, every this many groups. */
  keyInterval?: number;
  profile?: string;
  /** Training steps for the first group of each key interval; later groups start from their predecessor. */
  steps?: number;
  /** Training steps for predicted groups. */
  laterSteps?: number;
  /**
   * Aim the file at this many bytes (needs `expectedFrames`). The quantization steps chosen on the
   * first group are scaled until that group costs its share; later groups are usually cheaper (their
   * residuals), so the file lands at or somewhat below the target.
   */
  targetBytes?: number;
  /** How many frames the input will yield (for `targetBytes`). */
  expectedFrames?: number;
  /** Stop training each group once its decoded PSNR would reach this (dB); steps stay the upper bound. */
  targetPsnr?: number;
  /** Frames per training step. */
  batch?: number;
  /** PSNR the weight quantization may cost on the first group, in dB; larger steps mean fewer bytes. */
  quantizationLossDb?: number;
  learningRates?: Partial<LearningRates>;
  seed?: number;
  fps?: { num: number; den: number };
  colorSpace?: 'bt601' | 'bt709' | 'srgb';
  onProgress?: (event: EncodeProgress) => void;
}

export interface EncodeProgress {
  group: number;
  phase: 'train' | 'quantize' | 'done';
  step: number;
  steps: number;
  psnr: number;
}

export interface GroupReport {
  group: number;
  frames: number;
  key: boolean;
  /** Optimisation steps actually run (a PSNR target can end a group early). */
  steps: number;
  floatPsnr: number;
  /** PSNR of the frames the decoder will produce (quantized weights, 8-bit output). */
  psnr: number;
  framePsnr: number[];
  trainSeconds: number;
  reports: StepReport[];
}

export interface EncodeResult {
  bytes: Uint8Array;
  model: ModelDescription;
  groups: GroupReport[];
  quantSteps: number[];
  parameterCount: number;
  macsPerPixel: number;
  frameCount: number;
  psnr: number;
  bpp: number;
}

export const ENCODE_DEFAULTS = {
  groupSize: 8,
  keyInterval: 16,
  profile: 'small',
  steps: 1500,
  batch: 2,
  quantizationLossDb: 0.25,
  seed: 1,
};

/**
 * Encodes frames group by group (never holding more than one group): train, choose quantization
 * steps on the first group, fine-tune through fake quantization, quantize, and measure the decoded
 * frames exactly as the decoder will produce them.
 */
export async function encodeFrames(ctx: GpuContext, frames: Iterable<RgbFrame> | AsyncIterable<RgbFrame>, options: EncodeOptions = {}): Promise<EncodeResult> {
  const groupSize = options.groupSize ?? ENCODE_DEFAULTS.groupSize;
  const keyInterval = options.keyInterval ?? ENCODE_DEFAULTS.keyInterval;
  const steps = options.steps ?? ENCODE_DEFAULTS.steps;
  const laterSteps = options.laterSteps ?? Math.ceil(steps / 3);
  const batch = Math.min(options.batch ?? ENCODE_DEFAULTS.batch, groupSize);
  const seed = options.seed ?? ENCODE_DEFAULTS.seed;
  const lossBudget = options.quantizationLossDb ?? ENCODE_DEFAULTS.quantizationLossDb;
  const lr = { ...DEFAULT_LEARNING_RATES, ...options.learningRates };
  if (options.targetBytes !== undefined && !(options.expectedFrames! >= 1)) {
    throw new BadArgumentError('a target size needs the number of frames the input holds (expectedFrames)');
  }
  for (const [name, value, min] of [['keyInterval', keyInterval, 1], ['steps', steps, 1], ['laterSteps', laterSteps, 1], ['batch', batch, 1]] as const) {
    if (!Number.isInteger(value) || value < min) throw new BadArgumentError(`${name} must be an integer >= ${min}, got ${value}`);
  }

  let model: ModelDescription | undefined;
  let tensors: TensorSpec[] = [];
  let trainer: GroupTrainer | undefined;
  let renderer: GpuRenderer | undefined;
  let previous: Float32Array[] | undefined;
  let quantSteps: number[] | undefined;
  const coded: { key: boolean; tensors: { symbols: Int32Array; step: number }[] }[] = [];
  const reports: GroupReport[] = [];
  let frameCount = 0;

  for await (const group of groupsOf(frames, groupSize)) {
    const k = reports.length;
    if (!model) {
      model = describeModel(group[0].width, group[0].height, groupSize, options.profile ?? ENCODE_DEFAULTS.profile);
      tensors = modelTensors(model);
      trainer = new GroupTrainer(ctx, model, batch);
      renderer = new GpuRenderer(ctx, model);
    }
    for (const frame of group) {
      if (frame.width !== model.width || frame.height !== model.height) {
        throw new NervError('BAD_INPUT', `frame ${frameCount} is ${frame.width}x${frame.height}, the video is ${model.width}x${model.height}`);
      }
      frameCount++;
    }
    const targets = group.map((f) => f.data);
    const key = k % keyInterval === 0;
    const started = performance.now();
    const report = (phase: EncodeProgress['phase']) => (r: StepReport) =>
      options.onProgress?.({ group: k, phase, step: r.step, steps: r.steps, psnr: r.psnr });
    const init = previous ?? initialParameters(model, seed);
    const groupSteps = previous ? laterSteps : steps;
    const schedule = {
      steps: groupSteps, lr, warmup: previous ? 0.02 : 0.05, quantAwareFraction: 0.3, logEvery: 50, seed: seed + k,
      stopAtPsnr: options.targetPsnr, quantMarginDb: lossBudget,
    };
    let params: Float32Array[];
    let stepReports: StepReport[];
    let floatPsnr: number;
    let stepsRun: number;
    if (!quantSteps) {
      // The first group has no quantization steps yet: train in float, search the steps, then fine-tune quantized.
      ({ params, reports: stepReports } = await trainer!.train(targets, init, { ...schedule, quantAwareFraction: 0, stopAtPsnr: targetPlus(options.targetPsnr, lossBudget) }, undefined, report('train')));
      floatPsnr = await groupPsnr(renderer!, params, group);
      quantSteps = await searchQuantSteps(renderer!, tensors, params, group, lossBudget);
      if (options.targetBytes !== undefined) {
        const groups = Math.ceil(options.expectedFrames! / groupSize);
        const fixedCost = 600 + 64 * tensors.length; // header, index and chunk framing, roughly
        quantSteps = scaleStepsToBytes(params, quantSteps, Math.max(1, (options.targetBytes - fixedCost) / groups));
      }
      options.onProgress?.({ group: k, phase: 'quantize', step: 0, steps: 0, psnr: floatPsnr });
      const tune = { ...schedule, steps: Math.max(20, Math.ceil(groupSteps / 4)), lr: scaleRates(lr, 0.25), warmup: 0, quantAwareFraction: 1 };
      const tuned = await trainer!.train(targets, params, tune, quantSteps, report('train'));
      params = tuned.params;
      stepsRun = lastStep(stepReports) + lastStep(tuned.reports);
      stepReports = [...stepReports, ...tuned.reports];
    } else {
      ({ params, reports: stepReports } = await trainer!.train(targets, init, schedule, quantSteps, report('train')));
      stepsRun = lastStep(stepReports);
      floatPsnr = NaN;
    }
    const symbols = params.map((p, i) => quantize(p, quantSteps![i]));
    const decoded = symbols.map((s, i) => dequantize(s, quantSteps![i]));
    const perFrame = await framePsnrs(renderer!, decoded, group);
    const psnr = meanPsnr(perFrame);
    if (Number.isNaN(floatPsnr)) floatPsnr = await groupPsnr(renderer!, params, group);
    coded.push({ key, tensors: symbols.map((s, i) => ({ symbols: s, step: quantSteps![i] })) });
    reports.push({
      group: k, frames: group.length, key, steps: stepsRun, floatPsnr, psnr, framePsnr: perFrame,
      trainSeconds: (performance.now() - started) / 1000, reports: stepReports,
    });
    options.onProgress?.({ group: k, phase: 'done', step: groupSteps, steps: groupSteps, psnr });
    previous = decoded;
  }
  if (!model) throw new NervError('BAD_INPUT', 'the input has no frames');

  const header: NervHeader = {
    width: model.width,
    height: model.height,
    frameCount,
    fps: options.fps ?? { num: 25, den: 1 },
    colorSpace: options.colorSpace ?? 'bt601',
    groupSize,
    keyInterval,
    model,
    tensors: tensors.map((t) => ({ name: t.name, size: t.size })),
  };
  const bytes = writeNerv(header, coded, { predictionStrides: predictionStrides(tensors) });
  const allFrames = reports.flatMap((r) => r.framePsnr);
  return {
    bytes, model, groups: reports, quantSteps: quantSteps!, frameCount,
    parameterCount: parameterCount(model), macsPerPixel: macsPerPixel(model),
    psnr: meanPsnr(allFrames), bpp: (bytes.length * 8) / (model.width * model.height * frameCount),
  };
}

async function* groupsOf(frames: Iterable<RgbFrame> | AsyncIterable<RgbFrame>, size: number): AsyncGenerator<RgbFrame[]> {
  let group: RgbFrame[] = [];
  for await (const frame of frames) {
    group.push(frame);
    if (group.length === size) {
      yield group;
      group = [];
    }
  }
  if (group.length) yield group;
}

async function framePsnrs(renderer: GpuRenderer, params: Float32Array[], group: RgbFrame[]): Promise<number[]> {
  renderer.setParameters(params);
  const out: number[] = [];
  for (let j = 0; j < group.length; j++) {
    const rgb = await renderer.renderToCpu(j);
    out.push(framePsnr(rgb, group[j].data));
  }
  return out;
}

async function groupPsnr(renderer: GpuRenderer, params: Float32Array[], group: RgbFrame[]): Promise<number> {
  return meanPsnr(await framePsnrs(renderer, params, group));
}

/** A phase reports at its last step, so its last report tells how many steps it ran. */
function lastStep(reports: StepReport[]): number {
  return reports.at(-1)?.step ?? 0;
}

function targetPlus(target: number | undefined, margin: number): number | undefined {
  return target === undefined ? undefined : target + margin;
}

function scaleRates(rates: LearningRates, factor: number): LearningRates {
  return { grid: rates.grid * factor, weight: rates.weight * factor, bias: rates.bias * factor };
}

/**
 * Per tensor, the coarsest power-of-two step (relative to the tensor's spread) whose quantization alone
 * costs at most an equal share of the PSNR budget. Steps then stay fixed for the whole video, so later
 * groups' symbols can be coded as residuals against their predecessors'.
 */
async function searchQuantSteps(
  renderer: GpuRenderer,
  tensors: TensorSpec[],
  params: Float32Array[],
  group: RgbFrame[],
  budgetDb: number,
): Promise<number[]> {
  const share = budgetDb / tensors.length;
  const probe = group.filter((_, j) => j % 2 === 0);
  const base = await groupPsnr(renderer, params, probe);
  const steps: number[] = [];
  for (let i = 0; i < tensors.length; i++) {
    const spread = Math.max(rms(params[i]), 1e-6);
    let chosen = spread / 4096;
    for (let shift = 1; shift <= 12; shift++) {
      const step = spread / 2 ** shift;
      const trial = params.slice();
      trial[i] = dequantize(quantize(params[i], step), step);
      const psnr = await groupPsnr(renderer, trial, probe);
      if (base - psnr <= share) {
        chosen = step;
        break;
      }
    }
    steps.push(chosen);
  }
  return steps;
}

/**
 * Scales every step by one factor 2^s, bisecting s so the coded tensors of a group take about
 * `bytesPerGroup`. Coarser steps never cost more bytes, so the search is monotone.
 */
function scaleStepsToBytes(params: Float32Array[], steps: number[], bytesPerGroup: number): number[] {
  const scaled = (shift: number) => steps.map((step) => step * 2 ** shift);
  const cost = (shift: number) =>
    scaled(shift).reduce((sum, step, i) => sum + encodeTensor(quantize(params[i], step)).length, 0);
  let fine = -8;
  let coarse = 12;
  if (cost(fine) <= bytesPerGroup) return scaled(fine);
  for (let i = 0; i < 14; i++) {
    const middle = (fine + coarse) / 2;
    if (cost(middle) > bytesPerGroup) fine = middle;
    else coarse = middle;
  }
  return scaled(coarse);
}

function rms(values: Float32Array): number {
  let sum = 0;
  for (const v of values) sum += v * v;
  return Math.sqrt(sum / Math.max(1, values.length));
}
