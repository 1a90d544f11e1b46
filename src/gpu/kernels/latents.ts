// Programs for the latent ops (shaders/latent_*.wgsl, arm_context.wgsl, colour_loss.wgsl,
// reduce_sum.wgsl); their CPU twins are in src/cpu/latents.ts.
import { specializeShader, type GpuContext, type GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { invocationGrid } from './activation.ts';
import { LOG_SCALE_MAX, LOG_SCALE_MIN, QUANTIZE_MODE_CODES, type ContextSpec, type LatentGeometry, type QuantizeSettings } from '../../cpu/latents.ts';
import { ARM_LOG_SCALE_SHIFT } from '../../nn/model.ts';

/** Sizes of the uniform tables the shaders declare. */
const MAX_LEVELS = 12;
const MAX_TAPS = 32;
const TAP_SOURCE_CODES = { current: 0, previous: 1, parent: 2, 'previous-parent': 3 } as const;

/** The level table (stride, width, height, offset per level) as the shaders' uniform array<Level, 12>. */
export function levelsUniform(ctx: GpuContext, geom: LatentGeometry): GPUBuffer {
  if (geom.levels.length > MAX_LEVELS) throw new NervError('BAD_ARGUMENT', `at most ${MAX_LEVELS} latent levels`);
  const words = new Uint32Array(MAX_LEVELS * 4);
  geom.levels.forEach((l, i) => words.set([l.stride, l.width, l.height, l.offset], i * 4));
  return ctx.upload(words, 'latent levels');
}

export function tapsUniform(ctx: GpuContext, spec: ContextSpec): GPUBuffer {
  if (spec.taps.length > MAX_TAPS) throw new NervError('BAD_ARGUMENT', `at most ${MAX_TAPS} context taps`);
  const words = new Int32Array(MAX_TAPS * 4);
  spec.taps.forEach((t, i) => words.set([TAP_SOURCE_CODES[t.from], t.dy, t.dx, 0], i * 4));
  return ctx.upload(words, 'context taps');
}

/** Which frames a dispatch covers: frames [first, first + count) of the latent buffer. */
export interface SlotInfo {
  first: number;
  count: number;
  /** Frame 0 holds a real previous frame (a predicted group), not zeros (a key group). */
  previousValid: boolean;
}

export function slotWords(slot: SlotInfo): Uint32Array {
  requirePositiveIntegers('slot', { first: slot.first, count: slot.count });
  return Uint32Array.of(slot.first, slot.count, slot.previousValid ? 1 : 0, 0);
}

export function quantizeWords(settings: QuantizeSettings): ArrayBuffer {
  const buffer = new ArrayBuffer(16);
  const view = new DataView(buffer);
  view.setUint32(0, QUANTIZE_MODE_CODES[settings.mode], true);
  view.setFloat32(4, settings.temperature, true);
  view.setFloat32(8, settings.noise, true);
  view.setUint32(12, settings.seed >>> 0, true);
  return buffer;
}

function latentCount(kernel: string, geom: LatentGeometry, frames: number): number {
  requirePositiveIntegers(kernel, { frames, perFrame: geom.perFrame, width: geom.width, height: geom.height });
  return frames * geom.perFrame;
}

/** The override constants latent_upsample and its backward share. */
function upsampleConstants(geom: LatentGeometry, frames: number, gridX: number) {
  return { WIDTH: geom.width, HEIGHT: geom.height, FRAMES: frames, LEVELS: geom.levels.length, PER_FRAME: geom.perFrame, GRID_X: gridX };
}

/** features [frames * H * W, L] from frames [slot.first, slot.first + frames) of `latents`. */
export function latentUpsample(
  ctx: GpuContext,
  geom: LatentGeometry,
  frames: number,
  buffers: { latents: GPUBuffer; levels: GPUBuffer; slot: GPUBuffer; features: GPUBuffer },
): GpuProgram {
  const kernel = 'latentUpsample';
  latentCount(kernel, geom, frames);
  const pixels = frames * geom.width * geom.height;
  requireBufferFloats(kernel, 'features', buffers.features, pixels * geom.levels.length);
  const grid = invocationGrid(ctx, pixels);
  const pipeline = ctx.pipeline('latent_upsample', {}, 'main', upsampleConstants(geom, frames, grid.gridX));
  return ctx.dispatch(pipeline, [buffers.latents, buffers.levels, buffers.slot, buffers.features], grid.workgroups);
}

/** dLatents [frames * perFrame] (slot-relative) from dFeatures [frames * H * W, L]. */
export function latentUpsampleBackward(
  ctx: GpuContext,
  geom: LatentGeometry,
  frames: number,
  buffers: { dFeatures: GPUBuffer; levels: GPUBuffer; dLatents: GPUBuffer },
): GpuProgram {
  const kernel = 'latentUpsampleBackward';
  const n = latentCount(kernel, geom, frames);
  requireBufferFloats(kernel, 'dFeatures', buffers.dFeatures, frames * geom.width * geom.height * geom.levels.length);
  requireBufferFloats(kernel, 'dLatents', buffers.dLatents, n);
  const grid = invocationGrid(ctx, n);
  const pipeline = ctx.pipeline('latent_upsample_backward', {}, 'main', upsampleConstants(geom, frames, grid.gridX));
  return ctx.dispatch(pipeline, [buffers.dFeatures, buffers.levels, buffers.dLatents], grid.workgroups);
}

function contextConstants(geom: LatentGeometry, spec: ContextSpec, gridX: number) {
  return { LEVELS: geom.levels.length, TAPS: spec.taps.length, PER_FRAME: geom.perFrame, RASTER: spec.schedule === 'raster' ? 1 : 0, GRID_X: gridX };
}

/** ctx [frames * perFrame, taps + 2]: the entropy model's input rows for the slot's latents. */
export function armContext(
  ctx: GpuContext,
  geom: LatentGeometry,
  spec: ContextSpec,
  frames: number,
  buffers: { latents: GPUBuffer; levels: GPUBuffer; taps: GPUBuffer; slot: GPUBuffer; context: GPUBuffer },
): GpuProgram {
  const kernel = 'armContext';
  const n = latentCount(kernel, geom, frames);
  requireBufferFloats(kernel, 'context', buffers.context, n * (spec.taps.length + 2));
  const grid = invocationGrid(ctx, n);
  const pipeline = ctx.pipeline('arm_context', {}, 'main', contextConstants(geom, spec, grid.gridX));
  return ctx.dispatch(pipeline, [buffers.latents, buffers.levels, buffers.taps, buffers.slot, buffers.context], grid.workgroups);
}

/** grad = slope * (dDistortion + dRate + what the consumers' context rows send back), slot-relative. */
export function latentGradient(
  ctx: GpuContext,
  geom: LatentGeometry,
  spec: ContextSpec,
  frames: number,
  buffers: {
    dDistortion: GPUBuffer;
    dRate: GPUBuffer;
    dctxA: GPUBuffer;
    dctxB: GPUBuffer;
    slope: GPUBuffer;
    levels: GPUBuffer;
    taps: GPUBuffer;
    slot: GPUBuffer;
    grad: GPUBuffer;
  },
): GpuProgram {
  const kernel = 'latentGradient';
  const n = latentCount(kernel, geom, frames);
  for (const name of ['dDistortion', 'dRate', 'slope', 'grad'] as const) requireBufferFloats(kernel, name, buffers[name], n);
  for (const name of ['dctxA', 'dctxB'] as const) requireBufferFloats(kernel, name, buffers[name], n * (spec.taps.length + 2));
  const grid = invocationGrid(ctx, n);
  const pipeline = ctx.pipeline('latent_gradient', {}, 'main', contextConstants(geom, spec, grid.gridX));
  const b = buffers;
  return ctx.dispatch(pipeline, [b.dDistortion, b.dRate, b.dctxA, b.dctxB, b.slope, b.levels, b.taps, b.slot, b.grad], grid.workgroups);
}

/** WGSL of laplaceRate(x, mu, rawLog) -> (bits, d bits / d x, d bits / d log-scale): shaders/laplace_rate.wgsl. */
export function laplaceRateSource(): string {
  return specializeShader('laplace_rate', {});
}

/** Latents per rate invocation: enough that the single-thread final sum stays short. */
const RATE_CHUNK = 16;

/**
 * Bits of the slot's latents under the model's Laplace; writes dOut [n, 2], dRate [n] (scaled by
 * the `rate` uniform's lambda / pixels) and the total bits into stats[statIndex].
 */
export function latentRate(
  ctx: GpuContext,
  geom: LatentGeometry,
  frames: number,
  buffers: { yhat: GPUBuffer; mlp: GPUBuffer; linear: GPUBuffer; slot: GPUBuffer; rate: GPUBuffer; dOut: GPUBuffer; dRate: GPUBuffer; stats: GPUBuffer },
  statIndex: number,
): GpuProgram {
  const kernel = 'latentRate';
  const n = latentCount(kernel, geom, frames);
  for (const name of ['mlp', 'linear', 'dOut'] as const) requireBufferFloats(kernel, name, buffers[name], 2 * n);
  requireBufferFloats(kernel, 'dRate', buffers.dRate, n);
  requireBufferFloats(kernel, 'stats', buffers.stats, statIndex + 1);
  const partials = Math.ceil(n / RATE_CHUNK);
  const partial = ctx.buffer(partials, 'rate partial sums');
  const grid = invocationGrid(ctx, partials);
  const pipeline = ctx.pipeline('latent_rate', { LAPLACE_RATE: laplaceRateSource() }, 'main', {
    PER_FRAME: geom.perFrame,
    CHUNK: RATE_CHUNK,
    PARTIALS: partials,
    GRID_X: grid.gridX,
    LOG_SCALE_SHIFT: ARM_LOG_SCALE_SHIFT,
    LOG_SCALE_MIN,
    LOG_SCALE_MAX,
  });
  const b = buffers;
  const first = ctx.dispatch(pipeline, [b.yhat, b.mlp, b.linear, b.slot, b.rate, b.dOut, b.dRate, partial], grid.workgroups);
  const second = reduceSum(ctx, partial, partials, buffers.stats, statIndex, 1);
  return {
    record: (pass) => {
      first.record(pass);
      second.record(pass);
    },
  };
}

/**
 * yhat (whole buffer, frames [first, first + frames) written) and slope from y (both slot-relative)
 * under the `settings` uniform; `first` must be the slot uniform's (it sizes the check on yhat).
 */
export function latentQuantize(
  ctx: GpuContext,
  geom: LatentGeometry,
  frames: number,
  buffers: { y: GPUBuffer; settings: GPUBuffer; slot: GPUBuffer; yhat: GPUBuffer; slope: GPUBuffer },
  first = 1,
): GpuProgram {
  const kernel = 'latentQuantize';
  const n = latentCount(kernel, geom, frames);
  requireBufferFloats(kernel, 'y', buffers.y, n);
  requireBufferFloats(kernel, 'slope', buffers.slope, n);
  requireBufferFloats(kernel, 'yhat', buffers.yhat, (first + frames) * geom.perFrame);
  if (buffers.y === buffers.yhat) throw new NervError('BAD_ARGUMENT', `${kernel}: y and yhat must be different buffers`);
  const grid = invocationGrid(ctx, n);
  const pipeline = ctx.pipeline('latent_quantize', {}, 'main', { PER_FRAME: geom.perFrame, GRID_X: grid.gridX });
  return ctx.dispatch(pipeline, [buffers.y, buffers.settings, buffers.slot, buffers.yhat, buffers.slope], grid.workgroups);
}

export interface ColourLossShape {
  colour: 'yuv420' | 'rgb';
  frames: number;
  width: number;
  height: number;
}

/** Floats of one frame of targets: planar Y, Cb, Cr (4:2:0) or interleaved RGB. */
export function targetFloatsPerFrame(shape: Pick<ColourLossShape, 'colour' | 'width' | 'height'>): number {
  const { width: W, height: H } = shape;
  return shape.colour === 'yuv420' ? W * H + 2 * Math.ceil(W / 2) * Math.ceil(H / 2) : 3 * W * H;
}

/** grad [frames, H, W, 3] and the distortion into stats[statIndex] (see colourLossCpu). */
export function colourLoss(
  ctx: GpuContext,
  shape: ColourLossShape,
  buffers: { pred: GPUBuffer; target: GPUBuffer; grad: GPUBuffer; stats: GPUBuffer },
  statIndex: number,
): GpuProgram {
  const kernel = 'colourLoss';
  const { frames: n, width: W, height: H } = shape;
  requirePositiveIntegers(kernel, { frames: n, width: W, height: H });
  requireBufferFloats(kernel, 'pred', buffers.pred, n * H * W * 3);
  requireBufferFloats(kernel, 'grad', buffers.grad, n * H * W * 3);
  requireBufferFloats(kernel, 'target', buffers.target, n * targetFloatsPerFrame(shape));
  requireBufferFloats(kernel, 'stats', buffers.stats, statIndex + 1);
  const yuv = shape.colour === 'yuv420';
  const cw = Math.ceil(W / 2);
  const ch = Math.ceil(H / 2);
  const partials = n * ch;
  const partial = ctx.buffer(partials, 'loss partial sums');
  const grid = invocationGrid(ctx, partials);
  const pipeline = ctx.pipeline('colour_loss', {}, 'main', {
    WIDTH: W,
    HEIGHT: H,
    FRAMES: n,
    YUV420: yuv ? 1 : 0,
    LUMA_WEIGHT: yuv ? 6 / 8 / (n * H * W) : 1 / (3 * n * H * W),
    CHROMA_WEIGHT: yuv ? 1 / 8 / (n * cw * ch) : 0,
    GRID_X: grid.gridX,
  });
  const first = ctx.dispatch(pipeline, [buffers.pred, buffers.target, buffers.grad, partial], grid.workgroups);
  const second = reduceSum(ctx, partial, partials, buffers.stats, statIndex, 1);
  return {
    record: (pass) => {
      first.record(pass);
      second.record(pass);
    },
  };
}

/** out[index] = scale * sum(partial[0 .. count)), in index order. */
export function reduceSum(ctx: GpuContext, partial: GPUBuffer, count: number, out: GPUBuffer, index: number, scale: number): GpuProgram {
  const pipeline = ctx.pipeline('reduce_sum', {}, 'main', { PARTIALS: count, INDEX: index, SCALE: scale });
  return ctx.dispatch(pipeline, [partial, out], [1]);
}
