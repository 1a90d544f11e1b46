import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { f32Literal, requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';

export type ActivationKind = 'gelu' | 'silu' | 'sine';

export interface ActivationShape {
  count: number;
  kind: ActivationKind;
  /** Frequency of the sine activation (SIREN's omega_0); ignored by the others. Default 30. */
  omega?: number;
}

const KIND_CODES: Record<ActivationKind, number> = { gelu: 0, silu: 1, sine: 2 };
export const DEFAULT_OMEGA = 30;

/**
 * Workgroups for an elementwise kernel over `count` floats, one vec4 per invocation, as a 2D grid
 * so large tensors stay under the per-dimension workgroup limit. Shaders index with
 * `gid.y * gridX + gid.x`, and the buffers are bound as array<vec4f>.
 */
export function vec4Grid(ctx: GpuContext, count: number, workgroup = 64) {
  const vecCount = Math.ceil(count / 4);
  const groups = divUp(vecCount, workgroup);
  const limit = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(groups, limit);
  const y = divUp(groups, x);
  return { vecCount, tail: count - 4 * (vecCount - 1), gridX: x * workgroup, workgroups: [x, y] as [number, number] };
}

/** vec4 bindings read whole vec4s, so buffers need room for ceil(count / 4) * 4 floats (ctx.buffer pads so). */
export function requireVec4Buffer(kernel: string, name: string, buffer: GPUBuffer, count: number): void {
  requireBufferFloats(kernel, name, buffer, Math.ceil(count / 4) * 4);
}

function defines(ctx: GpuContext, kernel: string, shape: ActivationShape) {
  if (!shape) throw new NervError('BAD_ARGUMENT', `${kernel}: missing shape`);
  requirePositiveIntegers(kernel, { count: shape.count });
  if (!(shape.kind in KIND_CODES)) throw new NervError('BAD_ARGUMENT', `${kernel}: unknown activation ${String(shape.kind)}`);
  const omega = shape.omega ?? DEFAULT_OMEGA;
  if (!Number.isFinite(omega)) throw new NervError('BAD_ARGUMENT', `${kernel}: omega must be finite`);
  const grid = vec4Grid(ctx, shape.count);
  return {
    grid,
    defines: {
      KIND: KIND_CODES[shape.kind],
      OMEGA: shape.kind === 'sine' ? f32Literal(omega) : '0.0',
      VEC_COUNT: grid.vecCount,
      TAIL: grid.tail,
      GRID_X: grid.gridX,
    },
  };
}

/** y = f(x); x and y must be different buffers (WebGPU forbids binding one buffer read-only and writable at once). */
export function activationForward(ctx: GpuContext, shape: ActivationShape, buffers: { x: GPUBuffer; y: GPUBuffer }): GpuProgram {
  const kernel = 'activationForward';
  const { grid, defines: d } = defines(ctx, kernel, shape);
  requireVec4Buffer(kernel, 'x', buffers.x, shape.count);
  requireVec4Buffer(kernel, 'y', buffers.y, shape.count);
  if (buffers.x === buffers.y) throw new NervError('BAD_ARGUMENT', `${kernel}: x and y must be different buffers`);
  return ctx.dispatch(ctx.pipeline('activation_forward', d), [buffers.x, buffers.y], grid.workgroups);
}

/** dx = dy * f'(x), with x the pre-activation input of the forward pass. */
export function activationBackward(
  ctx: GpuContext,
  shape: ActivationShape,
  buffers: { x: GPUBuffer; dy: GPUBuffer; dx: GPUBuffer },
): GpuProgram {
  const kernel = 'activationBackward';
  const { grid, defines: d } = defines(ctx, kernel, shape);
  requireVec4Buffer(kernel, 'x', buffers.x, shape.count);
  requireVec4Buffer(kernel, 'dy', buffers.dy, shape.count);
  requireVec4Buffer(kernel, 'dx', buffers.dx, shape.count);
  if (buffers.dx === buffers.x || buffers.dx === buffers.dy) throw new NervError('BAD_ARGUMENT', `${kernel}: dx must not alias x or dy`);
  return ctx.dispatch(ctx.pipeline('activation_backward', d), [buffers.x, buffers.dy, buffers.dx], grid.workgroups);
}
