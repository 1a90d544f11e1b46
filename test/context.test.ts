import test from 'ava';
import { testContext } from './helpers/gpu.ts';
import { divUp, GpuContext } from '../src/gpu/context.ts';

test('a kernel runs on the adapter and its result reads back', async (t) => {
  const ctx = await testContext();
  const count = 131; // not a multiple of the workgroup size
  const buffer = ctx.buffer(count + 5);
  const pipeline = ctx.pipeline('fill', { COUNT: count, VALUE: '2.5' });
  ctx.run([ctx.dispatch(pipeline, [buffer], [divUp(count, 64)])]);
  const out = await ctx.read(buffer, count + 5);
  t.deepEqual([...out.subarray(0, count)], new Array(count).fill(2.5));
  t.deepEqual([...out.subarray(count)], [0, 0, 0, 0, 0]);
});

test('an unfilled shader placeholder is reported', async (t) => {
  const ctx = await testContext();
  t.throws(() => ctx.pipeline('fill', { COUNT: 3 }), { message: /VALUE/ });
});

test.serial('precompile compiles the pipelines a builder asks for asynchronously; building again compiles nothing', async (t) => {
  const ctx = new GpuContext((await testContext()).device); // an empty pipeline cache
  const device = ctx.device;
  const calls = { sync: 0, async: 0 };
  const { createComputePipeline, createComputePipelineAsync } = device;
  device.createComputePipeline = (descriptor) => (calls.sync++, createComputePipeline.call(device, descriptor));
  device.createComputePipelineAsync = (descriptor) => (calls.async++, createComputePipelineAsync.call(device, descriptor));
  try {
    const count = 77;
    const first = ctx.buffer(count);
    const second = ctx.buffer(count);
    const build = () => [
      ctx.dispatch(ctx.pipeline('fill', { COUNT: count, VALUE: '1.5' }), [first], [divUp(count, 64)]),
      ctx.dispatch(ctx.pipeline('fill', { COUNT: count, VALUE: '-2.0' }), [second], [divUp(count, 64)]),
    ];
    await ctx.precompile(build);
    t.deepEqual(calls, { sync: 0, async: 2 });
    await ctx.precompile(build); // all cached: nothing to do
    ctx.run(build());
    t.deepEqual(calls, { sync: 0, async: 2 });
    t.deepEqual([...(await ctx.read(first, count))], new Array(count).fill(1.5));
    t.deepEqual([...(await ctx.read(second, count))], new Array(count).fill(-2));
  } finally {
    device.createComputePipeline = createComputePipeline;
    device.createComputePipelineAsync = createComputePipelineAsync;
  }
});
