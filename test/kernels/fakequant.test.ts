import test from 'ava';
import { testContext, randomArray } from '../helpers/gpu.ts';
import { fakeQuantize, fakeQuantParams } from '../../src/gpu/kernels/fakequant.ts';
import { fakeQuantizeCpu, fakeQuantNoise } from '../../src/cpu/fakequant.ts';
import { NervError } from '../../src/errors.ts';

async function runGpu(param: Float32Array, quant: Float32Array): Promise<Float32Array> {
  const ctx = await testContext();
  const out = ctx.upload(new Float32Array(param.length + 3).fill(99));
  ctx.run([fakeQuantize(ctx, { count: param.length }, { param: ctx.upload(param), out, quant: ctx.upload(quant) })]);
  const result = await ctx.read(out, param.length + 3);
  if ([...result.subarray(param.length)].some((v) => v !== 99)) throw new Error('wrote past count');
  return result.subarray(0, param.length);
}

function mismatches(a: Float32Array, b: Float32Array): number[] {
  const bad: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) bad.push(i);
  return bad;
}

test('hard rounding matches the CPU exactly and rounds halves away from zero', async (t) => {
  const step = 0.25;
  const halves = Float32Array.of(0.125, -0.125, 0.375, -0.375, 2.625, -2.625, 0.1, -0.1, 0, 1e6 + 0.125);
  const expected = Float32Array.of(0.25, -0.25, 0.5, -0.5, 2.75, -2.75, 0, -0, 0, 1e6 + 0.25);
  t.deepEqual(mismatches(fakeQuantizeCpu(halves, fakeQuantParams(step)), expected), []);
  t.deepEqual(mismatches(await runGpu(halves, fakeQuantParams(step)), expected), []);
  for (const count of [1, 5, 1027]) {
    const param = randomArray(count, count, 2);
    const quant = fakeQuantParams(0.0371);
    t.deepEqual(mismatches(await runGpu(param, quant), fakeQuantizeCpu(param, quant)), [], `count ${count}`);
  }
});

test('noise mode matches the CPU bit for bit and stays within half a step', async (t) => {
  const count = 1031;
  const param = randomArray(count, 3, 1);
  const step = 0.05;
  for (const seed of [0, 12345]) {
    const quant = fakeQuantParams(step, 'noise', seed);
    const cpu = fakeQuantizeCpu(param, quant);
    t.deepEqual(mismatches(await runGpu(param, quant), cpu), [], `seed ${seed}`);
    t.true(cpu.every((v, i) => Math.abs(v - param[i]) <= step / 2 + 1e-7));
  }
  // Different seeds give different noise; the unit values look uniform.
  t.not(fakeQuantNoise(5, 0), fakeQuantNoise(5, 1));
  let mean = 0;
  for (let i = 0; i < 10000; i++) mean += fakeQuantNoise(i, 7) / 10000;
  t.true(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
});

test('step <= 0 passes parameters through; bad arguments are rejected', async (t) => {
  const param = randomArray(9, 1, 1);
  t.deepEqual(mismatches(await runGpu(param, fakeQuantParams(0)), param), []);
  const ctx = await testContext();
  const a = ctx.buffer(8);
  t.throws(() => fakeQuantize(ctx, { count: 8 }, { param: a, out: a, quant: ctx.buffer(4) }), { instanceOf: NervError });
  t.throws(() => fakeQuantize(ctx, { count: 9 }, { param: a, out: ctx.buffer(8), quant: ctx.buffer(4) }), { instanceOf: NervError });
  t.throws(() => fakeQuantParams(0.1, 'noise', 2 ** 24), { instanceOf: NervError });
});
