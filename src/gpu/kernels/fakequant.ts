import type { GpuContext, GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { requireVec4Buffer, vec4Grid } from './activation.ts';

export type FakeQuantMode = 'round' | 'noise';

/**
 * The quant uniform [step, mode, seed, 0] as f32: mode 0 rounds to the step grid, mode 1 adds
 * uniform noise of one step's width (seed: an integer below 2^24, exact in f32). step <= 0 disables.
 */
export function fakeQuantParams(step: number, mode: FakeQuantMode = 'round', seed = 0): Float32Array {
  if (!Number.isFinite(step)) throw new NervError('BAD_ARGUMENT', `fakeQuantParams: step ${step} is not finite`);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 24) {
    throw new NervError('BAD_ARGUMENT', `fakeQuantParams: seed ${seed} must be an integer in [0, 2^24)`);
  }
  return Float32Array.of(step, mode === 'round' ? 0 : 1, seed, 0);
}

/**
 * out = fake-quantized param (see shaders/fakequant.wgsl). Backward is straight-through: the
 * gradient with respect to `out` is used as the gradient of `param`, so no backward kernel exists.
 */
export function fakeQuantize(
  ctx: GpuContext,
  shape: { count: number },
  buffers: { param: GPUBuffer; out: GPUBuffer; quant: GPUBuffer },
): GpuProgram {
  const kernel = 'fakeQuantize';
  if (!shape) throw new NervError('BAD_ARGUMENT', `${kernel}: missing shape`);
  requirePositiveIntegers(kernel, { count: shape.count });
  requireVec4Buffer(kernel, 'param', buffers.param, shape.count);
  requireVec4Buffer(kernel, 'out', buffers.out, shape.count);
  requireBufferFloats(kernel, 'quant', buffers.quant, 4);
  if (buffers.param === buffers.out) throw new NervError('BAD_ARGUMENT', `${kernel}: param and out must be different buffers`);
  const grid = vec4Grid(ctx, shape.count);
  const pipeline = ctx.pipeline('fakequant', { VEC_COUNT: grid.vecCount, TAIL: grid.tail, GRID_X: grid.gridX });
  return ctx.dispatch(pipeline, [buffers.param, buffers.out, buffers.quant], grid.workgroups);
}
