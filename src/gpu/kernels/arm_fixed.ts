// The fixed-point entropy model on the GPU (shaders/arm_fixed.wgsl); its CPU twin is ArmFixedPoint.
import type { GpuContext, GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { invocationGrid } from './activation.ts';
import type { ArmFixedPoint } from '../../entropy/latents.ts';
import { ARM_FRACTION_BITS, ARM_HIDDEN_MAX, ARM_LOG_SCALE_SHIFT } from '../../nn/model.ts';

const MAX_LAYERS = 8;
const MAX_WIDTH = 34;

/** Uploads a model's integer parameters: the params buffer and the layer table. */
export function armFixedBuffers(ctx: GpuContext, arm: ArmFixedPoint) {
  const packed = arm.packed();
  if (packed.layers.length > MAX_LAYERS || packed.inputs > MAX_WIDTH || packed.layers.some((l) => l.inC > MAX_WIDTH || l.outC > MAX_WIDTH)) {
    throw new NervError('BAD_ARGUMENT', `armFixedPoint: at most ${MAX_LAYERS} layers of width ${MAX_WIDTH}`);
  }
  const table = new Uint32Array(MAX_LAYERS * 4);
  packed.layers.forEach((l, i) => table.set([l.inC, l.outC, l.weights, l.biases], i * 4));
  return { params: ctx.upload(packed.params, 'arm fixed params'), layers: ctx.upload(table, 'arm fixed layers'), packed };
}

/** out [rows, 2] i32 = (mu, log-scale) of every context row [rows, inputs] (i32). */
export function armFixedPoint(
  ctx: GpuContext,
  rows: number,
  model: ReturnType<typeof armFixedBuffers>,
  buffers: { context: GPUBuffer; out: GPUBuffer },
): GpuProgram {
  const kernel = 'armFixedPoint';
  requirePositiveIntegers(kernel, { rows });
  const { packed } = model;
  requireBufferFloats(kernel, 'context', buffers.context, rows * packed.inputs);
  requireBufferFloats(kernel, 'out', buffers.out, rows * 2);
  const grid = invocationGrid(ctx, rows);
  const pipeline = ctx.pipeline('arm_fixed', {}, 'main', {
    ROWS: rows,
    INPUTS: packed.inputs,
    LAYERS: packed.layers.length,
    LINEAR: packed.linear,
    HIDDEN_CEILING: ARM_HIDDEN_MAX << ARM_FRACTION_BITS,
    LOG_SCALE_SHIFT: ARM_LOG_SCALE_SHIFT << ARM_FRACTION_BITS,
    GRID_X: grid.gridX,
  });
  return ctx.dispatch(pipeline, [buffers.context, model.params, model.layers, buffers.out], grid.workgroups);
}
