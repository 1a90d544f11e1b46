// Adam over all packed network tensors in one dispatch (shaders/adam_packed.wgsl), summing the
// fused kernels' gradient records first. CPU twin: adamPackedCpu in src/cpu/fused.ts.
import type { GpuContext, GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats } from './shape-checks.ts';
import { invocationGrid } from './activation.ts';
import { ADAM_HYPER_FLOATS } from './adam.ts';
import type { GradientSource } from './packed.ts';
import type { PackedParameters } from '../../nn/layers.ts';

/** Checks that the sources cover disjoint ranges inside the layout. */
function checkSources(layout: PackedParameters, sources: GradientSource[]): void {
  const vec4s = layout.floats / 4;
  const sorted = [...sources].sort((a, b) => a.firstVec4 - b.firstVec4);
  sorted.forEach((s, i) => {
    if (s.firstVec4 < 0 || s.vec4s <= 0 || s.firstVec4 + s.vec4s > vec4s || s.chunks <= 0 || s.partialBase < 0) {
      throw new NervError('BAD_ARGUMENT', `adamPacked: gradient source ${i} is outside the parameters`);
    }
    if (i > 0 && sorted[i - 1].firstVec4 + sorted[i - 1].vec4s > s.firstVec4) throw new NervError('BAD_ARGUMENT', 'adamPacked: gradient sources overlap');
  });
}

/**
 * The step for all tensors; `hyper` holds one 8-float block per tensor (filled by `prepare` from
 * `tensorHyper` when given, so callers keep writing one small buffer per tensor).
 */
export function adamPacked(
  ctx: GpuContext,
  layout: PackedParameters,
  sources: GradientSource[],
  buffers: { partial: GPUBuffer; hyper: GPUBuffer; param: GPUBuffer; m: GPUBuffer; v: GPUBuffer; tensorHyper?: GPUBuffer[] },
): GpuProgram {
  const kernel = 'adamPacked';
  checkSources(layout, sources);
  const tensors = layout.offsets.length;
  const vec4s = layout.floats / 4;
  for (const name of ['param', 'm', 'v'] as const) requireBufferFloats(kernel, name, buffers[name], layout.floats);
  requireBufferFloats(kernel, 'hyper', buffers.hyper, tensors * ADAM_HYPER_FLOATS);
  const end = Math.max(0, ...sources.map((s) => s.partialBase + s.chunks * s.vec4s));
  requireBufferFloats(kernel, 'partial', buffers.partial, end * 4);
  if (buffers.tensorHyper && buffers.tensorHyper.length !== tensors) throw new NervError('BAD_ARGUMENT', `${kernel}: one hyper buffer per tensor`);
  const gather = sources.map(
    (s, i) =>
      `  ${i > 0 ? 'else ' : ''}if ((q >= ${s.firstVec4}u) & (q < ${s.firstVec4 + s.vec4s}u)) {\n` +
      `    for (var c = 0u; c < ${s.chunks}u; c++) { g += partial[${s.partialBase}u + c * ${s.vec4s}u + q - ${s.firstVec4}u]; }\n  }`,
  );
  const tensor = layout.offsets.map((offset, i) => (i === 0 ? '' : `  t = select(t, ${i}u, q >= ${offset / 4}u);`)).filter(Boolean);
  const grid = invocationGrid(ctx, vec4s);
  const pipeline = ctx.pipeline('adam_packed', { TENSORS: tensors, GATHER: gather.join('\n'), TENSOR: tensor.join('\n') }, 'main', {
    VEC4S: vec4s,
    GRID_X: grid.gridX,
  });
  const program = ctx.dispatch(pipeline, [buffers.partial, buffers.hyper, buffers.param, buffers.m, buffers.v], grid.workgroups);
  const copies = buffers.tensorHyper;
  if (!copies) return program;
  return {
    prepare: (encoder) => copies.forEach((h, i) => encoder.copyBufferToBuffer(h, 0, buffers.hyper, i * ADAM_HYPER_FLOATS * 4, ADAM_HYPER_FLOATS * 4)),
    record: (pass) => program.record(pass),
  };
}
