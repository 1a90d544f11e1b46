import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { assertClose } from '../helpers/gradcheck.ts';
import { adamStep, adamHyper } from '../../src/gpu/kernels/adam.ts';
import { adamStepCpu } from '../../src/cpu/adam.ts';
import { NervError } from '../../src/errors.ts';

for (const count of [1, 7, 1003]) {
  test(`adamStep follows the CPU reference over several steps (${count})`, async (t) => {
    const ctx = await testContext();
    const param = randomArray(count, 1, 1);
    const m = new Float32Array(count);
    const v = new Float32Array(count);
    const sentinel = 77;
    const padded = (a: Float32Array) => {
      const out = new Float32Array(count + 5).fill(sentinel);
      out.set(a);
      return out;
    };
    const bParam = ctx.upload(padded(param));
    const bGrad = ctx.buffer(count);
    const bm = ctx.upload(padded(m));
    const bv = ctx.upload(padded(v));
    const hyper = ctx.buffer(8);
    const program = adamStep(ctx, { count }, { param: bParam, grad: bGrad, m: bm, v: bv, hyper });
    for (let step = 1; step <= 5; step++) {
      const grad = randomArray(count, 10 + step, 0.3);
      const h = adamHyper({ lr: 0.01, beta1: 0.9, beta2: 0.99, weightDecay: step % 2 ? 0 : 0.1, gradScale: 0.5 }, step);
      adamStepCpu(param, grad, m, v, h);
      ctx.write(bGrad, grad);
      ctx.write(hyper, h);
      ctx.run([program]);
    }
    const out = await ctx.read(bParam, count + 5);
    assertClose(t, maxRelativeError(out.subarray(0, count), param), 1e-6, 'param');
    assertClose(t, maxRelativeError(await ctx.read(bm, count), m), 1e-6, 'm');
    assertClose(t, maxRelativeError(await ctx.read(bv, count), v), 1e-6, 'v');
    t.deepEqual([...out.subarray(count)], new Array(5).fill(sentinel), 'param past count untouched');
    // Adam's first step moves every parameter by about lr against the gradient sign.
    t.true(param.every((p) => Number.isFinite(p)));
  });
}

test('adamHyper builds the bias corrections and adamStep validates its buffers', async (t) => {
  const h = adamHyper({ lr: 0.1, beta1: 0.5, beta2: 0.75 }, 2);
  t.deepEqual([...h], [...Float32Array.of(0.1, 0.5, 0.75, 1e-8, 1 / 0.75, 1 / (1 - 0.5625), 0, 1)]);
  t.throws(() => adamHyper({ lr: 0.1 }, 0), { instanceOf: NervError });
  const ctx = await testContext();
  const a = ctx.buffer(8),
    b = ctx.buffer(8),
    c = ctx.buffer(8),
    d = ctx.buffer(8);
  t.throws(() => adamStep(ctx, { count: 9 }, { param: a, grad: b, m: c, v: d, hyper: ctx.buffer(8) }), { instanceOf: NervError });
  t.throws(() => adamStep(ctx, { count: 8 }, { param: a, grad: a, m: c, v: d, hyper: ctx.buffer(8) }), { instanceOf: NervError });
  t.throws(() => adamStep(ctx, { count: 8 }, { param: a, grad: b, m: c, v: d, hyper: ctx.buffer(4) }), { instanceOf: NervError });
});
