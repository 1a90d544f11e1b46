// Fourier-feature encoding of coordinates into a channel slice of a wider feature tensor.
import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { f32Literal, requireBufferFloats, requireNonNegativeInteger, requirePositiveIntegers } from './shape-checks.ts';
import type { FourierShape } from '../../cpu/fourier.ts';

export type { FourierShape } from '../../cpu/fourier.ts';

const WORKGROUP = 64;

function prepare(kernel: string, shape: FourierShape) {
  const { rows, dims, frequencies, outChannels, channelOffset } = shape;
  requirePositiveIntegers(kernel, { rows, dims, outChannels, frequencyCount: frequencies.length });
  requireNonNegativeInteger(kernel, 'channelOffset', channelOffset);
  const channels = 2 * dims * frequencies.length;
  if (channelOffset + channels > outChannels) {
    throw new NervError('BAD_ARGUMENT', `${kernel}: channels [${channelOffset}, ${channelOffset + channels}) exceed outChannels ${outChannels}`);
  }
  return {
    ROWS: rows, DIMS: dims, K: frequencies.length, OUT_C: outChannels, OFFSET: channelOffset,
    FREQUENCIES: frequencies.map(f32Literal).join(', '), // frequencies are constants of the pipeline
  };
}

/** Writes sin/cos features of x [rows, dims] into channels [channelOffset, +2*dims*K) of y [rows, outChannels]. */
export function fourierForward(ctx: GpuContext, shape: FourierShape, buffers: { x: GPUBuffer; y: GPUBuffer }): GpuProgram {
  const kernel = 'fourierForward';
  const defines = prepare(kernel, shape);
  requireBufferFloats(kernel, 'x', buffers.x, shape.rows * shape.dims);
  requireBufferFloats(kernel, 'y', buffers.y, shape.rows * shape.outChannels);
  return ctx.dispatch(ctx.pipeline('fourier_forward', defines), [buffers.x, buffers.y], [divUp(shape.rows, WORKGROUP)]);
}

/** dx [rows, dims] (overwritten) from dy [rows, outChannels] read at the forward's channel slice. */
export function fourierBackward(ctx: GpuContext, shape: FourierShape, buffers: { x: GPUBuffer; dy: GPUBuffer; dx: GPUBuffer }): GpuProgram {
  const kernel = 'fourierBackward';
  const defines = prepare(kernel, shape);
  requireBufferFloats(kernel, 'x', buffers.x, shape.rows * shape.dims);
  requireBufferFloats(kernel, 'dy', buffers.dy, shape.rows * shape.outChannels);
  requireBufferFloats(kernel, 'dx', buffers.dx, shape.rows * shape.dims);
  return ctx.dispatch(ctx.pipeline('fourier_backward', defines), [buffers.x, buffers.dy, buffers.dx], [divUp(shape.rows, WORKGROUP)]);
}
