// Decode speed per frame, split into entropy decoding of the latents (the fixed-point context model
// and rANS, in JavaScript) and synthesis (CPU reference and WebGPU), at 320x192 and 1280x720.
// The files are synthetic (random networks and latents that mostly repeat the previous frame's, built
// by test/helpers/synthetic.ts): decode time does not depend on what the latents show.
//   npx tsx bench/decode.ts [--sizes 320x192,1280x720] [--frames 4]
// Prints a table and writes bench/results/decode.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { syntheticNerv } from '../test/helpers/synthetic.ts';
import { NervReader } from '../src/format/nerv.ts';
import { latentCoder } from '../src/entropy/latents.ts';
import { armTensorsOf, dequantizeTensors } from '../src/quant/networks.ts';
import { decodeCost, describeModel, latentsPerFrame, modelTensors } from '../src/nn/model.ts';
import { synthesizeCpu } from '../src/nn/network_cpu.ts';
import { SynthesisRenderer } from '../src/nn/graph_gpu.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { frameSize } from '../src/cli/main.ts';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '320x192,1280x720' }, frames: { type: 'string', default: '4' } } });
const sizes = values.sizes.split(',').map(frameSize);
const frames = Number(values.frames);
const ctx = new GpuContext(await requestGpuDevice());
const rows = [];
for (const { width, height } of sizes) {
  const model = describeModel(width, height, frames);
  const file = syntheticNerv({ model, frameCount: frames, groupSize: frames, keyInterval: 1, seed: 7 });
  const reader = new NervReader(file.bytes);
  const group = reader.group(0);
  const coder = latentCoder(model, armTensorsOf(modelTensors(model), group.tensors));
  // CPU time, not wall time: this machine's cores are shared, and the decoder is one thread.
  const cpu = process.cpuUsage();
  let started = performance.now();
  const latents = coder.decode(group.latents, frames, undefined);
  const entropyWallMs = (performance.now() - started) / frames;
  const used = process.cpuUsage(cpu);
  const entropyMs = (used.user + used.system) / 1000 / frames;
  const params = dequantizeTensors(group.tensors);
  started = performance.now();
  synthesizeCpu(model, params, Float32Array.from(latents[0]));
  const cpuMs = performance.now() - started;
  const renderer = new SynthesisRenderer(ctx, model);
  renderer.setParameters(params);
  await renderer.renderToCpu(Float32Array.from(latents[0])); // compiles the pipelines
  started = performance.now();
  for (let j = 0; j < frames; j++) {
    renderer.render(Float32Array.from(latents[j]));
    await ctx.finish();
  }
  const gpuMs = (performance.now() - started) / frames;
  const cost = decodeCost(model);
  const row = {
    width,
    height,
    latentsPerFrame: latentsPerFrame(model),
    bytesPerFrame: group.latents.length / frames,
    entropyCpuMsPerFrame: entropyMs,
    entropyWallMsPerFrame: entropyWallMs,
    synthesisCpuMsPerFrame: cpuMs,
    synthesisWebgpuMsPerFrame: gpuMs,
    macsPerPixel: Math.round(cost.total),
  };
  rows.push(row);
  console.log(
    `${width}x${height}: ${row.latentsPerFrame} latents/frame; entropy decoding ${entropyMs.toFixed(1)} ms CPU per frame (JavaScript, one thread; ${entropyWallMs.toFixed(1)} ms wall), ` +
      `synthesis ${cpuMs.toFixed(1)} ms (CPU reference) / ${gpuMs.toFixed(1)} ms (WebGPU, ${ctx.device.adapterInfo?.description || 'adapter'}); ${row.macsPerPixel} MACs/px`,
  );
}
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'decode.json'), JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0].model, cores: cpus().length, rows }, null, 2));
