import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { activationCeiling, activationSlope, type ActivationShape } from '../../cpu/activation.ts';
import { ARM_HIDDEN_MAX } from '../../nn/model.ts';

export type { ActivationShape, ActivationKind } from '../../cpu/activation.ts';

/**
 * Workgroups for an elementwise kernel over `count` floats, one vec4 per invocation, as a 2D grid
 * so large tensors stay under the per-dimension workgroup limit. Shaders index with
 * `gid.y * GRID_X + gid.x`, and the buffers are bound as array<vec4f>.
 */
export function vec4Grid(ctx: GpuContext, count: number, workgroup = 64) {
  const vecCount = Math.ceil(count / 4);
  const grid = invocationGrid(ctx, vecCount, workgroup);
  return { vecCount, tail: count - 4 * (vecCount - 1), gridX: grid.gridX, workgroups: grid.workgroups };
}

/** A 2D grid of workgroups covering `invocations` (index = gid.y * gridX + gid.x). */
export function invocationGrid(ctx: GpuContext, invocations: number, workgroup = 64) {
  const groups = Math.max(1, divUp(invocations, workgroup));
  const limit = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(groups, limit);
  const y = divUp(groups, x);
  return { gridX: x * workgroup, workgroups: [x, y] as [number, number] };
}

/** vec4 bindings read whole vec4s, so buffers need room for ceil(count / 4) * 4 floats (ctx.buffer pads so). */
export function requireVec4Buffer(kernel: string, name: string, buffer: GPUBuffer, count: number): void {
  requireBufferFloats(kernel, name, buffer, Math.ceil(count / 4) * 4);
}

function constants(ctx: GpuContext, kernel: string, shape: ActivationShape) {
  if (!shape) throw new NervError('BAD_ARGUMENT', `${kernel}: missing shape`);
  requirePositiveIntegers(kernel, { count: shape.count });
  if (shape.kind !== 'relu' && shape.kind !== 'leaky' && shape.kind !== 'cappedRelu')
    throw new NervError('BAD_ARGUMENT', `${kernel}: unknown activation ${String(shape.kind)}`);
  const grid = vec4Grid(ctx, shape.count);
  const ceiling = activationCeiling(shape.kind, ARM_HIDDEN_MAX);
  return {
    grid,
    // WGSL override values must be finite: a ceiling beyond any f32 activation stands for none.
    constants: {
      CEILING: Number.isFinite(ceiling) ? ceiling : 3.0e38,
      SLOPE: activationSlope(shape.kind),
      VEC_COUNT: grid.vecCount,
      TAIL: grid.tail,
      GRID_X: grid.gridX,
    },
  };
}

/** y = f(x); x and y must be different buffers (WebGPU forbids binding one buffer read-only and writable at once). */
export function activationForward(ctx: GpuContext, shape: ActivationShape, buffers: { x: GPUBuffer; y: GPUBuffer }): GpuProgram {
  const kernel = 'activationForward';
  const { grid, constants: c } = constants(ctx, kernel, shape);
  requireVec4Buffer(kernel, 'x', buffers.x, shape.count);
  requireVec4Buffer(kernel, 'y', buffers.y, shape.count);
  if (buffers.x === buffers.y) throw new NervError('BAD_ARGUMENT', `${kernel}: x and y must be different buffers`);
  return ctx.dispatch(ctx.pipeline('activation_forward', {}, 'main', c), [buffers.x, buffers.y], grid.workgroups);
}

/** dx = dy * f'(x), with x the pre-activation input of the forward pass. */
export function activationBackward(ctx: GpuContext, shape: ActivationShape, buffers: { x: GPUBuffer; dy: GPUBuffer; dx: GPUBuffer }): GpuProgram {
  const kernel = 'activationBackward';
  const { grid, constants: c } = constants(ctx, kernel, shape);
  requireVec4Buffer(kernel, 'x', buffers.x, shape.count);
  requireVec4Buffer(kernel, 'dy', buffers.dy, shape.count);
  requireVec4Buffer(kernel, 'dx', buffers.dx, shape.count);
  if (buffers.dx === buffers.x || buffers.dx === buffers.dy) throw new NervError('BAD_ARGUMENT', `${kernel}: dx must not alias x or dy`);
  return ctx.dispatch(ctx.pipeline('activation_backward', {}, 'main', c), [buffers.x, buffers.dy, buffers.dx], grid.workgroups);
}
