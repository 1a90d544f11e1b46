import type { GpuContext, GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { requireVec4Buffer, vec4Grid } from './activation.ts';

export interface AdamSettings {
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  gradScale?: number;
}

/** Floats in the hyper uniform: [lr, beta1, beta2, epsilon, 1/(1-beta1^t), 1/(1-beta2^t), weightDecay, gradScale]. */
export const ADAM_HYPER_FLOATS = 8;

/** The hyper block for step `t` (1-based), written by the trainer with ctx.write before each step. */
export function adamHyper(settings: AdamSettings, t: number): Float32Array {
  const { lr, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0, gradScale = 1 } = settings;
  if (!Number.isInteger(t) || t < 1) throw new NervError('BAD_ARGUMENT', `adamHyper: step ${t} must be an integer >= 1`);
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) throw new NervError('BAD_ARGUMENT', 'adamHyper: betas must be in [0, 1)');
  return Float32Array.of(lr, beta1, beta2, epsilon, 1 / (1 - beta1 ** t), 1 / (1 - beta2 ** t), weightDecay, gradScale);
}

/**
 * One AdamW step over `count` parameters (decoupled weight decay):
 * g = grad * gradScale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * param -= lr * (m c1 / (sqrt(v c2) + eps) + weightDecay * param).
 */
export function adamStep(
  ctx: GpuContext,
  shape: { count: number },
  buffers: { param: GPUBuffer; grad: GPUBuffer; m: GPUBuffer; v: GPUBuffer; hyper: GPUBuffer },
): GpuProgram {
  const kernel = 'adamStep';
  if (!shape) throw new NervError('BAD_ARGUMENT', `${kernel}: missing shape`);
  requirePositiveIntegers(kernel, { count: shape.count });
  for (const name of ['param', 'grad', 'm', 'v'] as const) requireVec4Buffer(kernel, name, buffers[name], shape.count);
  requireBufferFloats(kernel, 'hyper', buffers.hyper, ADAM_HYPER_FLOATS);
  const distinct = new Set([buffers.param, buffers.grad, buffers.m, buffers.v]);
  if (distinct.size !== 4) throw new NervError('BAD_ARGUMENT', `${kernel}: param, grad, m and v must be different buffers`);
  const grid = vec4Grid(ctx, shape.count);
  const pipeline = ctx.pipeline('adam', { VEC_COUNT: grid.vecCount, TAIL: grid.tail, GRID_X: grid.gridX });
  return ctx.dispatch(pipeline, [buffers.param, buffers.grad, buffers.m, buffers.v, buffers.hyper], grid.workgroups);
}
