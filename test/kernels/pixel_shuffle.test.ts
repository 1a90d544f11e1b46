import test from 'ava';
import { testContext, randomArray } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import { pixelShuffleForward, pixelShuffleBackward } from '../../src/gpu/kernels/pixel_shuffle.ts';
import { pixelShuffleForwardCpu, pixelShuffleBackwardCpu, type PixelShuffleShape } from '../../src/cpu/pixel_shuffle.ts';
import { NervError } from '../../src/errors.ts';

const SHAPES: PixelShuffleShape[] = [
  { n: 2, h: 5, w: 7, c: 3, r: 2 },
  { n: 1, h: 3, w: 11, c: 5, r: 3 },
  { n: 1, h: 1, w: 1, c: 1, r: 1 },
];

test('pixel shuffle CPU reference follows PyTorch channel order', (t) => {
  // x [1,1,1,8] with c=2, r=2: channel c*4 + dy*2 + dx goes to output pixel (dy, dx), channel c.
  const x = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  const y = pixelShuffleForwardCpu({ n: 1, h: 1, w: 1, c: 2, r: 2 }, x);
  t.deepEqual([...y], [0, 4, 1, 5, 2, 6, 3, 7]);
});

for (const [index, shape] of SHAPES.entries()) {
  const label = JSON.stringify(shape);
  const floats = shape.n * shape.h * shape.w * shape.c * shape.r * shape.r;

  test(`pixel shuffle forward and backward match the CPU reference ${label}`, async (t) => {
    const ctx = await testContext();
    const x = randomArray(floats, 1 + index), dy = randomArray(floats, 11 + index);
    const y = ctx.buffer(floats), dx = ctx.buffer(floats);
    ctx.run([
      pixelShuffleForward(ctx, shape, { x: ctx.upload(x), y }),
      pixelShuffleBackward(ctx, shape, { dy: ctx.upload(dy), dx }),
    ]);
    t.deepEqual([...(await ctx.read(y, floats))], [...pixelShuffleForwardCpu(shape, x)]);
    t.deepEqual([...(await ctx.read(dx, floats))], [...pixelShuffleBackwardCpu(shape, dy)]);
  });

  test(`pixel shuffle CPU gradient matches finite differences ${label}`, (t) => {
    const x = randomArray(floats, 21 + index), r = randomArray(floats, 31 + index);
    const loss = (v: Float32Array) => dot(pixelShuffleForwardCpu(shape, v), r);
    assertClose(t, finiteDifferenceError(loss, x, pixelShuffleBackwardCpu(shape, r), probeIndices(floats)), 1e-3, 'dx');
  });
}

test('pixel shuffle rejects a bad factor and short buffers', async (t) => {
  const ctx = await testContext();
  const b = ctx.buffer(8);
  t.throws(() => pixelShuffleForward(ctx, { n: 1, h: 1, w: 1, c: 1, r: 0 }, { x: b, y: b }), { instanceOf: NervError, message: /r must/ });
  t.throws(() => pixelShuffleBackward(ctx, { n: 1, h: 2, w: 2, c: 2, r: 2 }, { dy: b, dx: b }), { instanceOf: NervError, message: /buffer dy/ });
});
