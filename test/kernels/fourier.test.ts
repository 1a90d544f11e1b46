import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import { fourierForward, fourierBackward } from '../../src/gpu/kernels/fourier.ts';
import { fourierForwardCpu, fourierBackwardCpu, type FourierShape } from '../../src/cpu/fourier.ts';
import { NervError } from '../../src/errors.ts';

const SHAPES: FourierShape[] = [
  { rows: 67, dims: 3, frequencies: [1, 2.5, 7.25], outChannels: 23, channelOffset: 4 },
  { rows: 130, dims: 1, frequencies: [0.1, 16], outChannels: 4, channelOffset: 0 },
  { rows: 1, dims: 2, frequencies: [3], outChannels: 6, channelOffset: 1 },
];

for (const [index, shape] of SHAPES.entries()) {
  const label = JSON.stringify(shape);
  const yFloats = shape.rows * shape.outChannels;
  const xFloats = shape.rows * shape.dims;

  test(`fourier features forward and backward match the CPU reference ${label}`, async (t) => {
    const ctx = await testContext();
    const x = randomArray(xFloats, 1 + index, 1.5);
    const sentinel = randomArray(yFloats, 41 + index); // channels outside the slice must survive
    const dy = randomArray(yFloats, 11 + index);
    const y = ctx.upload(sentinel), dx = ctx.upload(randomArray(xFloats, 3)), xBuffer = ctx.upload(x);
    ctx.run([
      fourierForward(ctx, shape, { x: xBuffer, y }),
      fourierBackward(ctx, shape, { x: xBuffer, dy: ctx.upload(dy), dx }),
    ]);
    // WGSL only bounds sin/cos to an absolute error of 2^-11 (SwiftShader is off by about 1e-4).
    const trigTolerance = 2 ** -11;
    assertClose(t, maxRelativeError(await ctx.read(y, yFloats), fourierForwardCpu(shape, x, sentinel)), trigTolerance, 'y');
    // dx sums terms of size 2 pi f: compare relative to that scale.
    const scale = 2 * Math.PI * Math.max(...shape.frequencies);
    const gpu = (await ctx.read(dx, xFloats)).map((v) => v / scale);
    assertClose(t, maxRelativeError(gpu, fourierBackwardCpu(shape, x, dy).map((v) => v / scale)), 2 * shape.frequencies.length * trigTolerance, 'dx');
  });

  test(`fourier features CPU gradient matches finite differences ${label}`, (t) => {
    const x = randomArray(xFloats, 21 + index, 1.5), r = randomArray(yFloats, 31 + index);
    const loss = (v: Float32Array) => dot(fourierForwardCpu(shape, v), r);
    assertClose(t, finiteDifferenceError(loss, x, fourierBackwardCpu(shape, x, r), probeIndices(xFloats, 40), 1e-3), 2e-2, 'dx');
  });
}

test('fourier features reject a slice wider than y', async (t) => {
  const ctx = await testContext();
  const b = ctx.buffer(64);
  t.throws(() => fourierForward(ctx, { rows: 1, dims: 2, frequencies: [1, 2], outChannels: 8, channelOffset: 1 }, { x: b, y: b }), { instanceOf: NervError, message: /exceed/ });
  t.throws(() => fourierBackward(ctx, { rows: 1, dims: 1, frequencies: [], outChannels: 8, channelOffset: 0 }, { x: b, dy: b, dx: b }), { instanceOf: NervError });
});
