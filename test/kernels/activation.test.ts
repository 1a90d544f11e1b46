import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import { activationForward, activationBackward, type ActivationShape } from '../../src/gpu/kernels/activation.ts';
import { activationForwardCpu, activationBackwardCpu } from '../../src/cpu/activation.ts';
import { NervError } from '../../src/errors.ts';
import { ARM_HIDDEN_MAX } from '../../src/nn/model.ts';

const KINDS: ActivationShape[] = [
  { count: 0, kind: 'relu' },
  { count: 0, kind: 'leaky' },
  { count: 0, kind: 'cappedRelu' },
];
// 1 element, a partial last vec4, and more than one workgroup.
const COUNTS = [1, 259, 1030];

function extremes(count: number): Float32Array {
  const x = randomArray(count, count + 3, 3);
  // Beyond the capped ReLU's ceiling (ARM_HIDDEN_MAX) on both sides.
  if (count > 4) x.set([400, -40, 255.5, 254.5]);
  return x;
}

for (const kind of KINDS) {
  const tolerance = 1e-7;

  test(`${kind.kind} forward and backward match the CPU reference`, async (t) => {
    const ctx = await testContext();
    for (const count of COUNTS) {
      const shape = { ...kind, count };
      const x = extremes(count);
      const dy = randomArray(count, 8, 1);
      const sentinel = 1234.5;
      // y is longer than count: the elements past count must not be touched.
      const y = ctx.upload(new Float32Array(count + 8).fill(sentinel));
      const dx = ctx.upload(new Float32Array(count + 8).fill(sentinel));
      const bx = ctx.upload(x);
      ctx.run([activationForward(ctx, shape, { x: bx, y }), activationBackward(ctx, shape, { x: bx, dy: ctx.upload(dy), dx })]);
      const yOut = await ctx.read(y, count + 8);
      const dxOut = await ctx.read(dx, count + 8);
      assertClose(t, maxRelativeError(yOut.subarray(0, count), activationForwardCpu(x, shape, ARM_HIDDEN_MAX)), tolerance, `y (${count})`);
      assertClose(t, maxRelativeError(dxOut.subarray(0, count), activationBackwardCpu(x, dy, shape, ARM_HIDDEN_MAX)), tolerance, `dx (${count})`);
      t.deepEqual([...yOut.subarray(count)], new Array(8).fill(sentinel), 'y past count untouched');
      t.deepEqual([...dxOut.subarray(count)], new Array(8).fill(sentinel), 'dx past count untouched');
    }
  });

  test(`${kind.kind} CPU backward matches finite differences`, (t) => {
    const shape = { ...kind, count: 301 };
    // Values away from the kinks at 0 and at the ceiling, where the derivative is defined.
    const x = randomArray(301, 17, 3).map((v, i) => (Math.abs(v) < 0.01 ? 0.5 : i % 10 === 0 ? 300 : v));
    const r = randomArray(301, 18, 1);
    const dx = activationBackwardCpu(x, r, shape, ARM_HIDDEN_MAX);
    const error = finiteDifferenceError((v) => dot(activationForwardCpu(v, shape, ARM_HIDDEN_MAX), r), x, dx, probeIndices(301, 40), 1e-3);
    assertClose(t, error, 2e-2, 'dx');
  });
}

test('activation factories reject bad arguments', async (t) => {
  const ctx = await testContext();
  const a = ctx.buffer(10);
  const b = ctx.buffer(10);
  t.throws(() => activationForward(ctx, { count: 10, kind: 'relu' }, { x: a, y: a }), { instanceOf: NervError, message: /different/ });
  t.throws(() => activationForward(ctx, { count: 100, kind: 'relu' }, { x: a, y: b }), { instanceOf: NervError });
  t.throws(() => activationForward(ctx, { count: 4, kind: 'gelu' as 'relu' }, { x: a, y: b }), { instanceOf: NervError });
  t.throws(() => activationBackward(ctx, { count: 0, kind: 'cappedRelu' }, { x: a, dy: b, dx: ctx.buffer(10) }), { instanceOf: NervError });
});
