// Bilinear upsampling by an integer factor (align_corners=false), NHWC, with a gather backward.
import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import type { UpsampleShape } from '../../cpu/upsample.ts';

export type { UpsampleShape } from '../../cpu/upsample.ts';

const WORKGROUP = 64;

function prepare(kernel: string, shape: UpsampleShape) {
  const { n, h, w, c, factor } = shape;
  requirePositiveIntegers(kernel, { n, h, w, c, factor });
  return {
    inputFloats: n * h * w * c,
    outputFloats: n * h * factor * w * factor * c,
    defines: { N: n, H: h, W: w, C: c, S: factor },
  };
}

/** y [n,h*s,w*s,c] = bilinear upsampling of x [n,h,w,c]. */
export function upsampleBilinearForward(ctx: GpuContext, shape: UpsampleShape, buffers: { x: GPUBuffer; y: GPUBuffer }): GpuProgram {
  const kernel = 'upsampleBilinearForward';
  const { inputFloats, outputFloats, defines } = prepare(kernel, shape);
  requireBufferFloats(kernel, 'x', buffers.x, inputFloats);
  requireBufferFloats(kernel, 'y', buffers.y, outputFloats);
  return ctx.dispatch(ctx.pipeline('upsample_forward', defines), [buffers.x, buffers.y], [divUp(outputFloats / shape.c, WORKGROUP)]);
}

/** dx (overwritten) [n,h,w,c] from dy [n,h*s,w*s,c], gathered per input pixel (deterministic, no atomics). */
export function upsampleBilinearBackward(ctx: GpuContext, shape: UpsampleShape, buffers: { dy: GPUBuffer; dx: GPUBuffer }): GpuProgram {
  const kernel = 'upsampleBilinearBackward';
  const { inputFloats, outputFloats, defines } = prepare(kernel, shape);
  requireBufferFloats(kernel, 'dy', buffers.dy, outputFloats);
  requireBufferFloats(kernel, 'dx', buffers.dx, inputFloats);
  const channelsPerJob = Math.min(4, shape.c);
  const jobs = (inputFloats / shape.c) * divUp(shape.c, channelsPerJob);
  return ctx.dispatch(ctx.pipeline('upsample_backward', { ...defines, CG: channelsPerJob }), [buffers.dy, buffers.dx], [divUp(jobs, WORKGROUP)]);
}
