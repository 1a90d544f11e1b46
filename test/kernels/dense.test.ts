import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import { denseForward, denseBackwardInput, denseBackwardParams, matmul, type DenseShape } from '../../src/gpu/kernels/dense.ts';
import { denseForwardCpu, denseBackwardCpu } from '../../src/cpu/dense.ts';
import { NervError } from '../../src/errors.ts';

// Vec4 and scalar paths, several column tiles, a partial last row tile, a single row.
const SHAPES: DenseShape[] = [
  { rows: 1, inC: 3, outC: 3 },
  { rows: 53, inC: 7, outC: 6 },
  { rows: 29, inC: 5, outC: 8 },
  { rows: 301, inC: 12, outC: 40 },
];

function inputs(shape: DenseShape, seed: number) {
  const { rows, inC, outC } = shape;
  return {
    x: randomArray(rows * inC, seed, 1),
    w: randomArray(inC * outC, seed + 1, 0.5),
    b: randomArray(outC, seed + 2, 0.5),
    dy: randomArray(rows * outC, seed + 3, 1),
  };
}

for (const shape of SHAPES) {
  const name = `${shape.rows}x${shape.inC}->${shape.outC}`;

  test(`denseForward matches the CPU reference (${name})`, async (t) => {
    const ctx = await testContext();
    const { x, w, b } = inputs(shape, 11);
    const expected = denseForwardCpu(x, w, b, shape);
    const y = ctx.buffer(shape.rows * shape.outC);
    const yStorage = ctx.buffer(shape.rows * shape.outC);
    const bx = ctx.upload(x),
      bw = ctx.upload(w),
      bb = ctx.upload(b);
    ctx.run([denseForward(ctx, shape, { x: bx, w: bw, b: bb, y }), denseForward(ctx, shape, { x: bx, w: bw, b: bb, y: yStorage }, { uniformWeights: false })]);
    assertClose(t, maxRelativeError(await ctx.read(y, expected.length), expected), 1e-5, 'y');
    assertClose(t, maxRelativeError(await ctx.read(yStorage, expected.length), expected), 1e-5, 'y (storage weights)');
  });

  test(`dense CPU backward matches finite differences (${name})`, (t) => {
    const { x, w, b } = inputs(shape, 21);
    const r = randomArray(shape.rows * shape.outC, 99, 1);
    const { dx, dw, db } = denseBackwardCpu(x, w, r, shape);
    const loss = (xx: Float32Array, ww: Float32Array, bb: Float32Array) => dot(denseForwardCpu(xx, ww, bb, shape), r);
    assertClose(
      t,
      finiteDifferenceError((v) => loss(v, w, b), x, dx, probeIndices(x.length)),
      2e-2,
      'dx',
    );
    assertClose(
      t,
      finiteDifferenceError((v) => loss(x, v, b), w, dw, probeIndices(w.length)),
      2e-2,
      'dw',
    );
    assertClose(
      t,
      finiteDifferenceError((v) => loss(x, w, v), b, db, probeIndices(b.length)),
      2e-2,
      'db',
    );
  });

  test(`dense WGSL backward matches the CPU backward (${name})`, async (t) => {
    const ctx = await testContext();
    const { x, w, dy } = inputs(shape, 31);
    const expected = denseBackwardCpu(x, w, dy, shape);
    const bx = ctx.upload(x),
      bw = ctx.upload(w),
      bdy = ctx.upload(dy);
    // Filled with garbage: gradients must be overwritten, not accumulated.
    const dx = ctx.upload(randomArray(shape.rows * shape.inC, 5, 9));
    const dw = ctx.upload(randomArray(shape.inC * shape.outC, 6, 9));
    const db = ctx.upload(randomArray(shape.outC, 7, 9));
    const params = denseBackwardParams(ctx, shape, { x: bx, dy: bdy, dw, db });
    ctx.run([denseBackwardInput(ctx, shape, { dy: bdy, w: bw, dx }), params]);
    assertClose(t, maxRelativeError(await ctx.read(dx, expected.dx.length), expected.dx), 1e-5, 'dx');
    const dwFirst = await ctx.read(dw, expected.dw.length);
    const dbFirst = await ctx.read(db, expected.db.length);
    assertClose(t, maxRelativeError(dwFirst, expected.dw), 1e-4, 'dw');
    assertClose(t, maxRelativeError(dbFirst, expected.db), 1e-4, 'db');
    ctx.run([params]);
    t.deepEqual(await ctx.read(dw, expected.dw.length), dwFirst, 'dw is bit-reproducible');
    t.deepEqual(await ctx.read(db, expected.db.length), dbFirst, 'db is bit-reproducible');
  });
}

test('dense parameter gradients reduce many chunks of rows', async (t) => {
  const ctx = await testContext();
  const shape = { rows: 2339, inC: 12, outC: 40 };
  const { x, w, dy } = inputs(shape, 41);
  const expected = denseBackwardCpu(x, w, dy, shape);
  const dw = ctx.buffer(shape.inC * shape.outC);
  const db = ctx.buffer(shape.outC);
  ctx.run([denseBackwardParams(ctx, shape, { x: ctx.upload(x), dy: ctx.upload(dy), dw, db })]);
  assertClose(t, maxRelativeError(await ctx.read(dw, expected.dw.length), expected.dw), 1e-4, 'dw');
  assertClose(t, maxRelativeError(await ctx.read(db, expected.db.length), expected.db), 1e-4, 'db');
});

test('matmul with weights too big for a uniform buffer matches the CPU', async (t) => {
  const ctx = await testContext();
  const shape = { M: 45, K: 132, N: 132 }; // 69.7 KB of weights: storage path
  const a = randomArray(shape.M * shape.K, 3, 1);
  const b = randomArray(shape.K * shape.N, 4, 0.2);
  const expected = denseForwardCpu(a, b, new Float32Array(shape.N), { rows: shape.M, inC: shape.K, outC: shape.N });
  const c = ctx.buffer(shape.M * shape.N);
  ctx.run([matmul(ctx, shape, { a: ctx.upload(a), b: ctx.upload(b), c })]);
  assertClose(t, maxRelativeError(await ctx.read(c, expected.length), expected), 1e-5, 'c');
});

test('dense factories reject bad shapes and small buffers before dispatching', async (t) => {
  const ctx = await testContext();
  const small = ctx.buffer(4);
  const big = ctx.buffer(4096);
  const err = { instanceOf: NervError, message: /denseForward/ };
  t.throws(() => denseForward(ctx, { rows: 0, inC: 4, outC: 4 }, { x: big, w: big, b: big, y: big }), err);
  t.throws(() => denseForward(ctx, { rows: 2.5, inC: 4, outC: 4 }, { x: big, w: big, b: big, y: big }), err);
  t.throws(() => denseForward(ctx, { rows: 64, inC: 4, outC: 4 }, { x: big, w: big, b: big, y: small }), err);
  t.throws(() => denseBackwardParams(ctx, { rows: 8, inC: 8, outC: 8 }, { x: big, dy: big, dw: small, db: big }), {
    instanceOf: NervError,
    message: /dw/,
  });
});
