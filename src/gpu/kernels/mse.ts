import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { f32Literal, requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';

/** A batch of padded frames [frames, paddedHeight, paddedWidth, channels]; only the top-left valid region counts. */
export interface MseShape {
  frames: number;
  paddedHeight: number;
  paddedWidth: number;
  channels: number;
  validHeight: number;
  validWidth: number;
}

/** Units (vec4 or f32) each stage-1 invocation sums: few enough partials for the single-thread stage 2. */
const SEGMENT_UNITS = 64;

export function validateMseShape(kernel: string, shape: MseShape): void {
  if (!shape) throw new NervError('BAD_ARGUMENT', `${kernel}: missing shape`);
  requirePositiveIntegers(kernel, { ...shape });
  if (shape.validHeight > shape.paddedHeight || shape.validWidth > shape.paddedWidth) {
    throw new NervError('BAD_ARGUMENT', `${kernel}: valid region ${shape.validWidth}x${shape.validHeight} exceeds the padded frame`);
  }
}

/**
 * grad = 2 (pred - target) / validCount inside the valid region, 0 in the padding (overwritten),
 * and loss[0] = mean squared error over the valid region, reduced on the GPU in two fixed-order
 * stages so the result is bit-reproducible and only 4 bytes need reading back.
 */
export function mseLoss(
  ctx: GpuContext,
  shape: MseShape,
  buffers: { pred: GPUBuffer; target: GPUBuffer; grad: GPUBuffer; loss: GPUBuffer },
): GpuProgram {
  const kernel = 'mseLoss';
  validateMseShape(kernel, shape);
  const { frames, paddedHeight, paddedWidth, channels, validHeight, validWidth } = shape;
  const total = frames * paddedHeight * paddedWidth * channels;
  for (const name of ['pred', 'target', 'grad'] as const) requireBufferFloats(kernel, name, buffers[name], total);
  requireBufferFloats(kernel, 'loss', buffers.loss, 1);
  if (buffers.grad === buffers.pred || buffers.grad === buffers.target) {
    throw new NervError('BAD_ARGUMENT', `${kernel}: grad must not alias pred or target`);
  }
  const rowFloats = paddedWidth * channels;
  const lanes = rowFloats % 4 === 0 ? 4 : 1;
  const rowUnits = rowFloats / lanes;
  const segments = divUp(rowUnits, SEGMENT_UNITS);
  const partials = frames * paddedHeight * segments;
  const validCount = frames * validHeight * validWidth * channels;
  const groups = divUp(partials, 64);
  const gridX = Math.min(groups, ctx.device.limits.maxComputeWorkgroupsPerDimension);
  const vec = lanes === 4;
  const stage1 = ctx.pipeline('mse_partial', {
    T: vec ? 'vec4f' : 'f32',
    U: vec ? 'vec4u' : 'u32',
    B: vec ? 'vec4<bool>' : 'bool',
    LANES: lanes,
    LANE_OFFSETS: vec ? 'vec4u(0u, 1u, 2u, 3u)' : '0u',
    SQUARES: vec ? 'dot(d, d)' : 'd * d',
    PADDED_HEIGHT: paddedHeight,
    VALID_HEIGHT: validHeight,
    ROW_UNITS: rowUnits,
    VALID_FLOATS: validWidth * channels,
    SEGMENT: SEGMENT_UNITS,
    SEGMENTS: segments,
    PARTIALS: partials,
    SCALE: f32Literal(2 / validCount),
    GRID_X: gridX * 64,
  });
  const partial = ctx.buffer(partials, 'mse partial sums');
  const first = ctx.dispatch(stage1, [buffers.pred, buffers.target, buffers.grad, partial], [gridX, divUp(groups, gridX)]);
  const stage2 = ctx.pipeline('mse_final', { PARTIALS: partials, INVERSE_COUNT: f32Literal(1 / validCount) });
  const second = ctx.dispatch(stage2, [partial, buffers.loss], [1]);
  return {
    record(pass) {
      first.record(pass);
      second.record(pass);
    },
  };
}
