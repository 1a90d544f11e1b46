// Adam over all packed tensors in one dispatch, with the gradient records summed first, against
// its CPU twin (which runs the reference adamStepCpu per tensor).
import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { assertClose } from '../helpers/gradcheck.ts';
import { adamPackedCpu } from '../../src/cpu/fused.ts';
import { adamPacked } from '../../src/gpu/kernels/adam_packed.ts';
import { adamHyper } from '../../src/gpu/kernels/adam.ts';
import { describeModel } from '../../src/nn/model.ts';
import { packedLayout, planModel } from '../../src/nn/layers.ts';

test('packed Adam matches the CPU twin: records summed in order, each tensor with its own hyper-parameters', async (t) => {
  const ctx = await testContext();
  const plan = planModel(describeModel(8, 6, 2));
  const layout = packedLayout(plan.tensors);
  const vec4s = layout.floats / 4;
  // Three producers with different record counts; the vec4s in between (one tensor) get no gradient.
  const skipped = layout.offsets[3] / 4;
  const sources = [
    { firstVec4: 0, vec4s: skipped, partialBase: 5, chunks: 7 },
    { firstVec4: layout.offsets[4] / 4, vec4s: layout.offsets[8] / 4 - layout.offsets[4] / 4, partialBase: 5 + 7 * skipped, chunks: 1 },
    { firstVec4: layout.offsets[8] / 4, vec4s: vec4s - layout.offsets[8] / 4, partialBase: 900, chunks: 3 },
  ];
  const partial = randomArray((900 + 3 * sources[2].vec4s) * 4, 3);
  const hyper = plan.tensors.map((_, i) => adamHyper({ lr: 0.01 * (i + 1), weightDecay: i % 3 === 0 ? 0.1 : 0, gradScale: i % 2 ? 1 : 0.5 }, 1 + i));
  const state = { param: randomArray(layout.floats, 5), m: randomArray(layout.floats, 7, 0.1), v: randomArray(layout.floats, 9, 0.1).map(Math.abs) };
  const buffers = {
    partial: ctx.upload(partial),
    hyper: ctx.buffer(8 * plan.tensors.length),
    param: ctx.upload(state.param),
    m: ctx.upload(state.m),
    v: ctx.upload(state.v),
    tensorHyper: hyper.map((h) => ctx.upload(h)),
  };
  const expected = { param: state.param.slice(), m: state.m.slice(), v: state.v.slice() };
  const grad = adamPackedCpu(layout, sources, partial, expected, hyper);
  t.true(
    grad.subarray(layout.offsets[3], layout.offsets[4]).every((g) => g === 0),
    'the tensor no source covers gets no gradient',
  );
  ctx.run([adamPacked(ctx, layout, sources, buffers)]);
  assertClose(t, maxRelativeError(await ctx.read(buffers.m, layout.floats), expected.m), 1e-6, 'm');
  assertClose(t, maxRelativeError(await ctx.read(buffers.v, layout.floats), expected.v), 1e-6, 'v');
  assertClose(t, maxRelativeError(await ctx.read(buffers.param, layout.floats), expected.param), 1e-6, 'param');
});

test('packed Adam rejects overlapping gradient sources', async (t) => {
  const ctx = await testContext();
  const layout = packedLayout(planModel(describeModel(8, 6, 2)).tensors);
  const buffers = {
    partial: ctx.buffer(64),
    hyper: ctx.buffer(8 * layout.offsets.length),
    param: ctx.buffer(layout.floats),
    m: ctx.buffer(layout.floats),
    v: ctx.buffer(layout.floats),
  };
  const sources = [
    { firstVec4: 0, vec4s: 3, partialBase: 0, chunks: 1 },
    { firstVec4: 2, vec4s: 2, partialBase: 3, chunks: 1 },
  ];
  t.throws(() => adamPacked(ctx, layout, sources, buffers), { message: /overlap/ });
});
