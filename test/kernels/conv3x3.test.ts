import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import { conv3x3Forward, conv3x3BackwardInput, conv3x3BackwardParams } from '../../src/gpu/kernels/conv3x3.ts';
import { conv3x3ForwardCpu, conv3x3BackwardInputCpu, conv3x3BackwardParamsCpu, type Conv3x3Shape } from '../../src/cpu/conv3x3.ts';
import { NervError } from '../../src/errors.ts';

// Not multiples of the 8-pixel tile; channel counts on and off multiples of 4; a 1-pixel image.
const SHAPES: Conv3x3Shape[] = [
  { n: 1, h: 5, w: 7, inC: 5, outC: 3 },
  { n: 2, h: 9, w: 11, inC: 8, outC: 12 },
  { n: 1, h: 1, w: 1, inC: 4, outC: 4 },
];

function inputs(shape: Conv3x3Shape, seed: number) {
  const { n, h, w, inC, outC } = shape;
  const pixels = n * h * w;
  return {
    x: randomArray(pixels * inC, seed),
    w: randomArray(9 * inC * outC, seed + 1, 0.5),
    b: randomArray(outC, seed + 2),
    dy: randomArray(pixels * outC, seed + 3),
  };
}

for (const [index, shape] of SHAPES.entries()) {
  const label = JSON.stringify(shape);

  test(`conv3x3 forward and backward match the CPU reference ${label}`, async (t) => {
    const ctx = await testContext();
    const data = inputs(shape, 10 + index * 7);
    const pixels = shape.n * shape.h * shape.w;
    const x = ctx.upload(data.x),
      w = ctx.upload(data.w),
      b = ctx.upload(data.b),
      dy = ctx.upload(data.dy);
    const y = ctx.buffer(pixels * shape.outC),
      dx = ctx.buffer(pixels * shape.inC);
    const dw = ctx.buffer(9 * shape.inC * shape.outC),
      db = ctx.buffer(shape.outC);
    ctx.run([
      conv3x3Forward(ctx, shape, { x, w, b, y }),
      conv3x3BackwardInput(ctx, shape, { dy, w, dx }),
      conv3x3BackwardParams(ctx, shape, { x, dy, dw, db }),
    ]);
    const params = conv3x3BackwardParamsCpu(shape, data.x, data.dy);
    assertClose(t, maxRelativeError(await ctx.read(y, pixels * shape.outC), conv3x3ForwardCpu(shape, data.x, data.w, data.b)), 1e-4, 'y');
    assertClose(t, maxRelativeError(await ctx.read(dx, pixels * shape.inC), conv3x3BackwardInputCpu(shape, data.dy, data.w)), 1e-4, 'dx');
    assertClose(t, maxRelativeError(await ctx.read(dw, 9 * shape.inC * shape.outC), params.dw), 1e-4, 'dw');
    assertClose(t, maxRelativeError(await ctx.read(db, shape.outC), params.db), 1e-4, 'db');
  });

  test(`conv3x3 CPU gradients match finite differences ${label}`, (t) => {
    const data = inputs(shape, 20 + index * 7);
    const pixels = shape.n * shape.h * shape.w;
    const r = randomArray(pixels * shape.outC, 99 + index);
    const dx = conv3x3BackwardInputCpu(shape, r, data.w);
    const { dw, db } = conv3x3BackwardParamsCpu(shape, data.x, r);
    const lossX = (x: Float32Array) => dot(conv3x3ForwardCpu(shape, x, data.w, data.b), r);
    const lossW = (w: Float32Array) => dot(conv3x3ForwardCpu(shape, data.x, w, data.b), r);
    const lossB = (b: Float32Array) => dot(conv3x3ForwardCpu(shape, data.x, data.w, b), r);
    assertClose(t, finiteDifferenceError(lossX, data.x, dx, probeIndices(data.x.length)), 1e-2, 'dx');
    assertClose(t, finiteDifferenceError(lossW, data.w, dw, probeIndices(data.w.length)), 1e-2, 'dw');
    assertClose(t, finiteDifferenceError(lossB, data.b, db, probeIndices(data.b.length)), 1e-2, 'db');
  });
}

test('conv3x3 at the real size (32->32 channels, 2 frames) matches the CPU reference', async (t) => {
  const shape: Conv3x3Shape = { n: 2, h: 13, w: 37, inC: 32, outC: 32 };
  const ctx = await testContext();
  const data = inputs(shape, 5);
  const pixels = shape.n * shape.h * shape.w;
  const x = ctx.upload(data.x),
    w = ctx.upload(data.w),
    b = ctx.upload(data.b),
    dy = ctx.upload(data.dy);
  const y = ctx.buffer(pixels * 32),
    dx = ctx.buffer(pixels * 32),
    dw = ctx.buffer(9 * 32 * 32),
    db = ctx.buffer(32);
  ctx.run([conv3x3Forward(ctx, shape, { x, w, b, y }), conv3x3BackwardInput(ctx, shape, { dy, w, dx }), conv3x3BackwardParams(ctx, shape, { x, dy, dw, db })]);
  const params = conv3x3BackwardParamsCpu(shape, data.x, data.dy);
  assertClose(t, maxRelativeError(await ctx.read(y, pixels * 32), conv3x3ForwardCpu(shape, data.x, data.w, data.b)), 1e-4, 'y');
  assertClose(t, maxRelativeError(await ctx.read(dx, pixels * 32), conv3x3BackwardInputCpu(shape, data.dy, data.w)), 1e-4, 'dx');
  assertClose(t, maxRelativeError(await ctx.read(dw, 9 * 32 * 32), params.dw), 1e-4, 'dw');
  assertClose(t, maxRelativeError(await ctx.read(db, 32), params.db), 1e-4, 'db');
  // Deterministic reduction: a second run gives bit-identical gradients.
  const first = await ctx.read(dw, 9 * 32 * 32);
  ctx.run([conv3x3BackwardParams(ctx, shape, { x, dy, dw, db })]);
  t.deepEqual(await ctx.read(dw, 9 * 32 * 32), first);
});

test('conv3x3 with weights in storage memory (used above 64 KiB) matches the CPU reference', async (t) => {
  const shape: Conv3x3Shape = { n: 1, h: 6, w: 19, inC: 8, outC: 8 };
  const ctx = await testContext();
  const data = inputs(shape, 8);
  const pixels = shape.n * shape.h * shape.w;
  const y = ctx.buffer(pixels * 8),
    dx = ctx.buffer(pixels * 8);
  const w = ctx.upload(data.w);
  ctx.run([
    conv3x3Forward(ctx, shape, { x: ctx.upload(data.x), w, b: ctx.upload(data.b), y }, { storageWeights: true }),
    conv3x3BackwardInput(ctx, shape, { dy: ctx.upload(data.dy), w, dx }, { storageWeights: true }),
  ]);
  assertClose(t, maxRelativeError(await ctx.read(y, pixels * 8), conv3x3ForwardCpu(shape, data.x, data.w, data.b)), 1e-4, 'y');
  assertClose(t, maxRelativeError(await ctx.read(dx, pixels * 8), conv3x3BackwardInputCpu(shape, data.dy, data.w)), 1e-4, 'dx');
});

test('conv3x3 rejects bad shapes and short buffers before dispatching', async (t) => {
  const ctx = await testContext();
  const small = ctx.buffer(4);
  const shape = { n: 1, h: 4, w: 4, inC: 4, outC: 4 };
  t.throws(() => conv3x3Forward(ctx, { ...shape, h: 0 }, { x: small, w: small, b: small, y: small }), { instanceOf: NervError, message: /h must/ });
  t.throws(() => conv3x3Forward(ctx, shape, { x: small, w: small, b: small, y: small }), { instanceOf: NervError, message: /buffer x/ });
  t.throws(() => conv3x3BackwardParams(ctx, { ...shape, inC: 2.5 }, { x: small, dy: small, dw: small, db: small }), { instanceOf: NervError });
});
