import test from 'ava';
import { testContext } from './helpers/gpu.ts';
import { divUp } from '../src/gpu/context.ts';

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
