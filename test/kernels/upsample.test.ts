import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import { upsampleBilinearForward, upsampleBilinearBackward } from '../../src/gpu/kernels/upsample.ts';
import { upsampleBilinearForwardCpu, upsampleBilinearBackwardCpu, type UpsampleShape } from '../../src/cpu/upsample.ts';
import { NervError } from '../../src/errors.ts';

const SHAPES: UpsampleShape[] = [
  { n: 2, h: 5, w: 7, c: 3, factor: 2 },
  { n: 1, h: 4, w: 9, c: 6, factor: 3 },
  { n: 1, h: 3, w: 2, c: 2, factor: 4 },
  { n: 1, h: 1, w: 1, c: 1, factor: 2 },
];

test('bilinear upsampling matches PyTorch align_corners=false values', (t) => {
  // torch.nn.functional.interpolate(tensor([[[[1., 2., 4.]]]]), scale_factor=2, mode='bilinear', align_corners=False)
  const y = upsampleBilinearForwardCpu({ n: 1, h: 1, w: 3, c: 1, factor: 2 }, Float32Array.from([1, 2, 4]));
  const expected = [1, 1.25, 1.75, 2.5, 3.5, 4];
  for (const row of [0, 1]) t.deepEqual([...y.subarray(row * 6, row * 6 + 6)], expected);
});

for (const [index, shape] of SHAPES.entries()) {
  const label = JSON.stringify(shape);
  const inFloats = shape.n * shape.h * shape.w * shape.c;
  const outFloats = inFloats * shape.factor * shape.factor;

  test(`bilinear upsampling forward and backward match the CPU reference ${label}`, async (t) => {
    const ctx = await testContext();
    const x = randomArray(inFloats, 1 + index), dy = randomArray(outFloats, 11 + index);
    const y = ctx.buffer(outFloats), dx = ctx.upload(randomArray(inFloats, 5)); // dx must be overwritten
    ctx.run([
      upsampleBilinearForward(ctx, shape, { x: ctx.upload(x), y }),
      upsampleBilinearBackward(ctx, shape, { dy: ctx.upload(dy), dx }),
    ]);
    assertClose(t, maxRelativeError(await ctx.read(y, outFloats), upsampleBilinearForwardCpu(shape, x)), 1e-5, 'y');
    assertClose(t, maxRelativeError(await ctx.read(dx, inFloats), upsampleBilinearBackwardCpu(shape, dy)), 1e-5, 'dx');
  });

  test(`bilinear upsampling CPU gradient matches finite differences ${label}`, (t) => {
    const x = randomArray(inFloats, 21 + index), r = randomArray(outFloats, 31 + index);
    const loss = (v: Float32Array) => dot(upsampleBilinearForwardCpu(shape, v), r);
    assertClose(t, finiteDifferenceError(loss, x, upsampleBilinearBackwardCpu(shape, r), probeIndices(inFloats, 40)), 1e-2, 'dx');
  });
}

test('bilinear upsampling rejects a fractional factor and short buffers', async (t) => {
  const ctx = await testContext();
  const b = ctx.buffer(8);
  t.throws(() => upsampleBilinearForward(ctx, { n: 1, h: 1, w: 1, c: 1, factor: 1.5 }, { x: b, y: b }), { instanceOf: NervError, message: /factor/ });
  t.throws(() => upsampleBilinearBackward(ctx, { n: 1, h: 2, w: 2, c: 2, factor: 2 }, { dy: b, dx: b }), { instanceOf: NervError, message: /buffer dy/ });
});
