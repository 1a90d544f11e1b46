import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import { gridSampleForward, gridSampleBackward } from '../../src/gpu/kernels/grid.ts';
import { gridSampleForwardCpu, gridSampleBackwardCpu, type GridSampleShape } from '../../src/cpu/grid.ts';
import { NervError } from '../../src/errors.ts';

// Grids coarser and finer than the image, channel slices inside wider tensors, a 1x1 everything case.
// Times hit clamping below 0 and above T-1, exact integers and fractions.
const CASES: { shape: GridSampleShape; times: number[] }[] = [
  { shape: { n: 3, h: 7, w: 9, T: 3, Hg: 3, Wg: 4, C: 3, outChannels: 6, channelOffset: 2 }, times: [-0.3, 1.25, 2.6] },
  { shape: { n: 4, h: 5, w: 6, T: 4, Hg: 8, Wg: 9, C: 5, outChannels: 7, channelOffset: 1 }, times: [0, 3, 1.5, 3.7] },
  { shape: { n: 2, h: 13, w: 70, T: 2, Hg: 4, Wg: 17, C: 2, outChannels: 2, channelOffset: 0 }, times: [0.4, 1] },
  { shape: { n: 1, h: 1, w: 1, T: 1, Hg: 1, Wg: 1, C: 1, outChannels: 1, channelOffset: 0 }, times: [0.5] },
];

for (const [index, { shape, times: timeList }] of CASES.entries()) {
  const label = JSON.stringify(shape);
  const times = Float32Array.from(timeList);
  const gridLength = shape.T * shape.Hg * shape.Wg * shape.C;
  const yLength = shape.n * shape.h * shape.w * shape.outChannels;

  test(`grid sample forward and backward match the CPU reference ${label}`, async (t) => {
    const ctx = await testContext();
    const grid = randomArray(gridLength, 3 + index);
    const sentinel = randomArray(yLength, 40 + index); // channels outside the slice must survive
    const dy = randomArray(yLength, 50 + index);
    const gridBuffer = ctx.upload(grid), timesBuffer = ctx.upload(times), y = ctx.upload(sentinel), dyBuffer = ctx.upload(dy);
    const dgrid = ctx.upload(randomArray(gridLength, 7)); // overwritten, not accumulated
    ctx.run([
      gridSampleForward(ctx, shape, { grid: gridBuffer, times: timesBuffer, y }),
      gridSampleBackward(ctx, shape, { dy: dyBuffer, times: timesBuffer, dgrid }),
    ]);
    assertClose(t, maxRelativeError(await ctx.read(y, yLength), gridSampleForwardCpu(shape, grid, times, sentinel)), 1e-5, 'y');
    assertClose(t, maxRelativeError(await ctx.read(dgrid, gridLength), gridSampleBackwardCpu(shape, dy, times)), 1e-4, 'dgrid');
  });

  test(`grid sample CPU gradient matches finite differences ${label}`, (t) => {
    const grid = randomArray(gridLength, 13 + index);
    const r = randomArray(yLength, 60 + index);
    const dgrid = gridSampleBackwardCpu(shape, r, times);
    const loss = (g: Float32Array) => dot(gridSampleForwardCpu(shape, g, times), r);
    assertClose(t, finiteDifferenceError(loss, grid, dgrid, probeIndices(gridLength, 40)), 1e-2, 'dgrid');
  });
}

test('grid sample backward at the training size equals the CPU scatter', async (t) => {
  const shape: GridSampleShape = { n: 4, h: 96, w: 160, T: 8, Hg: 24, Wg: 40, C: 2, outChannels: 5, channelOffset: 3 };
  const times = Float32Array.from([0, 2.3, 4.7, 7]);
  const ctx = await testContext();
  const yLength = shape.n * shape.h * shape.w * shape.outChannels;
  const gridLength = shape.T * shape.Hg * shape.Wg * shape.C;
  const dy = randomArray(yLength, 77);
  const dgrid = ctx.buffer(gridLength);
  ctx.run([gridSampleBackward(ctx, shape, { dy: ctx.upload(dy), times: ctx.upload(times), dgrid })]);
  assertClose(t, maxRelativeError(await ctx.read(dgrid, gridLength), gridSampleBackwardCpu(shape, dy, times)), 1e-4, 'dgrid');
});

test('grid sample rejects a channel slice outside y and short buffers', async (t) => {
  const ctx = await testContext();
  const shape: GridSampleShape = { n: 1, h: 2, w: 2, T: 1, Hg: 2, Wg: 2, C: 2, outChannels: 3, channelOffset: 2 };
  const b = ctx.buffer(64);
  t.throws(() => gridSampleForward(ctx, shape, { grid: b, times: b, y: b }), { instanceOf: NervError, message: /exceed/ });
  t.throws(() => gridSampleBackward(ctx, { ...shape, channelOffset: 1, h: 40 }, { dy: b, times: b, dgrid: b }), { instanceOf: NervError, message: /buffer dy/ });
});
