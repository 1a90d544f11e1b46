// Pixel shuffle (depth to space) x [n,h,w,c*r*r] -> y [n,h*r,w*r,c] in PyTorch's channel order.
import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import type { PixelShuffleShape } from '../../cpu/pixel_shuffle.ts';

export type { PixelShuffleShape } from '../../cpu/pixel_shuffle.ts';

const WORKGROUP = 64;

function prepare(kernel: string, shape: PixelShuffleShape) {
  const { n, h, w, c, r } = shape;
  requirePositiveIntegers(kernel, { n, h, w, c, r });
  return { inputFloats: n * h * w * c * r * r, defines: { N: n, H: h, W: w, C: c, R: r } };
}

export function pixelShuffleForward(ctx: GpuContext, shape: PixelShuffleShape, buffers: { x: GPUBuffer; y: GPUBuffer }): GpuProgram {
  const kernel = 'pixelShuffleForward';
  const { inputFloats, defines } = prepare(kernel, shape);
  requireBufferFloats(kernel, 'x', buffers.x, inputFloats);
  requireBufferFloats(kernel, 'y', buffers.y, inputFloats);
  const outputPixels = shape.n * shape.h * shape.r * shape.w * shape.r;
  return ctx.dispatch(ctx.pipeline('pixel_shuffle_forward', defines), [buffers.x, buffers.y], [divUp(outputPixels, WORKGROUP)]);
}

/** dx (overwritten) [n,h,w,c*r*r] from dy [n,h*r,w*r,c]. */
export function pixelShuffleBackward(ctx: GpuContext, shape: PixelShuffleShape, buffers: { dy: GPUBuffer; dx: GPUBuffer }): GpuProgram {
  const kernel = 'pixelShuffleBackward';
  const { inputFloats, defines } = prepare(kernel, shape);
  requireBufferFloats(kernel, 'dy', buffers.dy, inputFloats);
  requireBufferFloats(kernel, 'dx', buffers.dx, inputFloats);
  return ctx.dispatch(ctx.pipeline('pixel_shuffle_backward', defines), [buffers.dy, buffers.dx], [divUp(shape.n * shape.h * shape.w, WORKGROUP)]);
}
