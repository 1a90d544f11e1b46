// The fused synthesis kernels (head, narrow 3x3 layers with the loss fused into the last one, and
// their backward passes) against their CPU twins, and the twins' chain against finite differences.
import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { assertClose, finiteDifferenceError, probeIndices } from '../helpers/gradcheck.ts';
import { colourLossCpu, latentGeometry, type LatentGeometry } from '../../src/cpu/latents.ts';
import {
  fromVec4Pixels,
  rowSumsCpu,
  sumRecordsCpu,
  synthesisConvBackwardCpu,
  synthesisConvCpu,
  synthesisHeadBackwardCpu,
  synthesisHeadCpu,
} from '../../src/cpu/fused.ts';
import {
  convBackwardChunks,
  convLossTotal,
  convTiles,
  fusedSynthesisPlan,
  headBackwardPlan,
  synthesisConv,
  synthesisConvBackward,
  synthesisHead,
  synthesisHeadBackward,
  type FusedSynthesisPlan,
} from '../../src/gpu/kernels/synthesis_fused.ts';
import { rowSumLayout } from '../../src/gpu/kernels/latent_step.ts';
import { slotWords, targetFloatsPerFrame } from '../../src/gpu/kernels/latents.ts';
import { packedRange } from '../../src/gpu/kernels/packed.ts';
import { describeModel, latentLevels, modelTensors, type ModelDescription, type SynthesisLayer } from '../../src/nn/model.ts';
import { packedLayout, packParameters, planModel, unpackParameters, type PackedParameters } from '../../src/nn/layers.ts';

const WIDE: SynthesisLayer[] = [
  { op: 'dense', out: 5, act: 'relu' },
  { op: 'dense', out: 4, act: 'leaky' },
  { op: 'conv3', out: 2, act: 'leaky' },
  { op: 'conv3', out: 3, act: 'none' },
];

interface Case {
  width: number;
  height: number;
  levels: number;
  colour: 'yuv420' | 'rgb';
  synthesis?: SynthesisLayer[];
}

// Sizes that are not multiples of the 8 x 2 tile (odd heights, a 1-pixel frame) and one that is.
const CASES: Case[] = [
  { width: 13, height: 9, levels: 4, colour: 'yuv420' },
  { width: 7, height: 5, levels: 3, colour: 'rgb' },
  { width: 1, height: 1, levels: 2, colour: 'yuv420' },
  { width: 2, height: 3, levels: 2, colour: 'rgb', synthesis: WIDE },
  { width: 20, height: 6, levels: 5, colour: 'yuv420', synthesis: WIDE },
  { width: 16, height: 4, levels: 3, colour: 'yuv420' },
];

function modelFor(c: Case): ModelDescription {
  const overrides = { levels: c.levels, ...(c.synthesis ? { synthesis: c.synthesis } : {}) };
  const base = describeModel(Math.max(2, c.width), Math.max(2, c.height), 3, { colour: c.colour, overrides });
  return { ...base, width: c.width, height: c.height };
}

const name = (c: Case) => `${c.width}x${c.height}, ${c.levels} levels, ${c.colour}${c.synthesis ? ', head 5-4 ReLU, 3x3 4->2 ReLU -> 3' : ''}`;

/** The whole synthesis on the CPU twins: forward, loss and every gradient. */
function cpuChain(
  synth: FusedSynthesisPlan,
  params: Float32Array[],
  geom: LatentGeometry,
  latents: Float32Array,
  frames: number,
  colour: 'yuv420' | 'rgb',
  targets: Float32Array,
) {
  const shape = { frames, width: geom.width, height: geom.height };
  const head = synthesisHeadCpu(synth.head, params, geom, latents, 1, frames);
  const acts = [head.out];
  for (const layer of synth.convs) acts.push(synthesisConvCpu(layer, params, shape, acts.at(-1)!));
  const loss = colourLossCpu(colour, { n: frames, height: geom.height, width: geom.width }, acts.at(-1)!, targets);
  const grads = new Map<number, Float32Array>();
  const dxs: Float32Array[] = [];
  let dy = loss.grad;
  for (let k = synth.convs.length - 1; k >= 0; k--) {
    const layer = synth.convs[k];
    const producer = k === 0 ? synth.head.at(-1)! : synth.convs[k - 1];
    const back = synthesisConvBackwardCpu(layer, params, shape, acts[k], dy, producer.act);
    grads.set(layer.weight, back.dw);
    grads.set(layer.bias, back.db);
    dxs.unshift(back.dx);
    dy = back.dx;
  }
  const headBack = synthesisHeadBackwardCpu(synth.head, params, head.features, dy);
  for (const [k, g] of headBack.grads) grads.set(k, g);
  return { features: head.features, acts, loss: loss.loss, dOut: loss.grad, dxs, dFeatures: headBack.dFeatures, grads };
}

function recordGrads(
  layout: PackedParameters,
  partial: Float32Array,
  base: number,
  range: { firstVec4: number; vec4s: number },
  chunks: number,
): Float32Array[] {
  const full = new Float32Array(layout.floats);
  full.set(sumRecordsCpu(partial, base * 4, chunks, range.vec4s * 4), range.firstVec4 * 4);
  return unpackParameters(layout, full);
}

for (const c of CASES) {
  test(`fused synthesis kernels match the CPU twins (${name(c)})`, async (t) => {
    const ctx = await testContext();
    const model = modelFor(c);
    const plan = planModel(model);
    const synth = fusedSynthesisPlan(plan);
    if (typeof synth === 'string') throw new Error(synth);
    const geom = latentGeometry(model.width, model.height, latentLevels(model));
    const layout = packedLayout(plan.tensors);
    const frames = 2;
    const pixels = frames * c.width * c.height;
    const shape = { frames, width: c.width, height: c.height };
    const latents = randomArray(3 * geom.perFrame, 3, 2);
    const params = modelTensors(model).map((s, i) => randomArray(s.size, 7 + i, 0.5));
    const targets = randomArray(frames * targetFloatsPerFrame(model), 5, 0.5).map((v) => v + 0.5);
    const want = cpuChain(synth, params, geom, latents, frames, c.colour, targets);

    const paramBuffer = ctx.upload(packParameters(layout, params));
    const acts = [synth.head, ...synth.convs.slice(0, -1)].map(() => ctx.buffer(pixels * 4));
    const features = ctx.buffer(pixels * synth.featureVec4s * 4);
    const lastIn = acts.at(-1)!;
    const last = synth.convs.at(-1)!;
    const lossPartial = ctx.buffer(convTiles(frames, c.width, c.height));
    const stats = ctx.buffer(2);
    const dOut = ctx.buffer(pixels * 4);
    const output = ctx.buffer(pixels * 3);
    const headOnly = ctx.buffer(pixels * 4);
    const slot = ctx.upload(slotWords({ first: 1, count: frames, previousValid: true }));
    const latentBuffer = ctx.upload(latents);
    const programs = [
      synthesisHead(ctx, layout, geom, synth, frames, 1, { latents: latentBuffer, params: paramBuffer, slot, head: acts[0], features }),
      synthesisHead(ctx, layout, geom, synth, frames, 1, { latents: latentBuffer, params: paramBuffer, slot, head: headOnly }),
    ];
    synth.convs.slice(0, -1).forEach((layer, k) => {
      programs.push(synthesisConv(ctx, layout, layer, shape, { input: acts[k], params: paramBuffer }, { kind: 'store', out: acts[k + 1] }));
    });
    programs.push(
      synthesisConv(
        ctx,
        layout,
        last,
        shape,
        { input: lastIn, params: paramBuffer },
        { kind: 'loss', colour: c.colour, targets: ctx.upload(targets), grad: dOut, partial: lossPartial },
      ),
      convLossTotal(ctx, shape, lossPartial, stats, 1),
      synthesisConv(ctx, layout, last, shape, { input: lastIn, params: paramBuffer }, { kind: 'output', out: output }),
    );
    // Backward: each layer's records after the previous one's, past 2 vec4s left untouched.
    let base = 2;
    const records: { range: { firstVec4: number; vec4s: number }; base: number; chunks: number }[] = [];
    const dxs = synth.convs.map(() => ctx.buffer(pixels * 4));
    const partial = ctx.buffer(1 << 16);
    for (let k = synth.convs.length - 1; k >= 0; k--) {
      const layer = synth.convs[k];
      const producer = k === 0 ? synth.head.at(-1)! : synth.convs[k - 1];
      const range = packedRange(layout, [layer.weight, layer.bias]);
      const chunks = convBackwardChunks(frames, c.height);
      programs.push(
        synthesisConvBackward(
          ctx,
          layout,
          layer,
          shape,
          producer.act,
          {
            dy: k === synth.convs.length - 1 ? dOut : dxs[k + 1],
            input: acts[k],
            params: paramBuffer,
            dx: dxs[k],
            partial,
          },
          base,
        ),
      );
      records.push({ range, base, chunks });
      base += chunks * range.vec4s;
    }
    const dRows = ctx.upload(new Float32Array(rowSumLayout(geom, frames).floats).fill(NaN));
    const headPlan = headBackwardPlan(layout, synth, frames, c.height);
    programs.push(synthesisHeadBackward(ctx, layout, geom, synth, frames, { dHead: dxs[0], features, params: paramBuffer, dRows, partial }, base));
    records.push({ range: headPlan, base, chunks: headPlan.chunks });
    base += headPlan.chunks * headPlan.vec4s;
    t.true(base * 4 <= 1 << 16);
    ctx.run(programs);

    const close = async (buffer: GPUBuffer, channels: number, expected: Float32Array, what: string, tolerance = 1e-5) => {
      const got = channels === 4 ? await ctx.read(buffer, expected.length) : fromVec4Pixels(await ctx.read(buffer, pixels * 4), channels);
      assertClose(t, maxRelativeError(got, expected), tolerance, what);
    };
    await close(acts[0], synth.head.at(-1)!.outC, want.acts[0], 'head output');
    await close(headOnly, synth.head.at(-1)!.outC, want.acts[0], 'head output without features');
    await close(features, 4, padFeatures(want.features, synth), 'features');
    for (let k = 1; k < acts.length; k++) await close(acts[k], synth.convs[k - 1].outC, want.acts[k], `3x3 layer ${k - 1} output`);
    await close(output, 4, want.acts.at(-1)!, 'output (decoder layout)');
    const loss = (await ctx.read(stats, 2))[1];
    t.true(Math.abs(loss - want.loss) <= 1e-5 * want.loss, `loss ${loss} vs ${want.loss}`);
    await close(dOut, 3, want.dOut, 'd loss / d output');
    for (let k = 0; k < synth.convs.length; k++) await close(dxs[k], synth.convs[k].inC, want.dxs[k], `dx of 3x3 layer ${k}`, 1e-4);
    // Every latent column of every row written (the buffer started as NaN).
    const rows = await ctx.read(dRows, rowSumLayout(geom, frames).floats);
    assertClose(t, maxRelativeError(rows, rowSumsCpu(geom, frames, want.dFeatures)), 1e-4, 'd features summed along x');
    const all = await ctx.read(partial, base * 4);
    t.true(
      all.subarray(0, 8).every((v) => v === 0),
      'nothing written before the records',
    );
    for (const r of records) {
      const got = recordGrads(layout, all, r.base, r.range, r.chunks);
      for (const [index, expected] of want.grads) {
        const offset = layout.offsets[index] / 4;
        if (offset < r.range.firstVec4 || offset >= r.range.firstVec4 + r.range.vec4s) continue;
        assertClose(t, maxRelativeError(got[index], expected), 1e-4, `gradient of ${plan.tensors[index].name}`);
      }
    }
  });
}

/** Features [pixels, L] as featureVec4s vec4s per pixel. */
function padFeatures(features: Float32Array, synth: FusedSynthesisPlan): Float32Array {
  const pixels = features.length / synth.levels;
  const out = new Float32Array(pixels * synth.featureVec4s * 4);
  for (let p = 0; p < pixels; p++) for (let l = 0; l < synth.levels; l++) out[p * synth.featureVec4s * 4 + l] = features[p * synth.levels + l];
  return out;
}

test('the fused synthesis twins: gradients of the whole chain match finite differences', (t) => {
  const c: Case = { width: 6, height: 5, levels: 3, colour: 'yuv420', synthesis: WIDE };
  const model = modelFor(c);
  const plan = planModel(model);
  const synth = fusedSynthesisPlan(plan) as FusedSynthesisPlan;
  const geom = latentGeometry(c.width, c.height, latentLevels(model));
  const frames = 2;
  const latents = randomArray(3 * geom.perFrame, 3, 2);
  const params: Float32Array[] = modelTensors(model).map((s, i) => randomArray(s.size, 7 + i, 0.5));
  const targets = randomArray(frames * targetFloatsPerFrame(model), 5, 0.5).map((v) => v + 0.5);
  const want = cpuChain(synth, params, geom, latents, frames, c.colour, targets);
  for (const [index, analytic] of want.grads) {
    const loss = (v: Float32Array) => {
      const probe = params.slice();
      probe[index] = v;
      return cpuChain(synth, probe, geom, latents, frames, c.colour, targets).loss;
    };
    assertClose(t, finiteDifferenceError(loss, params[index], analytic, probeIndices(analytic.length, 10), 1e-3), 2e-2, plan.tensors[index].name);
  }
  // d loss / d features, through a probe of the features themselves (the head's input).
  const viaFeatures = (f: Float32Array) => {
    const acts = [synthesisHeadForFeatures(synth, params, f)];
    for (const layer of synth.convs) acts.push(synthesisConvCpu(layer, params, { frames, width: c.width, height: c.height }, acts.at(-1)!));
    return colourLossCpu(c.colour, { n: frames, height: c.height, width: c.width }, acts.at(-1)!, targets).loss;
  };
  assertClose(t, finiteDifferenceError(viaFeatures, want.features, want.dFeatures, probeIndices(want.features.length, 30), 1e-3), 2e-2, 'features');
});

/** The head's dense layers on given features (what synthesisHeadCpu does after the upsampling). */
function synthesisHeadForFeatures(synth: FusedSynthesisPlan, params: Float32Array[], features: Float32Array): Float32Array {
  const rows = features.length / synth.levels;
  let x = features;
  for (const layer of synth.head) {
    const y = new Float32Array(rows * layer.outC);
    for (let p = 0; p < rows; p++) {
      for (let o = 0; o < layer.outC; o++) {
        let s = params[layer.bias][o];
        for (let i = 0; i < layer.inC; i++) s += x[p * layer.inC + i] * params[layer.weight][i * layer.outC + o];
        y[p * layer.outC + o] = layer.act === 'relu' ? Math.max(s, 0) : layer.act === 'leaky' && s < 0 ? s / 16 : s;
      }
    }
    x = y;
  }
  return x;
}
