import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import { activationForward, activationBackward, type ActivationShape } from '../../src/gpu/kernels/activation.ts';
import { activationForwardCpu, activationBackwardCpu } from '../../src/cpu/activation.ts';
import { NervError } from '../../src/errors.ts';

const KINDS: ActivationShape[] = [
  { count: 0, kind: 'gelu' },
  { count: 0, kind: 'silu' },
  { count: 0, kind: 'sine', omega: 7.5 },
];
// 1 element, a partial last vec4, and more than one workgroup.
const COUNTS = [1, 259, 1030];

function extremes(count: number): Float32Array {
  const x = randomArray(count, count + 3, 3);
  // Saturated tails must stay finite.
  if (count > 4) x.set([40, -40, 90, -90]);
  return x;
}

for (const kind of KINDS) {
  // The GPU's transcendental functions are approximations (WGSL allows ~2^-11 absolute for sin/cos).
  const tolerance = kind.kind === 'sine' ? 2e-4 : 2e-5;

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
      assertClose(t, maxRelativeError(yOut.subarray(0, count), activationForwardCpu(x, shape)), tolerance, `y (${count})`);
      assertClose(t, maxRelativeError(dxOut.subarray(0, count), activationBackwardCpu(x, dy, shape)), tolerance * 10, `dx (${count})`);
      t.deepEqual([...yOut.subarray(count)], new Array(8).fill(sentinel), 'y past count untouched');
      t.deepEqual([...dxOut.subarray(count)], new Array(8).fill(sentinel), 'dx past count untouched');
    }
  });

  test(`${kind.kind} CPU backward matches finite differences`, (t) => {
    const shape = { ...kind, count: 301 };
    const x = randomArray(301, 17, 3);
    const r = randomArray(301, 18, 1);
    const dx = activationBackwardCpu(x, r, shape);
    const error = finiteDifferenceError((v) => dot(activationForwardCpu(v, shape), r), x, dx, probeIndices(301, 40), 1e-3);
    assertClose(t, error, 2e-2, 'dx');
  });
}

test('activation factories reject bad arguments', async (t) => {
  const ctx = await testContext();
  const a = ctx.buffer(10);
  const b = ctx.buffer(10);
  t.throws(() => activationForward(ctx, { count: 10, kind: 'silu' }, { x: a, y: a }), { instanceOf: NervError, message: /different/ });
  t.throws(() => activationForward(ctx, { count: 100, kind: 'gelu' }, { x: a, y: b }), { instanceOf: NervError });
  t.throws(() => activationForward(ctx, { count: 4, kind: 'relu' as 'gelu' }, { x: a, y: b }), { instanceOf: NervError });
  t.throws(() => activationBackward(ctx, { count: 0, kind: 'sine' }, { x: a, dy: b, dx: ctx.buffer(10) }), { instanceOf: NervError });
});
