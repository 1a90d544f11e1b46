import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, assertClose } from '../helpers/gradcheck.ts';
import { mseLoss, type MseShape } from '../../src/gpu/kernels/mse.ts';
import { mseLossCpu } from '../../src/cpu/mse.ts';
import { NervError } from '../../src/errors.ts';

const SHAPES: MseShape[] = [
  { frames: 1, paddedHeight: 1, paddedWidth: 1, channels: 3, validHeight: 1, validWidth: 1 }, // scalar path, 1 pixel
  { frames: 2, paddedHeight: 13, paddedWidth: 37, channels: 3, validHeight: 11, validWidth: 30 }, // scalar rows
  { frames: 3, paddedHeight: 20, paddedWidth: 100, channels: 4, validHeight: 17, validWidth: 95 }, // vec4, >1 segment per row
  { frames: 1, paddedHeight: 9, paddedWidth: 8, channels: 3, validHeight: 9, validWidth: 8 }, // vec4, no padding
];

for (const shape of SHAPES) {
  const name = `${shape.frames}x${shape.paddedHeight}x${shape.paddedWidth}x${shape.channels} valid ${shape.validHeight}x${shape.validWidth}`;

  test(`mseLoss matches the CPU reference (${name})`, async (t) => {
    const ctx = await testContext();
    const total = shape.frames * shape.paddedHeight * shape.paddedWidth * shape.channels;
    const pred = randomArray(total, 3, 1);
    const target = randomArray(total, 4, 1);
    const expected = mseLossCpu(pred, target, shape);
    const grad = ctx.upload(randomArray(total, 5, 7)); // garbage: must be overwritten, padding included
    const loss = ctx.buffer(1);
    const program = mseLoss(ctx, shape, { pred: ctx.upload(pred), target: ctx.upload(target), grad, loss });
    ctx.run([program]);
    const first = (await ctx.read(loss, 1))[0];
    t.true(Math.abs(first - expected.loss) <= 1e-5 * expected.loss, `loss ${first} vs ${expected.loss}`);
    assertClose(t, maxRelativeError(await ctx.read(grad, total), expected.grad), 1e-6, 'grad');
    ctx.run([program]);
    t.is((await ctx.read(loss, 1))[0], first, 'loss is bit-reproducible');
  });
}

test('mse CPU gradient matches finite differences of the CPU loss', (t) => {
  const shape = SHAPES[1];
  const total = shape.frames * shape.paddedHeight * shape.paddedWidth * shape.channels;
  const pred = randomArray(total, 6, 1);
  const target = randomArray(total, 7, 1);
  const { grad } = mseLossCpu(pred, target, shape);
  const error = finiteDifferenceError((p) => mseLossCpu(p, target, shape).loss, pred, grad, probeIndices(total, 60), 1e-2);
  assertClose(t, error, 2e-2, 'grad');
  // Padding (last column of frame 0, row 0) has zero gradient.
  t.is(grad[(shape.paddedWidth - 1) * shape.channels], 0);
});

test('mseLoss rejects a valid region larger than the frame and small buffers', async (t) => {
  const ctx = await testContext();
  const b = () => ctx.buffer(64);
  const shape = { frames: 1, paddedHeight: 4, paddedWidth: 4, channels: 3, validHeight: 5, validWidth: 4 };
  t.throws(() => mseLoss(ctx, shape, { pred: b(), target: b(), grad: b(), loss: b() }), { instanceOf: NervError, message: /valid region/ });
  t.throws(() => mseLoss(ctx, { ...shape, validHeight: 4, paddedWidth: 40 }, { pred: b(), target: b(), grad: b(), loss: b() }), {
    instanceOf: NervError,
  });
});
