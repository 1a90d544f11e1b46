import { BadArgumentError, NervError } from '../errors.ts';
import type { GridSampleShape } from '../cpu/grid.ts';

/**
 * The per-group network, C3/Cool-chic style: learned feature grids over (x, y, t) sampled at every
 * pixel, then a small synthesis network (1x1 layers and one 3x3 convolution) that turns features
 * into RGB. Grids hold the places-tied parameters whose residual against the previous group is
 * zero where the picture does not change; the synthesis network is tiny, so decoding stays cheap.
 */
export interface GridLevel {
  /** Pixels per grid cell along x and y. */
  stride: number;
  channels: number;
  /** Time samples across the group (1 = static within the group, groupSize = one per frame). */
  frames: number;
}

export type Activation = 'gelu' | 'silu' | 'sine';

export interface ModelDescription {
  profile: string;
  width: number;
  height: number;
  groupSize: number;
  grids: GridLevel[];
  /** Widths of the 1x1 hidden layers of the synthesis network. */
  hidden: number[];
  activation: Activation;
  /** Size of the output layer's kernel: 3 (a 3x3 convolution to RGB) or 1 (a per-pixel layer). */
  outputKernel: 1 | 3;
}

export type TensorKind = 'grid' | 'weight' | 'bias';

export interface TensorSpec {
  name: string;
  kind: TensorKind;
  shape: number[];
  size: number;
}

export interface Profile {
  name: string;
  description: string;
  grids: (width: number, height: number, groupSize: number) => GridLevel[];
  hidden: number[];
  activation: Activation;
  outputKernel: 1 | 3;
}

export const PROFILES: Record<string, Profile> = {
  small: {
    name: 'small',
    // Fine levels hold detail and are shared by two frames (linear in time between samples); the
    // coarse levels are cheap enough to follow every frame's global changes.
    description: 'grids at stride 2 and 4 (a time sample every 2 frames) and 8 and 16 (every frame), 2 channels each; synthesis 8-24-24 then a 3x3 convolution to RGB: 1480 MACs/pixel',
    grids: (_w, _h, g) => [
      { stride: 2, channels: 2, frames: timeSamples(g, 2) },
      { stride: 4, channels: 2, frames: timeSamples(g, 2) },
      { stride: 8, channels: 2, frames: timeSamples(g, 1) },
      { stride: 16, channels: 2, frames: timeSamples(g, 1) },
    ],
    hidden: [24, 24],
    activation: 'gelu',
    outputKernel: 3,
  },
  pointwise: {
    name: 'pointwise',
    description: 'as small, but a per-pixel output layer instead of the 3x3 convolution: 904 MACs/pixel (the ablation)',
    grids: (w, h, g) => PROFILES.small.grids(w, h, g),
    hidden: [24, 24],
    activation: 'gelu',
    outputKernel: 1,
  },
};

/** Time samples for a grid: one every `framesPerSample` frames, plus the end point. */
function timeSamples(groupSize: number, framesPerSample: number): number {
  return Math.max(1, Math.min(groupSize, Math.ceil((groupSize - 1) / framesPerSample) + 1));
}

export const MAX_DIMENSION = 16384;

export function describeModel(width: number, height: number, groupSize: number, profileName = 'small'): ModelDescription {
  const profile = PROFILES[profileName];
  if (!profile) throw new BadArgumentError(`unknown model profile "${profileName}" (known: ${Object.keys(PROFILES).join(', ')})`);
  checkFrameSize(width, height);
  if (!Number.isInteger(groupSize) || groupSize < 1 || groupSize > 256) {
    throw new BadArgumentError(`group size must be an integer from 1 to 256, got ${groupSize}`);
  }
  return {
    profile: profile.name,
    width,
    height,
    groupSize,
    grids: profile.grids(width, height, groupSize),
    hidden: [...profile.hidden],
    activation: profile.activation,
    outputKernel: profile.outputKernel,
  };
}

export function checkFrameSize(width: number, height: number): void {
  for (const [name, value] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(value) || value < 2 || value > MAX_DIMENSION) {
      throw new BadArgumentError(`frame ${name} must be an integer from 2 to ${MAX_DIMENSION}, got ${value}`);
    }
  }
}

export function gridSize(level: GridLevel, width: number, height: number): { gw: number; gh: number } {
  return { gw: Math.max(2, Math.round(width / level.stride)), gh: Math.max(2, Math.round(height / level.stride)) };
}

/**
 * The sampling shape of every grid level for a batch of `n` frames: each level writes its channels
 * into its own slice of one feature tensor, in level order.
 */
export function gridSampleShapes(model: ModelDescription, n: number): GridSampleShape[] {
  const outChannels = featureChannels(model);
  let channelOffset = 0;
  return model.grids.map((level) => {
    const { gw, gh } = gridSize(level, model.width, model.height);
    const shape = { n, h: model.height, w: model.width, T: level.frames, Hg: gh, Wg: gw, C: level.channels, outChannels, channelOffset };
    channelOffset += level.channels;
    return shape;
  });
}

export function featureChannels(model: ModelDescription): number {
  return model.grids.reduce((sum, level) => sum + level.channels, 0);
}

/** Every parameter tensor, in the fixed order used by training, the file and the decoder. */
export function modelTensors(model: ModelDescription): TensorSpec[] {
  const tensors: TensorSpec[] = [];
  const add = (name: string, kind: TensorKind, shape: number[]) =>
    tensors.push({ name, kind, shape, size: shape.reduce((a, b) => a * b, 1) });
  model.grids.forEach((level, i) => {
    const { gw, gh } = gridSize(level, model.width, model.height);
    add(`grid${i}`, 'grid', [level.frames, gh, gw, level.channels]);
  });
  let inC = featureChannels(model);
  model.hidden.forEach((outC, i) => {
    add(`fc${i}.weight`, 'weight', [inC, outC]);
    add(`fc${i}.bias`, 'bias', [outC]);
    inC = outC;
  });
  add('out.weight', 'weight', model.outputKernel === 3 ? [3, 3, inC, 3] : [inC, 3]);
  add('out.bias', 'bias', [3]);
  return tensors;
}

/**
 * Strides along which a tensor's neighbouring symbols are alike, for the file writer's prediction:
 * a grid's previous time sample, left cell and upper cell. Other tensors have no such structure.
 */
export function predictionStrides(tensors: TensorSpec[]): number[][] {
  return tensors.map((t) => {
    if (t.kind !== 'grid') return [];
    const [frames, gh, gw, channels] = t.shape;
    return [...(frames > 1 ? [gh * gw * channels] : []), channels, gw * channels];
  });
}

export function parameterCount(model: ModelDescription): number {
  return modelTensors(model).reduce((sum, t) => sum + t.size, 0);
}

/** Multiply-accumulates per decoded pixel: trilinear grid taps plus the synthesis layers. */
export function macsPerPixel(model: ModelDescription): number {
  let macs = model.grids.reduce((sum, level) => sum + level.channels * (level.frames > 1 ? 8 : 4), 0);
  let inC = featureChannels(model);
  for (const outC of model.hidden) {
    macs += inC * outC;
    inC = outC;
  }
  return macs + model.outputKernel * model.outputKernel * inC * 3;
}

/** Grid time coordinate of frame `j` of a group (frames spread evenly over the grid's samples). */
export function gridTime(level: GridLevel, frameInGroup: number, groupSize: number): number {
  if (level.frames === 1 || groupSize === 1) return 0;
  return (frameInGroup * (level.frames - 1)) / (groupSize - 1);
}

/** Deterministic initial parameters: small random grids (so every layer gets a gradient at step 0), He-scaled layers. */
export function initialParameters(model: ModelDescription, seed: number): Float32Array[] {
  const random = mulberry32(seed);
  return modelTensors(model).map((spec) => {
    const values = new Float32Array(spec.size);
    if (spec.kind === 'grid') {
      for (let i = 0; i < values.length; i++) values[i] = (random() * 2 - 1) * 0.05;
    } else if (spec.kind === 'weight') {
      const fanIn = spec.shape.length === 2 ? spec.shape[0] : spec.shape[0] * spec.shape[1] * spec.shape[2];
      const scale = Math.sqrt(3 / fanIn);
      for (let i = 0; i < values.length; i++) values[i] = (random() * 2 - 1) * scale;
    } else if (spec.name === 'out.bias') {
      values.fill(0.5); // mid-grey: the first forward pass is already in range
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

/**
 * Checks an untrusted model description (from a file header) field by field and rebuilds it,
 * so nothing outside the known profile space reaches allocation.
 */
export function validateModel(value: unknown, frame: { width: number; height: number; groupSize: number }): ModelDescription {
  const fail = (why: string): never => {
    throw new NervError('FORMAT', `invalid model description: ${why}`);
  };
  if (typeof value !== 'object' || value === null) fail('not an object');
  const m = value as Record<string, unknown>;
  if (typeof m.profile !== 'string' || m.profile.length > 64) fail('profile');
  if (m.width !== frame.width || m.height !== frame.height || m.groupSize !== frame.groupSize) fail('size differs from the header');
  const activation = m.activation;
  if (activation !== 'gelu' && activation !== 'silu' && activation !== 'sine') fail(`unknown activation ${String(activation)}`);
  const int = (v: unknown, lo: number, hi: number, what: string): number =>
    Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi ? (v as number) : fail(`${what} out of range`);
  if (!Array.isArray(m.grids) || m.grids.length < 1 || m.grids.length > 16) fail('grids');
  const grids = (m.grids as unknown[]).map((g, i) => {
    const level = (g ?? {}) as Record<string, unknown>;
    return {
      stride: int(level.stride, 1, 1024, `grid ${i} stride`),
      channels: int(level.channels, 1, 64, `grid ${i} channels`),
      frames: int(level.frames, 1, frame.groupSize, `grid ${i} frames`),
    };
  });
  if (!Array.isArray(m.hidden) || m.hidden.length < 1 || m.hidden.length > 8) fail('hidden layers');
  const hidden = (m.hidden as unknown[]).map((w, i) => int(w, 1, 256, `hidden layer ${i} width`));
  const outputKernel = m.outputKernel;
  if (outputKernel !== 1 && outputKernel !== 3) fail(`output kernel must be 1 or 3, got ${String(outputKernel)}`);
  return {
    profile: m.profile as string, width: frame.width, height: frame.height, groupSize: frame.groupSize,
    grids, hidden, activation: activation as Activation, outputKernel: outputKernel as 1 | 3,
  };
}
