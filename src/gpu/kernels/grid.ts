// Learned feature grid [T, Hg, Wg, C] sampled trilinearly at pixel coordinates and frame times.
import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats, requireNonNegativeInteger, requirePositiveIntegers } from './shape-checks.ts';
import type { GridSampleShape } from '../../cpu/grid.ts';

export type { GridSampleShape } from '../../cpu/grid.ts';

const WORKGROUP = 64;

function checkShape(kernel: string, shape: GridSampleShape): void {
  const { n, h, w, T, Hg, Wg, C, outChannels, channelOffset } = shape;
  requirePositiveIntegers(kernel, { n, h, w, T, Hg, Wg, C, outChannels });
  requireNonNegativeInteger(kernel, 'channelOffset', channelOffset);
  if (channelOffset + C > outChannels) {
    throw new NervError('BAD_ARGUMENT', `${kernel}: channels [${channelOffset}, ${channelOffset + C}) exceed outChannels ${outChannels}`);
  }
  // The shaders form (2p + 1) * gridSize in u32 and window bounds in i32.
  if ((2 * Math.max(h, w) + 3) * Math.max(Hg, Wg) >= 2 ** 31) throw new NervError('BAD_ARGUMENT', `${kernel}: image or grid too large`);
}

function defines(shape: GridSampleShape) {
  const { n, h, w, T, Hg, Wg, C, outChannels, channelOffset } = shape;
  return { N: n, H: h, W: w, T, HG: Hg, WG: Wg, C, OUT_C: outChannels, OFFSET: channelOffset };
}

/**
 * Writes the grid sampled at every pixel of frame j (time coordinate times[j] in [0, T-1]) into
 * channels [channelOffset, channelOffset + C) of y [n, h, w, outChannels]; other channels are untouched.
 */
export function gridSampleForward(
  ctx: GpuContext,
  shape: GridSampleShape,
  buffers: { grid: GPUBuffer; times: GPUBuffer; y: GPUBuffer },
): GpuProgram {
  const kernel = 'gridSampleForward';
  checkShape(kernel, shape);
  const { n, h, w, T, Hg, Wg, C, outChannels } = shape;
  requireBufferFloats(kernel, 'grid', buffers.grid, T * Hg * Wg * C);
  requireBufferFloats(kernel, 'times', buffers.times, n);
  requireBufferFloats(kernel, 'y', buffers.y, n * h * w * outChannels);
  const pipeline = ctx.pipeline('grid_forward', defines(shape));
  return ctx.dispatch(pipeline, [buffers.grid, buffers.times, buffers.y], [divUp(n * h * w, WORKGROUP)]);
}

/**
 * dgrid (overwritten) = gradient w.r.t. the grid of a loss whose gradient w.r.t. y is dy (read from the
 * same channel slice). A gather: each grid cell sums its pixel window, so no atomics and a fixed order.
 */
export function gridSampleBackward(
  ctx: GpuContext,
  shape: GridSampleShape,
  buffers: { dy: GPUBuffer; times: GPUBuffer; dgrid: GPUBuffer },
): GpuProgram {
  const kernel = 'gridSampleBackward';
  checkShape(kernel, shape);
  const { n, h, w, T, Hg, Wg, C, outChannels } = shape;
  requireBufferFloats(kernel, 'dy', buffers.dy, n * h * w * outChannels);
  requireBufferFloats(kernel, 'times', buffers.times, n);
  requireBufferFloats(kernel, 'dgrid', buffers.dgrid, T * Hg * Wg * C);
  const channelsPerJob = Math.min(4, C);
  const pipeline = ctx.pipeline('grid_backward', { ...defines(shape), CG: channelsPerJob });
  const jobs = T * Hg * Wg * divUp(C, channelsPerJob);
  return ctx.dispatch(pipeline, [buffers.dy, buffers.times, buffers.dgrid], [divUp(jobs, WORKGROUP)]);
}
