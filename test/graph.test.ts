// The whole training step of a group, checked as one function: the gradients the GPU graph computes
// for every network tensor and for the latents against central finite differences of the
// same loss (distortion + lambda * rate) evaluated with the CPU reference ops.
import test from 'ava';
import { testContext } from './helpers/gpu.ts';
import { describeModel, initialParameters, latentsPerFrame, mulberry32, ARM_HIDDEN_MAX } from '../src/nn/model.ts';
import { GroupGraph } from '../src/nn/graph_gpu.ts';
import { armForwardCpu, synthesizeCpu } from '../src/nn/network_cpu.ts';
import { contextSpec, modelGeometry, planModel } from '../src/nn/layers.ts';
import { armContextCpu, colourLossCpu, laplaceBits, softRound } from '../src/cpu/latents.ts';
import { targetFloatsPerFrame } from '../src/gpu/kernels/latents.ts';
import { ARM_LOG_SCALE_SHIFT } from '../src/nn/model.ts';

test('a training step computes the gradient of distortion + lambda * rate (finite differences)', async (t) => {
  const ctx = await testContext();
  const width = 11,
    height = 7,
    frames = 2;
  const model = describeModel(width, height, frames, { overrides: { levels: 3 } });
  const plan = planModel(model);
  const geom = modelGeometry(model);
  const spec = contextSpec(model);
  const perFrame = latentsPerFrame(model);
  const random = mulberry32(5);
  const params = initialParameters(model, 2).map((p) => p.map((v) => v + (random() - 0.5) * 0.3));
  const base = Float32Array.from({ length: perFrame }, () => Math.round((random() - 0.5) * 6));
  const latents = Float32Array.from({ length: frames * perFrame }, () => (random() - 0.5) * 6);
  const targets = Float32Array.from({ length: frames * targetFloatsPerFrame(model) }, () => random());
  const lambda = 0.01;
  const temperature = 0.4;
  const pixels = frames * width * height;

  const loss = (ps: Float32Array[], y: Float32Array) => {
    const yhat = y.map((v) => softRound(softRound(v, temperature), temperature));
    let distortion = 0;
    for (let j = 0; j < frames; j++) {
      const out = synthesizeCpu(model, ps, yhat.subarray(j * perFrame, (j + 1) * perFrame), plan);
      const tf = targetFloatsPerFrame(model);
      distortion += colourLossCpu(model.colour, { n: 1, width, height }, out, targets.subarray(j * tf, (j + 1) * tf)).loss / frames;
    }
    const all = new Float32Array((frames + 1) * perFrame);
    all.set(base);
    all.set(yhat, perFrame);
    const context = armContextCpu(geom, spec, all, 1, frames, true);
    const arm = armForwardCpu(model, ps, context, plan);
    let bits = 0;
    for (let i = 0; i < yhat.length; i++) bits += laplaceBits(yhat[i], arm[2 * i], arm[2 * i + 1] + ARM_LOG_SCALE_SHIFT).bits;
    return distortion + (lambda * bits) / pixels;
  };

  // The generic composition keeps per-tensor gradients; test/kernels/graph_fused.test.ts ties the fused step to it.
  const graph = new GroupGraph(ctx, model, frames, frames, { kernels: 'generic' });
  graph.setParameters(params);
  graph.setContextFrame(base);
  graph.setLatents(latents);
  graph.setTargets(targets);
  graph.setLambda(lambda);
  graph.resetOptimizer();
  // A zero learning rate: the step computes gradients and leaves every parameter where it was.
  const still = Float32Array.of(0, 0.9, 0.999, 1e-8, 1, 1, 0, 1);
  graph.tensorHyper.forEach((h) => ctx.write(h, still));
  ctx.write(graph.latentHyper, still);
  graph.setQuantize({ mode: 'soft', temperature, noise: 0, seed: 1 });
  graph.step(0, 'soft');
  const { tensors, latents: dLatents } = await graph.readGradients();

  const e = 1e-3;
  const numeric = (f: (d: number) => number) => (f(e) - f(-e)) / (2 * e);
  const check = (what: string, analytic: number, value: number) => {
    const ok = Math.abs(analytic - value) <= 0.05 * Math.max(Math.abs(value), 1e-3) + 2e-5;
    t.true(ok, `${what}: GPU ${analytic.toExponential(3)} vs finite differences ${value.toExponential(3)}`);
  };
  plan.tensors.forEach((spec, i) => {
    for (const j of [0, Math.floor(spec.size / 2), spec.size - 1]) {
      const value = numeric((d) =>
        loss(
          params.map((p, k) => (k === i ? p.map((v, m) => (m === j ? v + d : v)) : p)),
          latents,
        ),
      );
      check(`${spec.name}[${j}]`, tensors[i][j], value);
    }
  });
  for (const j of [0, 3, perFrame - 1, perFrame + 2, 2 * perFrame - 1]) {
    const value = numeric((d) =>
      loss(
        params,
        latents.map((v, m) => (m === j ? v + d : v)),
      ),
    );
    check(`latent ${j}`, dLatents[j], value);
  }
  t.true(ARM_HIDDEN_MAX > 0);
});
