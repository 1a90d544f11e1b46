import { BadArgumentError, NervFormatError } from '../errors.ts';

/**
 * The model, declared once: every frame of a video is a pyramid of 1-channel latent grids (C3 /
 * Cool-chic style), upsampled to the pixel grid and turned into colour by a small synthesis network;
 * the latents' integer symbols are entropy-coded under a Laplace whose mean and scale an
 * autoregressive context model (ARM) predicts from already decoded neighbours: coarser levels, the
 * previous frame and, for half of the latents, their four spatial neighbours (checkerboard).
 *
 * Latents are tied to places and times, so where the picture does not change a latent equals its
 * predecessor in the previous frame and, under the context model, costs almost nothing. The GPU
 * training graph, the CPU decoder, the tensor list, the file's model JSON and MACs/pixel are all
 * derived from this description (docs/model.md specifies it op by op).
 */
export type ColourFormat = 'yuv420' | 'rgb';
export type LayerActivation = 'relu' | 'leaky' | 'none';

/** One layer of the synthesis network: a per-pixel (1x1) layer or a 3x3 convolution with zero padding. */
export interface SynthesisLayer {
  op: 'dense' | 'conv3';
  out: number;
  act: LayerActivation;
}

export type TapSource = 'current' | 'previous' | 'parent' | 'previous-parent';

/**
 * A context value of the entropy model: a latent of the same level in the same frame ('current'),
 * of the same level in the previous frame ('previous'), of the next coarser level in the same
 * frame ('parent', at (y >> 1) + dy, (x >> 1) + dx), or of the next coarser level in the previous
 * frame ('previous-parent', same position). Positions outside the grid read 0.
 */
export interface ContextTap {
  from: TapSource;
  dy: number;
  dx: number;
}

/**
 * Decoding order inside one level of one frame. 'checkerboard': first the anchors ((x + y) even)
 * with no 'current' taps, then the rest, whose 'current' taps (the four neighbours) are anchors:
 * two parallel passes per level. 'raster': one latent at a time in raster order, 'current' taps
 * must be causal (the ablation's sequential context; a player cannot afford it at high resolution).
 */
export type ContextSchedule = 'checkerboard' | 'raster';

export interface ArmDescription {
  hidden: number[];
  taps: ContextTap[];
  schedule: ContextSchedule;
}

export interface ModelDescription {
  kind: 'latent-pyramid';
  /** Name of the preset it came from (informative). */
  profile: string;
  width: number;
  height: number;
  groupSize: number;
  /** Colour the synthesis produces: Y'CbCr with 2x2-averaged chroma, or RGB. */
  colour: ColourFormat;
  /** Latent levels; level l has stride firstStride * 2^l. */
  levels: number;
  firstStride: number;
  synthesis: SynthesisLayer[];
  arm: ArmDescription;
}

export interface LatentLevel {
  stride: number;
  width: number;
  height: number;
  /** Offset of this level inside one frame's latents (levels are stored finest first). */
  offset: number;
  size: number;
}

export type TensorKind = 'weight' | 'bias';
export type TensorRole = 'synthesis' | 'arm';

export interface TensorSpec {
  name: string;
  kind: TensorKind;
  role: TensorRole;
  shape: number[];
  size: number;
}

/** ARM fixed point: weights and activations carry 8 fractional bits (docs/model.md, "Entropy model"). */
export const ARM_FRACTION_BITS = 8;
/** Log-scale offset: the ARM's second output o1 gives log b = o1 + ARM_LOG_SCALE_SHIFT (small scales at start). */
export const ARM_LOG_SCALE_SHIFT = -2;
/** Hidden activations are clamped to [0, ARM_HIDDEN_MAX] (ReLU with a ceiling), so int32 never overflows. */
export const ARM_HIDDEN_MAX = 255;
/** Largest latent magnitude: symbols live in [-LATENT_MAX, LATENT_MAX]. */
export const LATENT_MAX = 2047;
/** Extra ARM inputs after the taps: "is an anchor" and "no previous frame". */
export const ARM_FLAG_INPUTS = 2;

const FOUR_NEIGHBOURS: [number, number][] = [
  [-1, 0],
  [0, -1],
  [0, 1],
  [1, 0],
];

export interface Profile {
  name: string;
  description: string;
  levels: number;
  firstStride: number;
  synthesis: SynthesisLayer[];
  arm: ArmDescription;
}

const DEFAULT_TAPS: ContextTap[] = [
  ...FOUR_NEIGHBOURS.map(([dy, dx]) => ({ from: 'current' as const, dy, dx })),
  { from: 'previous', dy: 0, dx: 0 },
  ...FOUR_NEIGHBOURS.map(([dy, dx]) => ({ from: 'previous' as const, dy, dx })),
  { from: 'parent', dy: 0, dx: 0 },
  // With the parent, it says whether the coarser level changed here since the previous frame: where
  // motion is, so where this level's latents change too (README, "Rate-distortion": 7 to 10%
  // fewer bytes on vtest 320x192x32 at three of four rates).
  { from: 'previous-parent', dy: 0, dx: 0 },
];

export const PROFILES: Record<string, Profile> = {
  small: {
    name: 'small',
    description:
      '6 latent levels (stride 2 to 64) per frame; synthesis 16 (1x1, leaky ReLU) -> 3 -> two linear 3x3 convolutions; context model over 11 taps, hidden 8-8',
    // No full-resolution level: at equal training time, a first level at stride 2 gave the same PSNR
    // for a third to a half of the bytes (bench/results/ablation-*.json); the 3x3 layers restore detail.
    levels: 6,
    firstStride: 2,
    // No ReLU on the 3-channel colour layers: a colour channel whose pre-activation went negative
    // everywhere stopped learning for good (flat luma); leaky units cannot die either.
    synthesis: [
      { op: 'dense', out: 16, act: 'leaky' },
      { op: 'dense', out: 3, act: 'none' },
      { op: 'conv3', out: 3, act: 'none' },
      { op: 'conv3', out: 3, act: 'none' },
    ],
    arm: { hidden: [8, 8], taps: DEFAULT_TAPS, schedule: 'checkerboard' },
  },
};

export const DEFAULT_PROFILE = 'small';
export const MAX_DIMENSION = 16384;

export function describeModel(
  width: number,
  height: number,
  groupSize: number,
  options: { profile?: string; colour?: ColourFormat; overrides?: Partial<Pick<ModelDescription, 'levels' | 'firstStride' | 'synthesis' | 'arm'>> } = {},
): ModelDescription {
  const name = options.profile ?? DEFAULT_PROFILE;
  const profile = PROFILES[name];
  if (!profile) throw new BadArgumentError(`unknown model profile "${name}" (known: ${Object.keys(PROFILES).join(', ')})`);
  checkFrameSize(width, height);
  if (!Number.isInteger(groupSize) || groupSize < 1 || groupSize > 256) {
    throw new BadArgumentError(`group size must be an integer from 1 to 256, got ${groupSize}`);
  }
  const model: ModelDescription = {
    kind: 'latent-pyramid',
    profile: profile.name,
    width,
    height,
    groupSize,
    colour: options.colour ?? 'yuv420',
    levels: profile.levels,
    firstStride: profile.firstStride,
    synthesis: profile.synthesis.map((l) => ({ ...l })),
    arm: { hidden: [...profile.arm.hidden], taps: profile.arm.taps.map((t) => ({ ...t })), schedule: profile.arm.schedule },
    ...structuredClone(options.overrides ?? {}),
  };
  // Re-validate so an override cannot produce what a file could not hold.
  return validateModel(JSON.parse(JSON.stringify(model)), { width, height, groupSize });
}

export function checkFrameSize(width: number, height: number): void {
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 2 || value > MAX_DIMENSION) {
      throw new BadArgumentError(`frame ${name} must be an integer from 2 to ${MAX_DIMENSION}, got ${value}`);
    }
  }
}

/** Level l covers stride s = firstStride * 2^l pixels per cell: ceil(width / s) x ceil(height / s) latents. */
export function latentLevels(model: Pick<ModelDescription, 'width' | 'height' | 'levels' | 'firstStride'>): LatentLevel[] {
  const levels: LatentLevel[] = [];
  let offset = 0;
  for (let l = 0; l < model.levels; l++) {
    const stride = model.firstStride * 2 ** l;
    const width = Math.ceil(model.width / stride);
    const height = Math.ceil(model.height / stride);
    levels.push({ stride, width, height, offset, size: width * height });
    offset += width * height;
  }
  return levels;
}

export function latentsPerFrame(model: ModelDescription): number {
  return latentLevels(model).reduce((sum, level) => sum + level.size, 0);
}

export function armInputCount(model: ModelDescription): number {
  return model.arm.taps.length + ARM_FLAG_INPUTS;
}

/** Channels the synthesis produces: 3 (Y, Cb, Cr or R, G, B). */
export const OUTPUT_CHANNELS = 3;

/** Every network tensor of a group, in the fixed order used by training, the file and the decoder. */
export function modelTensors(model: ModelDescription): TensorSpec[] {
  const tensors: TensorSpec[] = [];
  const add = (name: string, kind: TensorKind, role: TensorRole, shape: number[]) =>
    tensors.push({ name, kind, role, shape, size: shape.reduce((a, b) => a * b, 1) });
  let inC = model.levels;
  model.synthesis.forEach((layer, i) => {
    add(`syn${i}.weight`, 'weight', 'synthesis', layer.op === 'conv3' ? [3, 3, inC, layer.out] : [inC, layer.out]);
    add(`syn${i}.bias`, 'bias', 'synthesis', [layer.out]);
    inC = layer.out;
  });
  const inputs = armInputCount(model);
  let armIn = inputs;
  model.arm.hidden.forEach((width, i) => {
    add(`arm${i}.weight`, 'weight', 'arm', [armIn, width]);
    add(`arm${i}.bias`, 'bias', 'arm', [width]);
    armIn = width;
  });
  add('arm.out.weight', 'weight', 'arm', [armIn, 2]);
  add('arm.out.bias', 'bias', 'arm', [2]);
  // A linear path from the context straight to (mu, log-scale), beside the MLP (Cool-chic's stabiliser).
  add('arm.linear.weight', 'weight', 'arm', [inputs, 2]);
  return tensors;
}

export function parameterCount(model: ModelDescription): number {
  return modelTensors(model).reduce((sum, t) => sum + t.size, 0);
}

export interface DecodeCost {
  /** Bilinear upsampling of the coarser levels. */
  upsampling: number;
  synthesis: number;
  /** The context model, per pixel (per-latent cost times latents per pixel). */
  entropyModel: number;
  total: number;
}

/** Multiply-accumulates per decoded pixel, split by stage. */
export function decodeCost(model: ModelDescription): DecodeCost {
  const levels = latentLevels(model);
  const upsampling = levels.filter((l) => l.stride > 1).length * 4;
  let synthesis = 0;
  let inC = model.levels;
  for (const layer of model.synthesis) {
    synthesis += (layer.op === 'conv3' ? 9 : 1) * inC * layer.out;
    inC = layer.out;
  }
  let perLatent = 0;
  let armIn = armInputCount(model);
  for (const width of model.arm.hidden) {
    perLatent += armIn * width;
    armIn = width;
  }
  perLatent += armIn * 2 + armInputCount(model) * 2;
  const entropyModel = (perLatent * latentsPerFrame(model)) / (model.width * model.height);
  return { upsampling, synthesis, entropyModel, total: upsampling + synthesis + entropyModel };
}

export function macsPerPixel(model: ModelDescription): number {
  return Math.round(decodeCost(model).total);
}

/**
 * Deterministic initial network parameters. Synthesis: uniform He-scaled 1x1 layers; 3x3 layers
 * start as the identity (a residual block that has learned nothing yet); the last layer's bias is
 * mid-grey. ARM: small random weights, so the first rates follow the log-scale shift, and a linear
 * path that predicts the previous frame's latent.
 */
export function initialParameters(model: ModelDescription, seed: number): Float32Array[] {
  const random = mulberry32(seed);
  const uniform = (scale: number) => (random() * 2 - 1) * scale;
  const specs = modelTensors(model);
  const lastSynthesisBias = `syn${model.synthesis.length - 1}.bias`;
  return specs.map((spec) => {
    const values = new Float32Array(spec.size);
    if (spec.role === 'synthesis' && spec.kind === 'weight') {
      if (spec.shape.length === 4) {
        const [, , inC, outC] = spec.shape;
        for (let i = 0; i < values.length; i++) values[i] = uniform(0.01);
        if (inC === outC) for (let c = 0; c < inC; c++) values[((1 * 3 + 1) * inC + c) * outC + c] += 1;
      } else {
        const scale = Math.sqrt(6 / spec.shape[0]);
        for (let i = 0; i < values.length; i++) values[i] = uniform(scale);
      }
    } else if (spec.name === lastSynthesisBias) {
      values.fill(0.5);
    } else if (spec.name === 'arm.linear.weight') {
      // Start by predicting each latent as the same latent in the previous frame: right for static
      // content from the first step, and harmless where there is no previous frame (that input is 0).
      const temporal = model.arm.taps.findIndex((t) => t.from === 'previous' && t.dy === 0 && t.dx === 0);
      if (temporal >= 0) values[temporal * 2] = 1;
    } else if (spec.role === 'arm' && spec.kind === 'weight') {
      const scale = 1 / spec.shape[1];
      for (let i = 0; i < values.length; i++) values[i] = uniform(scale);
    }
    return values;
  });
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TAP_RANGE = 3;
/** In the order of their codes in a .nerv header (docs/format.md, "Model"). */
export const TAP_SOURCES: readonly TapSource[] = ['current', 'previous', 'parent', 'previous-parent'];

/**
 * Checks an untrusted model description (from a file header, or built from options) field by field
 * and rebuilds it, so nothing outside the supported space reaches allocation or a decoder.
 */
export function validateModel(value: unknown, frame: { width: number; height: number; groupSize: number }): ModelDescription {
  const fail = (why: string): never => {
    throw new NervFormatError('header', `invalid model description: ${why}`);
  };
  if (typeof value !== 'object' || value === null) fail('not an object');
  const m = value as Record<string, unknown>;
  if (m.kind !== 'latent-pyramid') fail(`unknown model kind ${JSON.stringify(m.kind)}`);
  if (typeof m.profile !== 'string' || m.profile.length > 64) fail('profile');
  if (m.width !== frame.width || m.height !== frame.height || m.groupSize !== frame.groupSize) fail('size differs from the header');
  if (m.colour !== 'yuv420' && m.colour !== 'rgb') fail(`unknown colour format ${JSON.stringify(m.colour)}`);
  const int = (v: unknown, lo: number, hi: number, what: string): number =>
    Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi ? (v as number) : fail(`${what} out of range ${lo}..${hi}`);
  const firstStride = int(m.firstStride, 1, 2, 'first stride');
  const levels = int(m.levels, 1, 10, 'levels');
  if (!Array.isArray(m.synthesis) || m.synthesis.length < 1 || m.synthesis.length > 8) fail('synthesis layers');
  const synthesis = (m.synthesis as unknown[]).map((raw, i): SynthesisLayer => {
    const layer = (raw ?? {}) as Record<string, unknown>;
    if (layer.op !== 'dense' && layer.op !== 'conv3') fail(`synthesis layer ${i}: unknown op ${JSON.stringify(layer.op)}`);
    if (layer.act !== 'relu' && layer.act !== 'leaky' && layer.act !== 'none') fail(`synthesis layer ${i}: unknown activation ${JSON.stringify(layer.act)}`);
    return { op: layer.op as SynthesisLayer['op'], out: int(layer.out, 1, 64, `synthesis layer ${i} width`), act: layer.act as LayerActivation };
  });
  if (synthesis.at(-1)!.out !== OUTPUT_CHANNELS) fail(`the last synthesis layer must have ${OUTPUT_CHANNELS} outputs`);
  const arm = (m.arm ?? {}) as Record<string, unknown>;
  if (!Array.isArray(arm.hidden) || arm.hidden.length > 4) fail('context model hidden layers');
  const hidden = (arm.hidden as unknown[]).map((w, i) => int(w, 1, 32, `context model hidden layer ${i} width`));
  if (arm.schedule !== 'checkerboard' && arm.schedule !== 'raster') fail(`unknown context schedule ${JSON.stringify(arm.schedule)}`);
  const schedule = arm.schedule as ContextSchedule;
  if (!Array.isArray(arm.taps) || arm.taps.length > 32) fail('context taps');
  const taps = (arm.taps as unknown[]).map((raw, i): ContextTap => {
    const tap = (raw ?? {}) as Record<string, unknown>;
    if (!TAP_SOURCES.includes(tap.from as TapSource)) fail(`context tap ${i}: unknown source ${JSON.stringify(tap.from)}`);
    const dy = int(tap.dy, -TAP_RANGE, TAP_RANGE, `context tap ${i} dy`);
    const dx = int(tap.dx, -TAP_RANGE, TAP_RANGE, `context tap ${i} dx`);
    const from = tap.from as TapSource;
    if (from === 'current') {
      const causal = schedule === 'raster' ? dy < 0 || (dy === 0 && dx < 0) : Math.abs(dy) + Math.abs(dx) === 1;
      if (!causal) fail(`context tap ${i} (${dy}, ${dx}) is not decoded yet under the ${schedule} schedule`);
    }
    return { from, dy, dx };
  });
  return {
    kind: 'latent-pyramid',
    profile: m.profile as string,
    width: frame.width,
    height: frame.height,
    groupSize: frame.groupSize,
    colour: m.colour as ColourFormat,
    levels,
    firstStride,
    synthesis,
    arm: { hidden, taps, schedule },
  };
}
