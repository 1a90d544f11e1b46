// The fused latent backward step (upsampling gradient along y, context gradient, slope, Adam)
// against its CPU twin; the twin's parts are checked against finite differences in latents.test.ts.
import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { assertClose } from '../helpers/gradcheck.ts';
import { latentGeometry, type ContextSpec, type LatentGeometry } from '../../src/cpu/latents.ts';
import { latentStepCpu, rowSumsCpu } from '../../src/cpu/fused.ts';
import { latentStep, rowSumLayout } from '../../src/gpu/kernels/latent_step.ts';
import { adamHyper } from '../../src/gpu/kernels/adam.ts';
import { latentLevels, PROFILES } from '../../src/nn/model.ts';

function geometry(width: number, height: number, levels: number, firstStride: number): LatentGeometry {
  return latentGeometry(width, height, latentLevels({ width, height, levels, firstStride }));
}

// Odd sizes (no row a multiple of 4), a 1-pixel frame, and a wide one whose coarsest level has stride 64.
const GEOMETRIES: { name: string; geom: LatentGeometry }[] = [
  { name: '13x9, 4 levels from stride 1', geom: geometry(13, 9, 4, 1) },
  { name: '21x7, 3 levels from stride 2', geom: geometry(21, 7, 3, 2) },
  { name: '2x3, 2 levels', geom: geometry(2, 3, 2, 1) },
  { name: '1x1, 2 levels', geom: geometry(1, 1, 2, 1) },
  { name: '150x37, 7 levels', geom: geometry(150, 37, 7, 1) },
];

const SPECS: { name: string; spec: ContextSpec }[] = [
  { name: 'checkerboard', spec: { taps: PROFILES.small.arm.taps, schedule: 'checkerboard' } },
  {
    name: 'raster',
    spec: {
      taps: [
        { from: 'current', dy: -1, dx: -1 },
        { from: 'current', dy: 0, dx: -2 },
        { from: 'previous', dy: 1, dx: 1 },
        { from: 'parent', dy: -1, dx: 1 },
        { from: 'parent', dy: 0, dx: 0 },
        { from: 'previous-parent', dy: 1, dx: -1 },
        { from: 'previous-parent', dy: 0, dx: 0 },
      ],
      schedule: 'raster',
    },
  },
];

for (const { name, geom } of GEOMETRIES) {
  for (const { name: specName, spec } of SPECS) {
    for (const frames of [1, 2]) {
      test(`fused latent step matches the CPU twin (${name}, ${specName}, ${frames} frame${frames > 1 ? 's' : ''})`, async (t) => {
        const ctx = await testContext();
        const n = frames * geom.perFrame;
        const T = spec.taps.length;
        const D = T + 2;
        const DV = Math.ceil((T + 1) / 4);
        const dFeatures = randomArray(frames * geom.width * geom.height * geom.levels.length, 3);
        const dctxRows = randomArray(n * DV * 4, 5);
        for (let i = 0; i < n; i++) dctxRows.fill(NaN, i * DV * 4 + T + 1, (i + 1) * DV * 4); // padding is never read
        const dctx = Float32Array.from({ length: n * D }, (_, e) => (e % D < T ? dctxRows[Math.floor(e / D) * DV * 4 + (e % D)] : 0));
        const dRate = Float32Array.from({ length: n }, (_, i) => dctxRows[i * DV * 4 + T]);
        const slope = randomArray(n, 7, 2);
        const y = randomArray(n, 11, 4),
          m = randomArray(n, 13, 0.1),
          v = randomArray(n, 17, 0.1).map(Math.abs);
        const hyper = adamHyper({ lr: 0.05 }, 3);
        const state = { y: y.slice(), m: m.slice(), v: v.slice(), hyper };
        latentStepCpu(geom, spec, frames, { dFeatures, dctx, dRate, slope }, state);

        // The x-reduction is synthesis_head_backward's (tested there); this kernel finishes along y.
        const rows = rowSumsCpu(geom, frames, dFeatures);
        t.is(rows.length, rowSumLayout(geom, frames).floats);
        const buffers = {
          dRows: ctx.upload(rows),
          dctx: ctx.upload(dctxRows),
          slope: ctx.upload(slope),
          hyper: ctx.upload(hyper),
          y: ctx.upload(y),
          m: ctx.upload(m),
          v: ctx.upload(v),
        };
        ctx.run([latentStep(ctx, geom, spec, frames, buffers)]);
        assertClose(t, maxRelativeError(await ctx.read(buffers.m, n), state.m), 1e-5, 'm (the gradient)');
        assertClose(t, maxRelativeError(await ctx.read(buffers.v, n), state.v), 1e-5, 'v');
        assertClose(t, maxRelativeError(await ctx.read(buffers.y, n), state.y), 1e-5, 'y');
      });
    }
  }
}
