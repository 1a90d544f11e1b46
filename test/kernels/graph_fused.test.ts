// The fused training step against the generic composition (one dispatch per layer and op, each
// kernel tested against its CPU twin): a few GroupGraph steps on tiny odd-sized clips must give
// the same losses, latents and parameters up to float rounding; and the decoder's renderer alike.
import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { assertClose } from '../helpers/gradcheck.ts';
import { adamHyper } from '../../src/gpu/kernels/adam.ts';
import { targetFloatsPerFrame } from '../../src/gpu/kernels/latents.ts';
import { GroupGraph, SynthesisRenderer } from '../../src/nn/graph_gpu.ts';
import { describeModel, initialParameters, latentsPerFrame, modelTensors, type ModelDescription } from '../../src/nn/model.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

interface Run {
  stats: { distortion: number; bits: number }[][];
  latents: Float32Array;
  params: Float32Array[];
}

/** Trains every slot a few steps the way the trainer does (soft, then straight-through, then networks only), measuring after each. */
async function train(ctx: GpuContext, model: ModelDescription, slotFrames: number, kernels: 'generic' | 'fused', previous: boolean): Promise<Run> {
  const graph = new GroupGraph(ctx, model, model.groupSize, slotFrames, { kernels });
  const perFrame = latentsPerFrame(model);
  graph.setParameters(initialParameters(model, 5));
  graph.setLatents(randomArray(model.groupSize * perFrame, 7, 1.5));
  graph.setTargets(randomArray(model.groupSize * targetFloatsPerFrame(model), 11, 0.4).map((v) => v + 0.5));
  graph.setContextFrame(previous ? randomArray(perFrame, 13, 3).map(Math.round) : undefined);
  graph.setLambda(0.01);
  graph.resetOptimizer();
  const stats: Run['stats'] = [];
  const modes = ['soft', 'soft', 'ste', 'hard'] as const;
  for (let step = 0; step < modes.length; step++) {
    graph.tensorHyper.forEach((h, i) => ctx.write(h, adamHyper({ lr: 0.01 * (1 + (i % 3)) }, step + 1)));
    ctx.write(graph.latentHyper, adamHyper({ lr: 0.05 }, step + 1));
    graph.setQuantize({ mode: modes[step], temperature: 0.3, noise: 0.2, seed: 100 + step });
    for (let s = 0; s < graph.slots.length; s++) graph.step(s, modes[step]);
    graph.setQuantize({ mode: 'hard', temperature: 0.1, noise: 0, seed: 0 });
    const row = [];
    for (let s = 0; s < graph.slots.length; s++) {
      graph.evaluate(s);
      row.push(await graph.readStats(s));
    }
    stats.push(row);
  }
  return { stats, latents: await graph.getLatents(), params: await graph.getParameters() };
}

const CASES: { name: string; model: () => ModelDescription; slotFrames: number; previous: boolean }[] = [
  { name: '13x9, 3 frames in slots of 2 and 1, default model, key group', model: () => describeModel(13, 9, 3), slotFrames: 2, previous: false },
  {
    name: '7x5 rgb, 2 frames, raster context, wider head, predicted group',
    model: () =>
      describeModel(7, 5, 2, {
        colour: 'rgb',
        overrides: {
          levels: 3,
          synthesis: [
            { op: 'dense', out: 5, act: 'relu' },
            { op: 'dense', out: 4, act: 'leaky' },
            { op: 'conv3', out: 2, act: 'leaky' },
            { op: 'conv3', out: 3, act: 'none' },
          ],
          arm: {
            hidden: [6],
            schedule: 'raster',
            taps: [
              { from: 'current', dy: 0, dx: -1 },
              { from: 'current', dy: -1, dx: 1 },
              { from: 'previous', dy: 0, dx: 0 },
              { from: 'parent', dy: 0, dx: 0 },
              { from: 'previous-parent', dy: 1, dx: -1 },
              { from: 'previous-parent', dy: 0, dx: 0 },
            ],
          },
        },
      }),
    slotFrames: 2,
    previous: true,
  },
];

for (const c of CASES) {
  test(`fused and generic training steps agree (${c.name})`, async (t) => {
    const ctx = await testContext();
    const model = c.model();
    const generic = await train(ctx, model, c.slotFrames, 'generic', c.previous);
    const fused = await train(ctx, model, c.slotFrames, 'fused', c.previous);
    generic.stats.forEach((row, step) =>
      row.forEach((g, s) => {
        const f = fused.stats[step][s];
        t.true(Math.abs(f.distortion - g.distortion) <= 1e-4 * g.distortion, `step ${step} slot ${s}: distortion ${f.distortion} vs ${g.distortion}`);
        t.true(Math.abs(f.bits - g.bits) <= 1e-4 * g.bits + 1e-3, `step ${step} slot ${s}: bits ${f.bits} vs ${g.bits}`);
      }),
    );
    assertClose(t, maxRelativeError(fused.latents, generic.latents), 1e-4, 'latents');
    const tensors = modelTensors(model);
    generic.params.forEach((p, i) => assertClose(t, maxRelativeError(fused.params[i], p), 1e-4, tensors[i].name));
  });
}

test('the fused renderer draws what the generic one does', async (t) => {
  const ctx = await testContext();
  const model = describeModel(13, 9, 3);
  const params = modelTensors(model).map((s, i) => randomArray(s.size, 3 + i, 0.5));
  const latents = randomArray(latentsPerFrame(model), 17, 3).map(Math.round);
  const outputs = [];
  for (const kernels of ['generic', 'fused'] as const) {
    const renderer = new SynthesisRenderer(ctx, model, { kernels });
    t.is(renderer.composition, kernels);
    renderer.setParameters(params);
    outputs.push(await renderer.renderToCpu(latents));
  }
  assertClose(t, maxRelativeError(outputs[1], outputs[0]), 1e-5, 'colour');
});

test('models the fused kernels do not cover fall back to the generic ones', async (t) => {
  const ctx = await testContext();
  const model = describeModel(8, 6, 2, {
    overrides: {
      synthesis: [
        { op: 'dense', out: 8, act: 'relu' },
        { op: 'conv3', out: 6, act: 'relu' },
        { op: 'conv3', out: 3, act: 'none' },
      ],
    },
  });
  const graph = new GroupGraph(ctx, model, 2, 2);
  t.is(graph.composition, 'generic');
  t.regex(graph.fallback ?? '', /more than 4 channels/);
  t.throws(() => new GroupGraph(ctx, model, 2, 2, { kernels: 'fused' }), { message: /do not cover/ });
  t.is(new GroupGraph(ctx, describeModel(8, 6, 2), 2, 2).composition, 'fused');
});
