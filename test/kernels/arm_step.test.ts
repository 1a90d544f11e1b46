// The fused context-model step against its CPU twin (the generic composition's reference ops), and
// the twin's gradients against finite differences.
import test from 'ava';
import { testContext, randomArray, maxRelativeError } from '../helpers/gpu.ts';
import { finiteDifferenceError, probeIndices, assertClose } from '../helpers/gradcheck.ts';
import { armContextCpu, latentGeometry, type LatentGeometry } from '../../src/cpu/latents.ts';
import { armLatentGradientCpu, armStepCpu, sumRecordsCpu } from '../../src/cpu/fused.ts';
import { denseForwardCpu } from '../../src/cpu/dense.ts';
import { activationForwardCpu } from '../../src/cpu/activation.ts';
import { armStep, armStepPlan } from '../../src/gpu/kernels/arm_step.ts';
import { levelsUniform, slotWords } from '../../src/gpu/kernels/latents.ts';
import { ARM_HIDDEN_MAX, describeModel, latentLevels, modelTensors, PROFILES, type ArmDescription, type ModelDescription } from '../../src/nn/model.ts';
import { contextSpec, packedLayout, packParameters, planModel, unpackParameters, type ModelPlan } from '../../src/nn/layers.ts';

interface Case {
  name: string;
  width: number;
  height: number;
  levels: number;
  firstStride: number;
  arm: ArmDescription;
}

const RASTER: ArmDescription = {
  hidden: [5],
  taps: [
    { from: 'current', dy: -1, dx: -1 },
    { from: 'current', dy: -1, dx: 0 },
    { from: 'current', dy: 0, dx: -1 },
    { from: 'previous', dy: 1, dx: 1 },
    { from: 'parent', dy: -1, dx: 1 },
    { from: 'parent', dy: 0, dx: 0 },
    { from: 'previous-parent', dy: 1, dx: -1 },
    { from: 'previous-parent', dy: 0, dx: 0 },
  ],
  schedule: 'raster',
};

// Odd sizes: no level is a multiple of the chunk (128 latents) or the 64-wide workgroup.
const CASES: Case[] = [
  { name: '13x9, 4 levels, default context model', width: 13, height: 9, levels: 4, firstStride: 1, arm: PROFILES.small.arm },
  { name: '21x7, 3 levels from stride 2, raster, one hidden layer of 5', width: 21, height: 7, levels: 3, firstStride: 2, arm: RASTER },
  { name: '9x5, 2 levels, no hidden layer', width: 9, height: 5, levels: 2, firstStride: 1, arm: { ...PROFILES.small.arm, hidden: [] } },
  { name: '1x1, 2 levels', width: 1, height: 1, levels: 2, firstStride: 1, arm: { ...PROFILES.small.arm, hidden: [3, 2] } },
];

/** A model for the kernel: describeModel needs 2x2 at least, the kernels do not. */
function modelFor(c: Case): ModelDescription {
  const base = describeModel(Math.max(2, c.width), Math.max(2, c.height), 3, { overrides: { levels: c.levels, firstStride: c.firstStride, arm: c.arm } });
  return { ...base, width: c.width, height: c.height };
}

function geometryOf(model: ModelDescription): LatentGeometry {
  return latentGeometry(model.width, model.height, latentLevels(model));
}

/** ARM weights of both signs, one hidden unit pushed past the 255 ceiling for some rows. */
function parameters(model: ModelDescription, seed: number): Float32Array[] {
  const params = modelTensors(model).map((t, i) => randomArray(t.size, seed + i, t.role === 'arm' ? 0.4 : 0.1));
  const plan = planModel(model);
  if (plan.arm.length > 1) params[plan.arm[0].bias][0] = 254.5;
  return params;
}

for (const c of CASES) {
  for (const [first, previousValid] of [
    [1, false],
    [1, true],
    [2, true],
  ] as const) {
    test(`fused ARM step matches the CPU twin (${c.name}, first frame ${first}, previous ${previousValid ? 'valid' : 'missing'})`, async (t) => {
      const ctx = await testContext();
      const model = modelFor(c);
      const geom = geometryOf(model);
      const plan = planModel(model);
      const spec = contextSpec(model);
      const layout = packedLayout(plan.tensors);
      const frames = 2;
      const latents = randomArray((first + frames) * geom.perFrame, 7 + first, 6).map(Math.round);
      const params = parameters(model, 11);
      const scale = 0.37;
      const expected = armStepCpu(plan, params, geom, spec, latents, first, frames, previousValid, scale);
      const step = armStepPlan(plan, layout, geom, spec, frames);
      const base = 3; // records start past a few vec4s that must stay untouched
      const partial = ctx.upload(randomArray((base + step.chunks * step.vec4s) * 4, 5, 9));
      const dctx = ctx.buffer(step.latents * step.dctxVec4s * 4);
      const bits = ctx.buffer(step.chunks);
      const common = {
        yhat: ctx.upload(latents),
        params: ctx.upload(packParameters(layout, params)),
        levels: levelsUniform(ctx, geom),
        slot: ctx.upload(slotWords({ first, count: frames, previousValid })),
        rate: ctx.upload(Float32Array.of(scale, 0, 0, 0)),
      };
      const evaluateBits = ctx.buffer(step.chunks);
      ctx.run([
        armStep(ctx, plan, layout, geom, spec, step, first, { ...common, bits, dctx, partial }, base),
        armStep(ctx, plan, layout, geom, spec, step, first, { ...common, bits: evaluateBits }),
      ]);
      const total = (await ctx.read(bits, step.chunks)).reduce((a, b) => a + b, 0);
      t.true(Math.abs(total - expected.bits) <= 1e-4 * expected.bits, `bits ${total} vs ${expected.bits}`);
      const evaluated = (await ctx.read(evaluateBits, step.chunks)).reduce((a, b) => a + b, 0);
      t.is(evaluated, total, 'the forward-only variant prices the same');

      const T = spec.taps.length;
      const D = plan.armInputs;
      const rows = await ctx.read(dctx, step.latents * step.dctxVec4s * 4);
      const width = step.dctxVec4s * 4;
      const gotTaps = Float32Array.from({ length: step.latents * T }, (_, e) => rows[Math.floor(e / T) * width + (e % T)]);
      const wantTaps = Float32Array.from({ length: step.latents * T }, (_, e) => expected.dctx[Math.floor(e / T) * D + (e % T)]);
      assertClose(t, maxRelativeError(gotTaps, wantTaps), 1e-4, 'dctx');
      const gotRate = Float32Array.from({ length: step.latents }, (_, i) => rows[i * width + T]);
      assertClose(t, maxRelativeError(gotRate, expected.dRate), 1e-4, 'd rate / d latent');

      const all = await ctx.read(partial, (base + step.chunks * step.vec4s) * 4);
      const untouched = randomArray(base * 4, 5, 9);
      t.deepEqual(Array.from(all.subarray(0, base * 4)), Array.from(untouched), 'nothing written before the records');
      const summed = sumRecordsCpu(all, base * 4, step.chunks, step.vec4s * 4);
      const full = new Float32Array(layout.floats);
      full.set(summed, step.firstVec4 * 4);
      const grads = unpackParameters(layout, full);
      for (const [index, want] of expected.grads) {
        assertClose(t, maxRelativeError(grads[index], want), 2e-4, `gradient of ${plan.tensors[index].name}`);
      }
    });
  }
}

/**
 * Shifts each hidden layer's biases so that no row's pre-activation lies near a kink of the capped
 * ReLU (0 and ARM_HIDDEN_MAX): a finite difference across a kink matches neither side's gradient.
 * The margin covers what a probe of `epsilon` on a weight or a latent moves a pre-activation by.
 */
function awayFromKinks(plan: ModelPlan, params: Float32Array[], context: Float32Array, epsilon: number): void {
  let inputs = context;
  let inC = plan.armInputs;
  const rows = context.length / inC;
  for (const layer of plan.arm.filter((l) => l.hidden)) {
    const w = params[layer.weight];
    const b = params[layer.bias];
    const margin = 4 * epsilon * Math.max(1, ...inputs.map(Math.abs));
    const z = denseForwardCpu(inputs, w, b, { rows, inC, outC: layer.outC });
    for (let o = 0; o < layer.outC; o++) {
      const clearance = (shift: number) => {
        let least = Infinity;
        for (let r = 0; r < rows; r++) {
          const v = z[r * layer.outC + o] + shift;
          least = Math.min(least, Math.abs(v), Math.abs(v - ARM_HIDDEN_MAX));
        }
        return least;
      };
      let best = 0;
      for (let k = 1; k <= 500 && clearance(best) < margin; k++) {
        for (const shift of [k * 1e-3, -k * 1e-3]) if (clearance(shift) > clearance(best)) best = shift;
      }
      if (clearance(best) < margin) throw new Error(`no bias shift keeps unit ${o} of layer ${layer.bias} ${margin} away from a kink`);
      b[o] += best;
      for (let r = 0; r < rows; r++) z[r * layer.outC + o] += best;
    }
    inputs = activationForwardCpu(z, { count: z.length, kind: 'cappedRelu' }, ARM_HIDDEN_MAX);
    inC = layer.outC;
  }
}

test('the ARM step twin: parameter and latent gradients match finite differences', (t) => {
  // Few latents: the rate's f32 intermediates add noise that grows with their count.
  const model = modelFor({ ...CASES[0], width: 6, height: 5, levels: 2 });
  const geom = geometryOf(model);
  const plan = planModel(model);
  const spec = contextSpec(model);
  const latents = randomArray(3 * geom.perFrame, 19, 3);
  // Broad Laplaces (log-scale ~1): with narrow ones the rate has kinks steep enough (|x - mu| = 1/2,
  // slope ~1/b) that some of the many latents always sits within a finite-difference step of one.
  const params: Float32Array[] = parameters(model, 23).map((p) => p.map((v) => v / 4));
  params[plan.arm.at(-1)!.bias][1] = 3;
  awayFromKinks(plan, params, armContextCpu(geom, spec, latents, 1, 2, true), 1e-3);
  const scale = 0.5;
  const result = armStepCpu(plan, params, geom, spec, latents, 1, 2, true, scale);
  for (const [index, analytic] of result.grads) {
    const loss = (v: Float32Array) => {
      const probe: Float32Array[] = params.slice();
      probe[index] = v;
      return armStepCpu(plan, probe, geom, spec, latents, 1, 2, true, scale).bits * scale;
    };
    assertClose(t, finiteDifferenceError(loss, params[index], analytic, probeIndices(analytic.length, 12), 1e-3), 3e-2, plan.tensors[index].name);
  }
  const slot = latents.slice(geom.perFrame);
  const analytic = armLatentGradientCpu(geom, spec, result, 1, 2, true);
  const loss = (v: Float32Array) => {
    const all = Float32Array.from(latents);
    all.set(v, geom.perFrame);
    return armStepCpu(plan, params, geom, spec, all, 1, 2, true, scale).bits * scale;
  };
  assertClose(t, finiteDifferenceError(loss, slot, analytic, probeIndices(slot.length, 40), 1e-3), 3e-2, 'latents');
});
