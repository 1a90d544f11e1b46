import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, dot, assertClose } from '../helpers/gradcheck.ts';
import {
  armContextBackwardCpu,
  armContextCpu,
  colourLossCpu,
  laplaceBits,
  latentGeometry,
  latentQuantizeCpu,
  latentRateCpu,
  softRound,
  softRoundSlope,
  upsampleLatentsBackwardCpu,
  upsampleLatentsCpu,
  type ContextSpec,
  type LatentGeometry,
  type QuantizeSettings,
} from '../../src/cpu/latents.ts';
import {
  armContext,
  colourLoss,
  latentGradient,
  latentQuantize,
  latentRate,
  latentUpsample,
  latentUpsampleBackward,
  levelsUniform,
  quantizeWords,
  slotWords,
  tapsUniform,
  targetFloatsPerFrame,
} from '../../src/gpu/kernels/latents.ts';
import { latentLevels, PROFILES, type ContextTap } from '../../src/nn/model.ts';

// Odd sizes: no level is a multiple of the 64-wide workgroup or of its stride.
const GEOMETRIES: { name: string; geom: LatentGeometry }[] = [
  { name: '13x9, 4 levels from stride 1', geom: geometry(13, 9, 4, 1) },
  { name: '21x7, 3 levels from stride 2', geom: geometry(21, 7, 3, 2) },
  { name: '2x3, 2 levels', geom: geometry(2, 3, 2, 1) },
];

function geometry(width: number, height: number, levels: number, firstStride: number): LatentGeometry {
  return latentGeometry(width, height, latentLevels({ width, height, levels, firstStride }));
}

const SPECS: { name: string; spec: ContextSpec }[] = [
  { name: 'checkerboard', spec: { taps: PROFILES.small.arm.taps, schedule: 'checkerboard' } },
  {
    name: 'raster',
    spec: {
      taps: [
        { from: 'current', dy: -1, dx: -1 },
        { from: 'current', dy: -1, dx: 0 },
        { from: 'current', dy: 0, dx: -1 },
        { from: 'previous', dy: 1, dx: 1 },
        { from: 'parent', dy: -1, dx: 1 },
        { from: 'parent', dy: 0, dx: 0 },
        { from: 'previous-parent', dy: 1, dx: -1 },
        { from: 'previous-parent', dy: 0, dx: 0 },
      ] satisfies ContextTap[],
      schedule: 'raster',
    },
  },
];

/** Integer-ish latents for 3 frames: frame 0 is the previous group's context, 1..2 the slot. */
function latentBuffer(geom: LatentGeometry, seed: number): Float32Array {
  return randomArray(3 * geom.perFrame, seed, 6);
}

for (const { name, geom } of GEOMETRIES) {
  test(`latent upsampling forward and backward match the CPU reference (${name})`, async (t) => {
    const ctx = await testContext();
    const latents = latentBuffer(geom, 3);
    const frames = 2;
    const expected = upsampleLatentsCpu(geom, latents.subarray(geom.perFrame), frames);
    const features = ctx.buffer(expected.length);
    const levels = levelsUniform(ctx, geom);
    const slot = ctx.upload(slotWords({ first: 1, count: frames, previousValid: true }));
    const dFeatures = randomArray(expected.length, 5);
    const dLatents = ctx.upload(randomArray(frames * geom.perFrame, 9, 7)); // garbage: must be overwritten
    ctx.run([
      latentUpsample(ctx, geom, frames, { latents: ctx.upload(latents), levels, slot, features }),
      latentUpsampleBackward(ctx, geom, frames, { dFeatures: ctx.upload(dFeatures), levels, dLatents }),
    ]);
    assertClose(t, maxRelativeError(await ctx.read(features, expected.length), expected), 1e-5, 'features');
    const expectedGrad = upsampleLatentsBackwardCpu(geom, dFeatures, frames);
    assertClose(t, maxRelativeError(await ctx.read(dLatents, expectedGrad.length), expectedGrad), 1e-5, 'dLatents');
  });

  test(`latent upsampling CPU gradient matches finite differences (${name})`, (t) => {
    const frames = 2;
    const latents = randomArray(frames * geom.perFrame, 17, 3);
    const r = randomArray(frames * geom.width * geom.height * geom.levels.length, 19);
    const analytic = upsampleLatentsBackwardCpu(geom, r, frames);
    const error = finiteDifferenceError((v) => dot(upsampleLatentsCpu(geom, v, frames), r), latents, analytic, probeIndices(latents.length, 40));
    assertClose(t, error, 2e-2, 'dLatents');
  });

  for (const { name: specName, spec } of SPECS) {
    for (const previousValid of [true, false]) {
      const label = `${name}, ${specName}, previous frame ${previousValid ? 'valid' : 'missing'}`;

      test(`context gather and latent gradient match the CPU reference (${label})`, async (t) => {
        const ctx = await testContext();
        const frames = 2;
        const n = frames * geom.perFrame;
        const D = spec.taps.length + 2;
        const latents = latentBuffer(geom, 23);
        const expected = armContextCpu(geom, spec, latents, 1, frames, previousValid);
        const levels = levelsUniform(ctx, geom);
        const taps = tapsUniform(ctx, spec);
        const slot = ctx.upload(slotWords({ first: 1, count: frames, previousValid }));
        const context = ctx.buffer(n * D);
        const dDistortion = randomArray(n, 29),
          dRate = randomArray(n, 31),
          slope = randomArray(n, 37);
        const dctxA = randomArray(n * D, 41),
          dctxB = randomArray(n * D, 43);
        const grad = ctx.upload(randomArray(n, 47, 5));
        ctx.run([
          armContext(ctx, geom, spec, frames, { latents: ctx.upload(latents), levels, taps, slot, context }),
          latentGradient(ctx, geom, spec, frames, {
            dDistortion: ctx.upload(dDistortion),
            dRate: ctx.upload(dRate),
            dctxA: ctx.upload(dctxA),
            dctxB: ctx.upload(dctxB),
            slope: ctx.upload(slope),
            levels,
            taps,
            slot,
            grad,
          }),
        ]);
        t.deepEqual(Array.from(await ctx.read(context, expected.length)), Array.from(expected), 'context rows are exact copies');
        const dctx = dctxA.map((v, i) => v + dctxB[i]);
        const fromContext = armContextBackwardCpu(geom, spec, dctx, 1, frames, previousValid);
        const expectedGrad = fromContext.map((v, i) => (v + dDistortion[i] + dRate[i]) * slope[i]);
        assertClose(t, maxRelativeError(await ctx.read(grad, n), expectedGrad), 1e-5, 'latent gradient');
      });

      test(`context gather CPU gradient matches finite differences (${label})`, (t) => {
        const frames = 2;
        const latents = latentBuffer(geom, 53);
        const D = spec.taps.length + 2;
        const r = randomArray(frames * geom.perFrame * D, 59);
        const analytic = armContextBackwardCpu(geom, spec, r, 1, frames, previousValid);
        const slotValues = latents.slice(geom.perFrame);
        const loss = (v: Float32Array) => {
          const all = Float32Array.from(latents);
          all.set(v, geom.perFrame);
          return dot(armContextCpu(geom, spec, all, 1, frames, previousValid), r);
        };
        assertClose(t, finiteDifferenceError(loss, slotValues, analytic, probeIndices(slotValues.length, 40)), 1e-2, 'dLatents');
      });
    }
  }
}

test('latent rate matches the CPU reference, and its gradients match finite differences', async (t) => {
  const ctx = await testContext();
  const geom = geometry(11, 7, 3, 1);
  const frames = 2;
  const n = frames * geom.perFrame;
  const latents = latentBuffer(geom, 61);
  const yhat = latents.subarray(geom.perFrame);
  // Means near the latents (cheap symbols) and far (expensive ones); log-scales across the clamp range.
  const mlp = randomArray(2 * n, 67, 4);
  const linear = randomArray(2 * n, 71, 2);
  const scale = 0.37;
  const expected = latentRateCpu(yhat, mlp, linear, scale);
  const stats = ctx.buffer(4);
  const dOut = ctx.buffer(2 * n),
    dRate = ctx.buffer(n);
  ctx.run([
    latentRate(
      ctx,
      geom,
      frames,
      {
        yhat: ctx.upload(latents),
        mlp: ctx.upload(mlp),
        linear: ctx.upload(linear),
        slot: ctx.upload(slotWords({ first: 1, count: frames, previousValid: true })),
        rate: ctx.upload(Float32Array.of(scale, 0, 0, 0)),
        dOut,
        dRate,
        stats,
      },
      2,
    ),
  ]);
  const bits = (await ctx.read(stats, 3))[2];
  t.true(Math.abs(bits - expected.bits) / expected.bits < 1e-4, `bits ${bits} vs ${expected.bits}`);
  assertClose(t, maxRelativeError(await ctx.read(dOut, 2 * n), expected.dOut), 1e-3, 'dOut');
  assertClose(t, maxRelativeError(await ctx.read(dRate, n), expected.dyhat), 1e-3, 'dRate');

  // Finite differences of the bits of one latent in each regime: far tail, near the centre bin.
  for (const [x, mu, logScale] of [
    [3.2, 0.4, 0.3],
    [0.2, 0.1, -1.2],
    [-0.3, 0.05, 1.7],
    [-6, 1.5, 1],
  ]) {
    const e = 1e-4;
    const analytic = laplaceBits(x, mu, logScale);
    const numeric = (f: (d: number) => number) => (f(e) - f(-e)) / (2 * e);
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-3 * (1 + Math.abs(b));
    t.true(
      close(
        analytic.dx,
        numeric((d) => laplaceBits(x + d, mu, logScale).bits),
      ),
      `dx at ${x}`,
    );
    t.true(
      close(
        analytic.dMu,
        numeric((d) => laplaceBits(x, mu + d, logScale).bits),
      ),
      `dMu at ${x}`,
    );
    t.true(
      close(
        analytic.dLogScale,
        numeric((d) => laplaceBits(x, mu, logScale + d).bits),
      ),
      `dLogScale at ${x}`,
    );
  }
});

test('the Laplace bin probabilities of the rate sum to one', (t) => {
  // Bins below the probability floor are billed 16 bits; the others must hold (almost) all the mass.
  for (const [mu, logScale] of [
    [0.3, -3],
    [2.7, 0.5],
    [-1.2, 3],
  ]) {
    let total = 0;
    for (let x = -2000; x <= 2000; x++) {
      const bits = laplaceBits(x, mu, logScale).bits;
      if (bits < 16) total += 2 ** -bits;
    }
    t.true(total <= 1 + 1e-9 && total > 1 - 1e-3, `mu ${mu} log-scale ${logScale}: ${total}`);
  }
});

for (const mode of ['soft', 'ste', 'hard'] as const) {
  test(`latent quantization proxy '${mode}' matches the CPU reference`, async (t) => {
    const ctx = await testContext();
    const geom = geometry(9, 5, 2, 1);
    const frames = 2;
    const n = frames * geom.perFrame;
    const latents = latentBuffer(geom, 73);
    const settings: QuantizeSettings = { mode, temperature: 0.3, noise: 0.2, seed: 12345 };
    const expected = latentQuantizeCpu(latents.subarray(geom.perFrame), settings, geom.perFrame);
    const yhat = ctx.upload(new Float32Array(latents.length));
    const slope = ctx.buffer(n);
    ctx.run([
      latentQuantize(ctx, geom, frames, {
        y: ctx.upload(latents.subarray(geom.perFrame)),
        settings: ctx.upload(new Uint32Array(quantizeWords(settings))),
        slot: ctx.upload(slotWords({ first: 1, count: frames, previousValid: true })),
        yhat,
        slope,
      }),
    ]);
    const all = await ctx.read(yhat, latents.length);
    t.true(
      all.subarray(0, geom.perFrame).every((v) => v === 0),
      'frame 0 (context) untouched',
    );
    assertClose(t, maxRelativeError(all.subarray(geom.perFrame), expected.yhat), 1e-4, 'yhat');
    assertClose(t, maxRelativeError(await ctx.read(slope, n), expected.slope), 1e-3, 'slope');
    if (mode !== 'soft')
      t.true(
        expected.yhat.every((v) => Number.isInteger(v)),
        'hard symbols are integers',
      );
  });
}

test('soft rounding: slope matches finite differences, integers are fixed points, low temperature rounds', (t) => {
  for (const temperature of [0.35, 0.1]) {
    for (const x of [-2.7, -0.51, 0.2, 0.49, 1.9]) {
      const e = 1e-5;
      const numeric = (softRound(x + e, temperature) - softRound(x - e, temperature)) / (2 * e);
      t.true(Math.abs(numeric - softRoundSlope(x, temperature)) < 1e-3 * (1 + Math.abs(numeric)), `T ${temperature} x ${x}`);
    }
    for (const n of [-3, 0, 4]) t.true(Math.abs(softRound(n, temperature) - n) < 1e-9, `softround(${n}) = ${n}`);
  }
  t.true(Math.abs(softRound(0.8, 0.01) - 1) < 1e-6, 'T -> 0 rounds');
});

for (const colour of ['yuv420', 'rgb'] as const) {
  for (const [width, height] of [
    [7, 5],
    [4, 6],
    [1, 1],
  ]) {
    test(`${colour} loss matches the CPU reference and finite differences (${width}x${height})`, async (t) => {
      const ctx = await testContext();
      const frames = 2;
      const shape = { n: frames, width, height };
      const pred = randomArray(frames * width * height * 3, 79, 0.5).map((v) => v + 0.5);
      const target = randomArray(frames * targetFloatsPerFrame({ colour, width, height }), 83, 0.5).map((v) => v + 0.5);
      const expected = colourLossCpu(colour, shape, pred, target);
      const grad = ctx.upload(randomArray(pred.length, 89, 4));
      const stats = ctx.buffer(2);
      ctx.run([colourLoss(ctx, { colour, frames, width, height }, { pred: ctx.upload(pred), target: ctx.upload(target), grad, stats }, 1)]);
      const loss = (await ctx.read(stats, 2))[1];
      t.true(Math.abs(loss - expected.loss) <= 1e-5 * expected.loss, `loss ${loss} vs ${expected.loss}`);
      assertClose(t, maxRelativeError(await ctx.read(grad, pred.length), expected.grad), 1e-5, 'grad');
      const error = finiteDifferenceError((v) => colourLossCpu(colour, shape, v, target).loss, pred, expected.grad, probeIndices(pred.length, 30), 1e-3);
      assertClose(t, error, 1e-2, 'CPU gradient');
    });
  }
}
