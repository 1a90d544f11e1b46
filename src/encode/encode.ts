import { BadArgumentError, NervError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import {
  describeModel,
  initialParameters,
  latentsPerFrame,
  LATENT_MAX,
  macsPerPixel,
  modelTensors,
  parameterCount,
  type ColourFormat,
  type ModelDescription,
  type TensorSpec,
} from '../nn/model.ts';
import { GroupGraph, SynthesisRenderer } from '../nn/graph_gpu.ts';
import { DEFAULT_SCHEDULE, psnrOfMse, trainGroup, type StepReport } from '../train/trainer.ts';
import { encodeTensor } from '../entropy/tensor.ts';
import { latentCoder } from '../entropy/latents.ts';
import { armTensorsOf, dequantizeTensors, quantizeTensor } from '../quant/networks.ts';
import {
  encodeHeaderBody,
  fileFixedBytes,
  groupFileBytes,
  writeNerv,
  type NervColorRange,
  type NervColorSpace,
  type NervGroup,
  type NervHeader,
  type QuantizedTensor,
} from '../format/nerv.ts';
import { colourLossCpu, roundSymbol } from '../cpu/latents.ts';
import { synthesisToRgb, synthesisToYuv420 } from '../decode/output.ts';
import { framePsnr, meanPsnr, meanYuvPsnr, psnrYuvPlanes, type YuvPsnr } from '../metrics/psnr.ts';
import { yuvToRgb } from '../video/color.ts';
import type { RgbFrame } from '../video/frame.ts';
import { frameTargets } from './targets.ts';
import { ENCODE_DEFAULTS, PRESETS, type Preset } from './settings.ts';
import { groupShare, nextLambda, targetMet, type GroupTarget, type RatePoint } from './rate.ts';

export { ENCODE_DEFAULTS, PRESETS, type Preset } from './settings.ts';

export interface EncodeOptions {
  /** Frames per group (trained together; one latent pyramid per frame). */
  groupSize?: number;
  /** A key group (new networks, no reference to earlier frames) every this many groups. */
  keyInterval?: number;
  preset?: Preset;
  /** Override the preset's steps for key groups and for predicted groups. */
  steps?: number;
  laterSteps?: number;
  /** The rate-distortion trade-off: loss = distortion + lambda * bits / pixels. Larger: smaller file. */
  lambda?: number;
  /** Aim the whole file at this many bytes (needs `expectedFrames`): lambda is searched group by group. */
  targetBytes?: number;
  /** How many frames the input holds (for `targetBytes`). */
  expectedFrames?: number;
  profile?: string;
  /** Peak learning rates (advanced; the defaults suit every preset). */
  learningRates?: { latents?: number; networks?: number };
  /** Code RGB even when the frames carry 4:2:0 planes (default: the source's own colour format). */
  colour?: ColourFormat;
  /** Search lambda so every group decodes at this PSNR or a little above (dB: YUV 6:1:1, or RGB for RGB files). */
  targetPsnr?: number;
  seed?: number;
  /**
   * Encoding a segment of a longer video: the global index of the segment's first group (a key
   * group; seeds follow it, so segments encoded apart match a whole encode) and the whole video's
   * frame count. Both go into the header for `nervkit join`.
   */
  firstGroup?: number;
  videoFrames?: number;
  /**
   * The rate controller's state at the first group, as an earlier part of the same encode left it
   * (EncodeResult.rateState): encoding a video segment by segment with each segment starting where
   * the last one ended gives the bytes of one whole encode (src/segment/local.ts).
   */
  rateState?: RateState;
  fps?: { num: number; den: number };
  colorSpace?: NervColorSpace;
  colorRange?: NervColorRange;
  onProgress?: (event: EncodeProgress) => void;
}

/** What rate control carries from one group to the next. */
export interface RateState {
  /** Coded bytes of the groups so far (chunk contents; the container's framing is budgeted apart). */
  spentBytes: number;
  /** Cost of a predicted frame relative to a key frame, as last measured. */
  predictedWeight: number;
  /** The lambda the last group settled on: the next group starts from it. */
  lambda: number;
}

export interface EncodeProgress {
  /** Index of the group in the video (firstGroup included). */
  group: number;
  /** 'search': a rate-control pass re-trains the group at another lambda (`steps` more steps of work). */
  phase: 'train' | 'search' | 'quantize' | 'done';
  step: number;
  steps: number;
  /** Distortion so far as PSNR (dB, hard-rounded latents; decoded PSNR when phase is 'done'). */
  psnr: number;
  /** Latents' estimated bits per pixel so far (file bpp when phase is 'done'). */
  bpp: number;
}

export interface GroupReport {
  /** Index of the group in the video (firstGroup included). */
  group: number;
  frames: number;
  key: boolean;
  /** Steps run, rate-control passes included. */
  steps: number;
  lambda: number;
  /** Rate-control passes (each re-trains the group at a new lambda). */
  passes: number;
  /** Every pass's lambda and outcome, the chosen one among them. */
  search: RatePoint[];
  /** Training kept diverging and stopped early; the group was coded from its best state. */
  diverged: boolean;
  /** Divergences training recovered from (at a lower learning rate each time). */
  recoveries: number;
  /** Training's best state: distortion as PSNR and estimated latent bits. */
  trainedPsnr: number;
  estimatedLatentBits: number;
  /** Decoded PSNR (mean of frames): YUV 6:1:1 for yuv420 files, RGB otherwise. */
  psnr: number;
  psnrRgb: number;
  framePsnr: number[];
  framePsnrRgb: number[];
  latentBytes: number;
  networkBytes: number;
  /** Bytes the group adds to the file: latents, networks and their framing (chunk, CRC, index entry). */
  fileBytes: number;
  seconds: number;
  reports: StepReport[];
}

export interface EncodeResult {
  bytes: Uint8Array;
  model: ModelDescription;
  groups: GroupReport[];
  parameterCount: number;
  macsPerPixel: number;
  frameCount: number;
  lambda: number;
  /** Mean decoded PSNR over frames: YUV 6:1:1 for yuv420 files, RGB otherwise. */
  psnr: number;
  psnrRgb: number;
  psnrYuv?: YuvPsnr;
  bpp: number;
  /** Asked vs reached, when a size or PSNR target was given and the file is a whole video (see targetOutcome). */
  targets: EncodeTargets;
  warnings: string[];
  /** Rate control's state after the last group (EncodeOptions.rateState of a part that follows). */
  rateState: RateState;
}

export interface EncodeTargets {
  bytes?: { asked: number; reached: number };
  psnr?: { asked: number; missedGroups: number[] };
}

interface CodingState {
  model: ModelDescription;
  specs: TensorSpec[];
  renderer: SynthesisRenderer;
  graphs: Map<number, GroupGraph>;
  /** How the source's Y'CbCr maps to RGB (for the RGB PSNR of yuv420 files). */
  colorOptions: { colorSpace: 'bt601' | 'bt709'; colorRange: NervColorRange };
  /** What the decoder holds after the previous group: its network tensors and last frame's latents. */
  tensors?: QuantizedTensor[];
  lastLatents?: Int32Array;
}

/**
 * Encodes frames group by group (holding one group at a time): train latents and networks on
 * distortion + lambda * rate, quantize the networks, entropy-code the latents with the quantized
 * context model, and measure the decoded frames exactly as the decoder will produce them. With a
 * size or PSNR target, each group searches lambda (re-training from where it is) until it lands.
 */
export async function encodeFrames(ctx: GpuContext, frames: Iterable<RgbFrame> | AsyncIterable<RgbFrame>, options: EncodeOptions = {}): Promise<EncodeResult> {
  const groupSize = options.groupSize ?? ENCODE_DEFAULTS.groupSize;
  const keyInterval = options.keyInterval ?? ENCODE_DEFAULTS.keyInterval;
  const presetName = options.preset ?? ENCODE_DEFAULTS.preset;
  const preset = PRESETS[presetName];
  if (!preset) throw new BadArgumentError(`unknown preset "${String(presetName)}" (known: ${Object.keys(PRESETS).join(', ')})`);
  const keySteps = options.steps ?? preset.keySteps;
  const laterSteps = options.laterSteps ?? preset.laterSteps;
  const seed = options.seed ?? ENCODE_DEFAULTS.seed;
  const firstGroup = options.firstGroup ?? 0;
  for (const [name, value, min] of [
    ['groupSize', groupSize, 1],
    ['keyInterval', keyInterval, 1],
    ['steps', keySteps, 1],
    ['laterSteps', laterSteps, 1],
    ['firstGroup', firstGroup, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min) throw new BadArgumentError(`${name} must be an integer >= ${min}, got ${value}`);
  }
  const targets = [options.lambda, options.targetBytes, options.targetPsnr].filter((v) => v !== undefined).length;
  if (targets > 1) throw new BadArgumentError('give one of lambda, targetBytes and targetPsnr');
  let lambda = options.rateState?.lambda ?? options.lambda ?? ENCODE_DEFAULTS.lambda;
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw new BadArgumentError(`lambda must be a positive number, got ${lambda}`);
  if (options.targetBytes !== undefined) {
    if (!(options.targetBytes >= 1)) throw new BadArgumentError(`targetBytes must be at least 1, got ${options.targetBytes}`);
    if (!(options.expectedFrames! >= 1)) throw new BadArgumentError('a target size needs the number of frames the input holds (expectedFrames)');
  }
  if (options.targetPsnr !== undefined && !(options.targetPsnr > 0)) throw new BadArgumentError(`targetPsnr must be positive, got ${options.targetPsnr}`);

  let state: CodingState | undefined;
  const groups: NervGroup[] = [];
  const reports: GroupReport[] = [];
  const warnings: string[] = [];
  let frameCount = 0;
  let yuvScores: YuvPsnr[] = [];
  let spent = options.rateState?.spentBytes ?? 0;
  let fixedBytes = 0;
  /** Cost of a predicted frame relative to a key frame, measured as groups come in. */
  let predictedWeight = options.rateState?.predictedWeight ?? 0.5;
  /** Frames of the video before this file's first (a segment's budget is the whole video's). */
  const framesBefore = firstGroup * groupSize;
  let keyFrameCost: number | undefined;

  for await (const group of groupsOf(frames, groupSize)) {
    const k = reports.length;
    if (!state) {
      const colour = options.colour ?? (group[0].yuv?.chroma === '420' ? 'yuv420' : 'rgb');
      const model = describeModel(group[0].width, group[0].height, groupSize, { profile: options.profile, colour });
      const colorOptions = {
        colorSpace: options.colorSpace === 'bt709' ? ('bt709' as const) : ('bt601' as const),
        colorRange: options.colorRange ?? 'limited',
      };
      state = { model, specs: modelTensors(model), renderer: new SynthesisRenderer(ctx, model), graphs: new Map(), colorOptions };
      if (options.targetBytes !== undefined) fixedBytes = containerBytes(state, groupSize, keyInterval);
    }
    for (const frame of group) {
      if (frame.width !== state.model.width || frame.height !== state.model.height) {
        throw new NervError('BAD_INPUT', `frame ${frameCount} is ${frame.width}x${frame.height}, the video is ${state.model.width}x${state.model.height}`);
      }
      if (state.model.colour === 'yuv420' && frame.yuv?.chroma !== '420')
        throw new NervError('BAD_INPUT', `frame ${frameCount} has no 4:2:0 planes, unlike the first frame`);
      frameCount++;
    }
    const key = k % keyInterval === 0;
    let target: GroupTarget = { kind: 'lambda' };
    if (options.targetBytes !== undefined) {
      const remaining = remainingFrames(options.expectedFrames!, framesBefore + frameCount - group.length, groupSize, keyInterval);
      const budget = options.targetBytes - fixedBytes - spent;
      const last = framesBefore + frameCount >= options.expectedFrames!;
      target = {
        kind: 'bytes',
        bytes: Math.max(1, last ? budget : groupShare(budget, group.length, key, remaining, predictedWeight)),
        tolerance: last ? 0.03 : 0.05,
      };
    } else if (options.targetPsnr !== undefined) {
      target = { kind: 'psnr', psnr: options.targetPsnr, tolerance: 0.3 };
    }
    const coded = await encodeGroup(ctx, state, group, {
      key,
      k: firstGroup + k,
      steps: key ? keySteps : laterSteps,
      lambda,
      seed: seed + firstGroup + k,
      keyInterval,
      target,
      onProgress: options.onProgress,
      learningRates: { ...DEFAULT_SCHEDULE.lr, ...options.learningRates },
    });
    if (coded.report.diverged)
      warnings.push(
        `group ${coded.report.group}: training kept diverging and stopped early; it was coded from the best state reached (${coded.report.psnr.toFixed(2)} dB)`,
      );
    else if (coded.report.recoveries > 0)
      warnings.push(`group ${coded.report.group}: training diverged ${coded.report.recoveries} time(s) and recovered at a lower learning rate`);
    groups.push(coded.group);
    reports.push(coded.report);
    yuvScores = yuvScores.concat(coded.yuv);
    const groupBytes = coded.report.fileBytes;
    spent += groupBytes;
    if (key) keyFrameCost = groupBytes / group.length;
    else if (keyFrameCost) predictedWeight = Math.min(1, Math.max(0.05, groupBytes / group.length / keyFrameCost));
    // The next group starts from the lambda this one settled on.
    lambda = coded.report.lambda;
  }
  if (!state) throw new NervError('BAD_INPUT', 'the input has no frames');

  const model = state.model;
  const header: NervHeader = {
    width: model.width,
    height: model.height,
    frameCount,
    fps: options.fps ?? { num: 25, den: 1 },
    colorSpace: model.colour === 'rgb' ? 'srgb' : (options.colorSpace ?? 'bt601'),
    colorRange: options.colorRange ?? 'limited',
    groupSize,
    keyInterval,
    lambda: reports[0].lambda,
    segment: { firstFrame: firstGroup * groupSize, videoFrames: options.videoFrames ?? firstGroup * groupSize + frameCount },
    model,
  };
  const bytes = writeNerv(header, groups);
  const allFrames = reports.flatMap((r) => r.framePsnr);
  const rgbFrames = reports.flatMap((r) => r.framePsnrRgb);
  const result: EncodeResult = {
    bytes,
    model,
    groups: reports,
    frameCount,
    lambda: reports[0].lambda,
    parameterCount: parameterCount(model),
    macsPerPixel: macsPerPixel(model),
    psnr: meanPsnr(allFrames),
    psnrRgb: meanPsnr(rgbFrames),
    psnrYuv: yuvScores.length ? meanYuvPsnr(yuvScores) : undefined,
    bpp: (bytes.length * 8) / (model.width * model.height * frameCount),
    targets: {},
    warnings,
    rateState: { spentBytes: spent, predictedWeight, lambda },
  };
  // A segment's targets are the whole video's: whoever joins the segments judges them.
  if (firstGroup === 0 && frameCount === header.segment.videoFrames) {
    const outcome = targetOutcome(options, bytes.length, reports);
    result.targets = outcome.targets;
    warnings.push(...outcome.warnings);
  }
  return result;
}

/** How a whole video's file met its size or PSNR target, with a warning for each miss. */
export function targetOutcome(
  options: Pick<EncodeOptions, 'targetBytes' | 'targetPsnr'>,
  fileBytes: number,
  reports: GroupReport[],
): { targets: EncodeTargets; warnings: string[] } {
  const targets: EncodeTargets = {};
  const warnings: string[] = [];
  if (options.targetBytes !== undefined) {
    targets.bytes = { asked: options.targetBytes, reached: fileBytes };
    const off = fileBytes / options.targetBytes - 1;
    if (Math.abs(off) > 0.05) warnings.push(`the file is ${fileBytes} bytes, ${(100 * off).toFixed(1)}% off the target of ${options.targetBytes}`);
  }
  if (options.targetPsnr !== undefined) {
    const missed = reports.filter((r) => r.psnr < options.targetPsnr!);
    targets.psnr = { asked: options.targetPsnr, missedGroups: missed.map((r) => r.group) };
    if (missed.length)
      warnings.push(
        `group${missed.length > 1 ? 's' : ''} ${missed.map((r) => r.group).join(', ')} decode${missed.length > 1 ? '' : 's'} below the target of ${options.targetPsnr} dB (${missed.map((r) => r.psnr.toFixed(2)).join(', ')} dB)`,
      );
  }
  return { targets, warnings };
}

/** Bytes of the file besides its groups': preamble, header, index framing. */
function containerBytes(state: CodingState, groupSize: number, keyInterval: number): number {
  const header = encodeHeaderBody({
    width: state.model.width,
    height: state.model.height,
    frameCount: 1,
    fps: { num: 1, den: 1 },
    colorSpace: 'bt601',
    colorRange: 'limited',
    groupSize,
    keyInterval,
    lambda: 0,
    segment: { firstFrame: 0, videoFrames: 1 },
    model: state.model,
  }).length;
  return fileFixedBytes(header);
}

function remainingFrames(total: number, done: number, groupSize: number, keyInterval: number): { keyFrames: number; predictedFrames: number } {
  let keyFrames = 0;
  let predictedFrames = 0;
  for (let start = done; start < total; start += groupSize) {
    const frames = Math.min(groupSize, total - start);
    if (Math.floor(start / groupSize) % keyInterval === 0) keyFrames += frames;
    else predictedFrames += frames;
  }
  return { keyFrames, predictedFrames };
}

interface GroupSettings {
  key: boolean;
  k: number;
  steps: number;
  lambda: number;
  seed: number;
  keyInterval: number;
  target: GroupTarget;
  learningRates: { latents: number; networks: number };
  onProgress?: (event: EncodeProgress) => void;
}

/** A rate-control pass re-trains for this fraction of the group's steps, from where training left it. */
const SEARCH_PASS_FRACTION = 0.4;
const MAX_SEARCH_PASSES = 3;

interface CodedAttempt {
  point: RatePoint;
  symbols: Int32Array[];
  tensors: QuantizedTensor[];
  latents: Uint8Array;
  networkBytes: number;
  framePsnrs: number[];
  rgbPsnrs: number[];
  yuv: YuvPsnr[];
  trained: { steps: number; distortion: number; bits: number; reports: StepReport[]; gaveUp: boolean; recoveries: number };
}

async function encodeGroup(
  ctx: GpuContext,
  state: CodingState,
  frames: RgbFrame[],
  settings: GroupSettings,
): Promise<{ group: NervGroup; report: GroupReport; yuv: YuvPsnr[] }> {
  const { model } = state;
  const { key, k } = settings;
  const started = performance.now();
  const perFrame = latentsPerFrame(model);
  const pixels = frames.length * model.width * model.height;
  let graph = state.graphs.get(frames.length);
  if (!graph) {
    graph = new GroupGraph(ctx, model, frames.length, frames.length);
    state.graphs.set(frames.length, graph);
  }
  const targets = frameTargets(model, frames);
  graph.setTargets(targets);
  const context = key ? undefined : state.lastLatents;
  graph.setContextFrame(context ? Float32Array.from(context) : undefined);
  graph.setParameters(key ? initialParameters(model, settings.seed) : dequantizeTensors(state.tensors!));
  // A predicted group starts where the previous one ended: its last frame's latents in every frame.
  const init = new Float32Array(frames.length * perFrame);
  if (context) for (let j = 0; j < frames.length; j++) init.set(context, j * perFrame);
  graph.setLatents(init);

  const points: RatePoint[] = [];
  let lambda = settings.lambda;
  let best: CodedAttempt | undefined;
  let steps = 0;
  for (let pass = 0; ; pass++) {
    const passSteps = pass === 0 ? settings.steps : Math.max(10, Math.round(settings.steps * SEARCH_PASS_FRACTION));
    const phase = pass === 0 ? 'train' : 'search';
    if (pass > 0) settings.onProgress?.({ group: k, phase, step: 0, steps: passSteps, psnr: best!.point.psnr, bpp: (best!.point.bytes * 8) / pixels });
    const attempt = await trainAndCode(state, graph, frames, targets, context, settings, { lambda, steps: passSteps, phase, pixels });
    steps += attempt.trained.steps;
    points.push(attempt.point);
    if (!best || closer(settings.target, attempt.point, best.point)) best = attempt;
    if (targetMet(settings.target, attempt.point) || pass >= MAX_SEARCH_PASSES) break;
    lambda = nextLambda(settings.target, points);
  }
  const chosen = best!;
  state.tensors = chosen.tensors;
  state.lastLatents = chosen.symbols[chosen.symbols.length - 1];
  const report: GroupReport = {
    group: k,
    frames: frames.length,
    key,
    steps,
    lambda: chosen.point.lambda,
    passes: points.length - 1,
    search: points,
    diverged: chosen.trained.gaveUp,
    recoveries: chosen.trained.recoveries,
    trainedPsnr: psnrOfMse(chosen.trained.distortion),
    estimatedLatentBits: chosen.trained.bits,
    psnr: chosen.point.psnr,
    psnrRgb: meanPsnr(chosen.rgbPsnrs),
    framePsnr: chosen.framePsnrs,
    framePsnrRgb: chosen.rgbPsnrs,
    latentBytes: chosen.latents.length,
    networkBytes: chosen.networkBytes,
    fileBytes: chosen.point.bytes,
    seconds: (performance.now() - started) / 1000,
    reports: chosen.trained.reports,
  };
  settings.onProgress?.({ group: k, phase: 'done', step: settings.steps, steps: settings.steps, psnr: report.psnr, bpp: (chosen.point.bytes * 8) / pixels });
  return { group: { key, tensors: key ? chosen.tensors : undefined, latents: chosen.latents }, report, yuv: chosen.yuv };
}

/** Is `a` a better outcome than `b` for the target? (Met beats missed; then the closer one.) */
function closer(target: GroupTarget, a: RatePoint, b: RatePoint): boolean {
  if (target.kind === 'lambda') return true;
  const metA = targetMet(target, a);
  const metB = targetMet(target, b);
  if (metA !== metB) return metA;
  if (target.kind === 'bytes') return Math.abs(Math.log(a.bytes / target.bytes)) < Math.abs(Math.log(b.bytes / target.bytes));
  // PSNR: reaching the target matters more than overshooting it.
  if (a.psnr >= target.psnr !== b.psnr >= target.psnr) return a.psnr >= target.psnr;
  return Math.abs(a.psnr - target.psnr) < Math.abs(b.psnr - target.psnr);
}

/** Trains the loaded group at `lambda` (continuing from the graph's state), codes it and measures the decoded frames. */
async function trainAndCode(
  state: CodingState,
  graph: GroupGraph,
  frames: RgbFrame[],
  targets: Float32Array,
  context: Int32Array | undefined,
  settings: GroupSettings,
  pass: { lambda: number; steps: number; phase: 'train' | 'search'; pixels: number },
): Promise<CodedAttempt> {
  const { model, specs } = state;
  const { key, k } = settings;
  const perFrame = latentsPerFrame(model);
  const lr = { latents: settings.learningRates.latents, networks: key ? settings.learningRates.networks : 0 };
  // A rate-search pass continues from a trained state: it resumes where the annealing ended, at a
  // lower learning rate, rather than throwing that state back into high noise.
  const [t1, n1] = [DEFAULT_SCHEDULE.temperature[1], DEFAULT_SCHEDULE.noise[1]];
  const continuation =
    pass.phase === 'search'
      ? {
          temperature: [1.5 * t1, t1] as [number, number],
          noise: [1.5 * n1, n1] as [number, number],
          warmup: 0,
          lr: { latents: lr.latents / 2, networks: lr.networks / 2 },
        }
      : {};
  const trained = await trainGroup(
    graph,
    {
      ...DEFAULT_SCHEDULE,
      steps: pass.steps,
      lambda: pass.lambda,
      seed: settings.seed,
      // Predicted groups keep the key group's networks: they cost nothing to send again.
      lr,
      ...continuation,
    },
    (r) => settings.onProgress?.({ group: k, phase: pass.phase, step: r.step, steps: r.steps, psnr: psnrOfMse(r.distortion), bpp: r.bits / pass.pixels }),
  );
  const floatLatents = await graph.getLatents();
  const symbols = Array.from({ length: frames.length }, (_, j) =>
    Int32Array.from(floatLatents.subarray(j * perFrame, (j + 1) * perFrame), (v) => Math.max(-LATENT_MAX, Math.min(LATENT_MAX, roundSymbol(v)))),
  );
  let tensors: QuantizedTensor[];
  let networkBytes = 0;
  let tensorBytes: number[] | undefined;
  if (key) {
    settings.onProgress?.({
      group: k,
      phase: 'quantize',
      step: trained.steps,
      steps: pass.steps,
      psnr: psnrOfMse(trained.best.distortion),
      bpp: trained.best.bits / pass.pixels,
    });
    // Networks serve the whole key interval: their bits are spread over its pixels.
    const servedPixels = settings.keyInterval * pass.pixels;
    tensors = await chooseNetworkSteps(state, await graph.getParameters(), symbols, targets, context, pass.lambda, servedPixels);
    tensorBytes = tensors.map((t) => encodeTensor(t.symbols).length);
    networkBytes = tensorBytes.reduce((sum, n) => sum + n, 0);
  } else {
    tensors = state.tensors!;
  }
  const latents = latentCoder(model, armTensorsOf(specs, tensors)).encode(symbols, context).bytes;

  // Closed loop: decode the group exactly as a decoder will, and measure it.
  state.renderer.setParameters(dequantizeTensors(tensors));
  const framePsnrs: number[] = [];
  const rgbPsnrs: number[] = [];
  const yuv: YuvPsnr[] = [];
  for (let j = 0; j < frames.length; j++) {
    const out = await state.renderer.renderToCpu(Float32Array.from(symbols[j]));
    if (model.colour === 'yuv420') {
      const decoded = synthesisToYuv420(out, model.width, model.height);
      const score = psnrYuvPlanes(decoded, frames[j].yuv!);
      yuv.push(score);
      framePsnrs.push(score.weighted);
      rgbPsnrs.push(framePsnr(yuvToRgb(decoded, state.colorOptions).data, frames[j].data));
    } else {
      const p = framePsnr(synthesisToRgb(out), frames[j].data);
      framePsnrs.push(p);
      rgbPsnrs.push(p);
    }
  }
  return {
    // What the group adds to the file, framing included: what a size target has to count.
    point: { lambda: pass.lambda, bytes: groupFileBytes(tensorBytes, latents.length), psnr: meanPsnr(framePsnrs) },
    symbols,
    tensors,
    latents,
    networkBytes,
    framePsnrs,
    rgbPsnrs,
    yuv,
    trained: {
      steps: trained.steps,
      distortion: trained.best.distortion,
      bits: trained.best.bits,
      reports: trained.reports,
      gaveUp: trained.gaveUp,
      recoveries: trained.recoveries,
    },
  };
}

/** Candidate steps: powers of two (context-model steps must be; synthesis steps may be, and code well so). */
const SYNTHESIS_SHIFTS = [4, 5, 6, 7, 8, 9, 10, 11, 12];
const ARM_SHIFTS = [3, 4, 5, 6, 7, 8];
/** Frames of a group the step search measures on (a sample keeps it quick; the rest behave alike). */
const SEARCH_FRAMES = 2;

/**
 * Per network tensor, the quantization step that minimises distortion + lambda * rate, one tensor
 * at a time (the others at their current choice), starting from the finest steps. Synthesis steps
 * change the distortion (measured by rendering sample frames); context-model steps change the
 * latents' bits (counted exactly by the fixed-point coder); both change the tensor's own bits.
 */
async function chooseNetworkSteps(
  state: CodingState,
  params: Float32Array[],
  symbols: Int32Array[],
  targets: Float32Array,
  context: Int32Array | undefined,
  lambda: number,
  servedPixels: number,
): Promise<QuantizedTensor[]> {
  const { model, specs, renderer } = state;
  const sample = symbols.length <= SEARCH_FRAMES ? symbols.map((_, j) => j) : [0, symbols.length - 1];
  const targetFloats = targets.length / symbols.length;
  const groupPixels = symbols.length * model.width * model.height;
  const sampleScale = symbols.length / sample.length;
  const tensors = specs.map((spec, i) => quantizeTensor(spec, params[i], 2 ** -(spec.role === 'arm' ? ARM_SHIFTS.at(-1)! : SYNTHESIS_SHIFTS.at(-1)!)));
  const distortion = async () => {
    renderer.setParameters(dequantizeTensors(tensors));
    let sum = 0;
    for (const j of sample) {
      const out = await renderer.renderToCpu(Float32Array.from(symbols[j]));
      sum += colourLossCpu(
        model.colour,
        { n: 1, width: model.width, height: model.height },
        out,
        targets.subarray(j * targetFloats, (j + 1) * targetFloats),
      ).loss;
    }
    return sum / sample.length;
  };
  const latentBits = () => {
    const coder = latentCoder(model, armTensorsOf(specs, tensors));
    // The sample's first frame is coded with its true previous frame as context.
    return sample.reduce((sum, j) => sum + coder.bits([symbols[j]], j === 0 ? context : symbols[j - 1]), 0) * sampleScale;
  };
  const networkBits = (i: number) => encodeTensor(tensors[i].symbols).length * 8;
  let d = await distortion();
  let latent = latentBits();
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    const shifts = spec.role === 'arm' ? ARM_SHIFTS : SYNTHESIS_SHIFTS;
    let bestCost = d + (lambda * latent) / groupPixels + (lambda * networkBits(i)) / servedPixels;
    let best = tensors[i];
    for (const shift of shifts.slice(0, -1)) {
      tensors[i] = quantizeTensor(spec, params[i], 2 ** -shift);
      const trialD = spec.role === 'synthesis' ? await distortion() : d;
      const trialLatent = spec.role === 'arm' ? latentBits() : latent;
      const cost = trialD + (lambda * trialLatent) / groupPixels + (lambda * networkBits(i)) / servedPixels;
      if (cost < bestCost) {
        bestCost = cost;
        best = tensors[i];
        d = trialD;
        latent = trialLatent;
      }
    }
    tensors[i] = best;
  }
  return tensors;
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
