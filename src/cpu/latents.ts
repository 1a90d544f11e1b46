// CPU references for the latent ops: bilinear upsampling of the latent pyramid to the pixel grid,
// the context gather of the entropy model (and its gradient, gathered from every consumer), the
// rate of a latent under the predicted Laplace, and the quantization proxies used in training.
// The WGSL kernels in shaders/latent_*.wgsl and shaders/arm_*.wgsl compute the same thing.
import { NervError } from '../errors.ts';
import { ARM_LOG_SCALE_SHIFT, type ContextSchedule, type ContextTap, type LatentLevel } from '../nn/model.ts';

/** Latent pyramid of one frame size. A buffer of latents holds whole frames of `perFrame` values. */
export interface LatentGeometry {
  width: number;
  height: number;
  levels: LatentLevel[];
  perFrame: number;
}

export function latentGeometry(width: number, height: number, levels: LatentLevel[]): LatentGeometry {
  return { width, height, levels, perFrame: levels.reduce((sum, l) => sum + l.size, 0) };
}

export interface AxisTap {
  i0: number;
  i1: number;
  /** Weight of i1. */
  f: number;
}

/** Half-pixel-centred mapping of pixel p onto a level of stride s (a power of two, so exact in f32): g = (p + 0.5) / s - 0.5. */
export function latentAxisTap(p: number, stride: number, size: number): AxisTap {
  const g = Math.min(Math.max((p + 0.5) / stride - 0.5, 0), size - 1);
  const i0 = Math.floor(g);
  return { i0, i1: Math.min(i0 + 1, size - 1), f: g - i0 };
}

/** Level l of frame j, sampled at every pixel: features [frames, height, width, L] (level order). */
export function upsampleLatentsCpu(geom: LatentGeometry, latents: Float32Array, frames: number): Float32Array {
  const { width: W, height: H, levels, perFrame } = geom;
  const L = levels.length;
  if (latents.length < frames * perFrame) throw new NervError('BAD_ARGUMENT', 'upsampleLatents: latents shorter than frames * perFrame');
  const out = new Float32Array(frames * H * W * L);
  for (let l = 0; l < L; l++) {
    const level = levels[l];
    const xTaps = Array.from({ length: W }, (_, x) => latentAxisTap(x, level.stride, level.width));
    for (let j = 0; j < frames; j++) {
      const base = j * perFrame + level.offset;
      for (let y = 0; y < H; y++) {
        const ty = latentAxisTap(y, level.stride, level.height);
        const r0 = base + ty.i0 * level.width;
        const r1 = base + ty.i1 * level.width;
        for (let x = 0; x < W; x++) {
          const tx = xTaps[x];
          const top = latents[r0 + tx.i0] + tx.f * (latents[r0 + tx.i1] - latents[r0 + tx.i0]);
          const bottom = latents[r1 + tx.i0] + tx.f * (latents[r1 + tx.i1] - latents[r1 + tx.i0]);
          out[((j * H + y) * W + x) * L + l] = top + ty.f * (bottom - top);
        }
      }
    }
  }
  return out;
}

/** Gradient of upsampleLatentsCpu: every pixel's dF scattered to its (up to) four latents. */
export function upsampleLatentsBackwardCpu(geom: LatentGeometry, dFeatures: Float32Array, frames: number): Float32Array {
  const { width: W, height: H, levels, perFrame } = geom;
  const L = levels.length;
  const out = new Float64Array(frames * perFrame);
  for (let l = 0; l < L; l++) {
    const level = levels[l];
    for (let j = 0; j < frames; j++) {
      const base = j * perFrame + level.offset;
      for (let y = 0; y < H; y++) {
        const ty = latentAxisTap(y, level.stride, level.height);
        for (let x = 0; x < W; x++) {
          const tx = latentAxisTap(x, level.stride, level.width);
          const d = dFeatures[((j * H + y) * W + x) * L + l];
          const r0 = base + ty.i0 * level.width;
          const r1 = base + ty.i1 * level.width;
          out[r0 + tx.i0] += d * (1 - ty.f) * (1 - tx.f);
          out[r0 + tx.i1] += d * (1 - ty.f) * tx.f;
          out[r1 + tx.i0] += d * ty.f * (1 - tx.f);
          out[r1 + tx.i1] += d * ty.f * tx.f;
        }
      }
    }
  }
  return Float32Array.from(out);
}

// ------------------------------------------------------------------------------ context model

/** Where latent `index` (counted from the start of its frame) sits: level, row, column. */
export interface LatentPosition {
  level: number;
  y: number;
  x: number;
}

export function latentPosition(geom: LatentGeometry, index: number): LatentPosition {
  let level = geom.levels.length - 1;
  while (geom.levels[level].offset > index) level--;
  const info = geom.levels[level];
  const r = index - info.offset;
  return { level, y: Math.floor(r / info.width), x: r % info.width };
}

export interface ContextSpec {
  taps: ContextTap[];
  schedule: ContextSchedule;
}

/** A checkerboard anchor is decoded in the level's first pass, with no 'current' context. */
export function isAnchor(schedule: ContextSchedule, y: number, x: number): boolean {
  return schedule === 'checkerboard' && ((x + y) & 1) === 0;
}

/** Does a latent at (y, x) read its 'current' taps? (Anchors of a checkerboard do not.) */
function readsCurrent(schedule: ContextSchedule, y: number, x: number): boolean {
  return !isAnchor(schedule, y, x);
}

/**
 * Flat index (into a buffer of whole frames) of what tap `tap` of the latent at `frame`/`pos` reads,
 * or -1 when it reads 0 (outside the grid, no coarser level, no previous frame, or not decoded yet).
 */
export function tapSource(geom: LatentGeometry, spec: ContextSpec, frame: number, pos: LatentPosition, tap: ContextTap, previousValid: boolean): number {
  const { levels, perFrame } = geom;
  // A tap's frame (this one or the previous) and its level (this one or the next coarser) are independent.
  const fromPrevious = tap.from === 'previous' || tap.from === 'previous-parent';
  const fromParent = tap.from === 'parent' || tap.from === 'previous-parent';
  if (tap.from === 'current' && !readsCurrent(spec.schedule, pos.y, pos.x)) return -1;
  const f = fromPrevious ? frame - 1 : frame;
  if (fromPrevious && (f < 0 || (f === 0 && !previousValid))) return -1;
  const level = fromParent ? pos.level + 1 : pos.level;
  if (level >= levels.length) return -1;
  const y = (fromParent ? pos.y >> 1 : pos.y) + tap.dy;
  const x = (fromParent ? pos.x >> 1 : pos.x) + tap.dx;
  const info = levels[level];
  if (y < 0 || y >= info.height || x < 0 || x >= info.width) return -1;
  return f * perFrame + info.offset + y * info.width + x;
}

/**
 * Context rows of the entropy model for the latents of frames [first, first + count) of a buffer
 * whose frame 0 holds the previous group's last frame (valid when `previousValid`): per latent the
 * tap values, then the flags "anchor" and "no previous frame". ctx [count * perFrame, taps + 2].
 */
export function armContextCpu(
  geom: LatentGeometry,
  spec: ContextSpec,
  latents: Float32Array,
  first: number,
  count: number,
  previousValid: boolean,
): Float32Array {
  const D = spec.taps.length + 2;
  const n = count * geom.perFrame;
  const ctx = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const frame = first + Math.floor(i / geom.perFrame);
    const pos = latentPosition(geom, i % geom.perFrame);
    spec.taps.forEach((tap, k) => {
      const source = tapSource(geom, spec, frame, pos, tap, previousValid);
      ctx[i * D + k] = source < 0 ? 0 : latents[source];
    });
    ctx[i * D + spec.taps.length] = isAnchor(spec.schedule, pos.y, pos.x) ? 1 : 0;
    ctx[i * D + spec.taps.length + 1] = frame - 1 === 0 && !previousValid ? 1 : 0;
  }
  return ctx;
}

/**
 * Gradient of armContextCpu with respect to the slot's latents: each latent sums dctx over every
 * consumer in the slot that reads it (the previous frame's latents, outside the slot, get none).
 */
export function armContextBackwardCpu(
  geom: LatentGeometry,
  spec: ContextSpec,
  dctx: Float32Array,
  first: number,
  count: number,
  previousValid: boolean,
): Float32Array {
  const D = spec.taps.length + 2;
  const n = count * geom.perFrame;
  const out = new Float64Array(n);
  const slotStart = first * geom.perFrame;
  for (let i = 0; i < n; i++) {
    const frame = first + Math.floor(i / geom.perFrame);
    const pos = latentPosition(geom, i % geom.perFrame);
    spec.taps.forEach((tap, k) => {
      const source = tapSource(geom, spec, frame, pos, tap, previousValid) - slotStart;
      if (source >= 0 && source < n) out[source] += dctx[i * D + k];
    });
  }
  return Float32Array.from(out);
}

// ------------------------------------------------------------------------------------- rate

/** Scales are clamped to exp([LOG_SCALE_MIN, LOG_SCALE_MAX]) in training and in the integer model alike. */
export const LOG_SCALE_MIN = -5;
export const LOG_SCALE_MAX = 5;
/** Probability floor of the rate estimate (the coder cannot spend much more than 16 bits on an outlier). */
export const RATE_PROBABILITY_FLOOR = 2 ** -16;

export interface LaplaceBits {
  bits: number;
  /** d bits / d x, d bits / d mu, d bits / d (log b). */
  dx: number;
  dMu: number;
  dLogScale: number;
}

/** Bits of the integer bin around x under Laplace(mu, exp(logScale)), and the gradients. */
export function laplaceBits(x: number, mu: number, rawLogScale: number): LaplaceBits {
  const logScale = Math.min(Math.max(rawLogScale, LOG_SCALE_MIN), LOG_SCALE_MAX);
  const inside = rawLogScale > LOG_SCALE_MIN && rawLogScale < LOG_SCALE_MAX;
  const b = Math.exp(logScale);
  const r = x - mu;
  const a = Math.abs(r);
  let p: number;
  let dPdr: number;
  let dPdb: number;
  if (a >= 0.5) {
    const decay = Math.exp(-1 / b);
    p = 0.5 * Math.exp(-(a - 0.5) / b) * (1 - decay);
    // log p = log 0.5 - (a - 0.5) / b + log(1 - e^{-1/b})
    dPdr = (-Math.sign(r) / b) * p;
    dPdb = ((a - 0.5) / (b * b) - decay / (b * b * (1 - decay))) * p;
  } else {
    const upper = 0.5 * Math.exp(-(0.5 - r) / b);
    const lower = 0.5 * Math.exp(-(0.5 + r) / b);
    p = 1 - upper - lower;
    dPdr = (lower - upper) / b;
    dPdb = -(upper * (0.5 - r) + lower * (0.5 + r)) / (b * b);
  }
  if (!(p > RATE_PROBABILITY_FLOOR)) return { bits: -Math.log2(RATE_PROBABILITY_FLOOR), dx: 0, dMu: 0, dLogScale: 0 };
  const dBitsdP = -1 / (p * Math.LN2);
  const dr = dBitsdP * dPdr;
  return { bits: -Math.log2(p), dx: dr, dMu: -dr, dLogScale: inside ? dBitsdP * dPdb * b : 0 };
}

/**
 * Rate of every latent of a slot under the ARM's prediction (MLP output + linear path, [n, 2] each:
 * mu and log-scale before the shift). Returns the total bits and, scaled by `gradScale` (lambda /
 * pixels), the gradient with respect to both outputs and to the latents themselves.
 */
export function latentRateCpu(
  yhat: Float32Array,
  mlp: Float32Array,
  linear: Float32Array,
  gradScale: number,
): { bits: number; dOut: Float32Array; dyhat: Float32Array } {
  const n = yhat.length;
  if (mlp.length < 2 * n || linear.length < 2 * n) throw new NervError('BAD_ARGUMENT', 'latentRate: ARM outputs shorter than 2 * latents');
  const dOut = new Float32Array(2 * n);
  const dyhat = new Float32Array(n);
  let bits = 0;
  for (let i = 0; i < n; i++) {
    const mu = mlp[2 * i] + linear[2 * i];
    const logScale = mlp[2 * i + 1] + linear[2 * i + 1] + ARM_LOG_SCALE_SHIFT;
    const r = laplaceBits(yhat[i], mu, logScale);
    bits += r.bits;
    dOut[2 * i] = r.dMu * gradScale;
    dOut[2 * i + 1] = r.dLogScale * gradScale;
    dyhat[i] = r.dx * gradScale;
  }
  return { bits, dOut, dyhat };
}

// ------------------------------------------------------------------------------ quantization

/**
 * Training-time stand-ins for rounding: 'soft' = softround(softround(y, T) + noise, T) with Gaussian
 * noise (C3, Cool-chic), 'ste' = round(y) forward with softround's slope backward, 'hard' = round(y)
 * with no gradient (the final phase trains only the networks on the true symbols).
 */
export type QuantizeMode = 'soft' | 'ste' | 'hard';
export const QUANTIZE_MODE_CODES: Record<QuantizeMode, number> = { soft: 0, ste: 1, hard: 2 };

export interface QuantizeSettings {
  mode: QuantizeMode;
  temperature: number;
  noise: number;
  seed: number;
}

export function softRound(x: number, t: number): number {
  const floor = Math.floor(x);
  return floor + (0.5 * Math.tanh((x - floor - 0.5) / t)) / Math.tanh(1 / (2 * t)) + 0.5;
}

export function softRoundSlope(x: number, t: number): number {
  const th = Math.tanh((x - Math.floor(x) - 0.5) / t);
  return (0.5 * (1 - th * th)) / (t * Math.tanh(1 / (2 * t)));
}

/** 32-bit integer hash (lowbias32), the same in WGSL. */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Standard normal noise for latent `index` at `seed` (Box-Muller on two hashed uniforms in (0, 1)). */
export function gaussianNoise(index: number, seed: number): number {
  const a = hash32((Math.imul(index, 2) ^ Math.imul(seed, 0x9e3779b9)) >>> 0);
  const b = hash32((Math.imul(index, 2) + 1) ^ hash32(seed >>> 0));
  const u1 = Math.fround(((a >>> 8) + 0.5) / 16777216);
  const u2 = Math.fround(((b >>> 8) + 0.5) / 16777216);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Rounds half away from zero: the symbol rule of the encoder. */
export function roundSymbol(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/** yhat and d yhat / d y for a slot of latents; `offset` is the slot's first index (noise is per absolute index). */
export function latentQuantizeCpu(y: Float32Array, settings: QuantizeSettings, offset = 0): { yhat: Float32Array; slope: Float32Array } {
  const yhat = new Float32Array(y.length);
  const slope = new Float32Array(y.length);
  const t = settings.temperature;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (settings.mode === 'soft') {
      const s1 = softRound(v, t);
      const noisy = s1 + settings.noise * gaussianNoise(offset + i, settings.seed);
      yhat[i] = softRound(noisy, t);
      slope[i] = softRoundSlope(noisy, t) * softRoundSlope(v, t);
    } else {
      yhat[i] = roundSymbol(v);
      slope[i] = settings.mode === 'ste' ? softRoundSlope(v, t) : 0;
    }
  }
  return { yhat, slope };
}

// ------------------------------------------------------------------------------------ loss

/**
 * Distortion of a batch of synthesized frames [n, H, W, 3] against the source, in the video's own
 * colour space. 'yuv420': (6 MSE_Y + MSE_Cb + MSE_Cr) / 8 where chroma is the 2x2 average of the
 * synthesized full-resolution Cb/Cr (fewer pixels at odd edges) against the source's half-size
 * planes; 'rgb': the mean of the three channels' MSE. Targets: planar, per frame Y (H*W) then Cb,
 * Cr (ceil(H/2)*ceil(W/2) each) for yuv420; interleaved RGB for rgb. Values on the [0, 1] scale.
 */
export function colourLossCpu(
  colour: 'yuv420' | 'rgb',
  shape: { n: number; height: number; width: number },
  pred: Float32Array,
  target: Float32Array,
  gradScale = 1,
): { loss: number; grad: Float32Array } {
  const { n, height: H, width: W } = shape;
  const grad = new Float32Array(n * H * W * 3);
  let loss = 0;
  if (colour === 'rgb') {
    const count = n * H * W * 3;
    for (let i = 0; i < count; i++) {
      const d = pred[i] - target[i];
      loss += (d * d) / count;
      grad[i] = ((2 * d) / count) * gradScale;
    }
    return { loss, grad };
  }
  const cw = Math.ceil(W / 2);
  const ch = Math.ceil(H / 2);
  const frameSize = H * W + 2 * cw * ch;
  const lumaWeight = 6 / 8 / (n * H * W);
  const chromaWeight = 1 / 8 / (n * cw * ch);
  for (let j = 0; j < n; j++) {
    const t0 = j * frameSize;
    for (let p = 0; p < H * W; p++) {
      const d = pred[(j * H * W + p) * 3] - target[t0 + p];
      loss += lumaWeight * d * d;
      grad[(j * H * W + p) * 3] = 2 * lumaWeight * d * gradScale;
    }
    for (let c = 1; c <= 2; c++) {
      const plane = t0 + H * W + (c - 1) * cw * ch;
      for (let cy = 0; cy < ch; cy++) {
        for (let cx = 0; cx < cw; cx++) {
          const ys = [2 * cy, 2 * cy + 1].filter((y) => y < H);
          const xs = [2 * cx, 2 * cx + 1].filter((x) => x < W);
          let sum = 0;
          for (const y of ys) for (const x of xs) sum += pred[((j * H + y) * W + x) * 3 + c];
          const count = ys.length * xs.length;
          const d = sum / count - target[plane + cy * cw + cx];
          loss += chromaWeight * d * d;
          for (const y of ys) for (const x of xs) grad[((j * H + y) * W + x) * 3 + c] = ((2 * chromaWeight * d) / count) * gradScale;
        }
      }
    }
  }
  return { loss, grad };
}
