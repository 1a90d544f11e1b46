// Trains one group of frames with the GPU training graph and prints how the distortion and the
// estimated rate evolve. Usage (without CLIP it trains on the built-in sample, examples/sample):
//   npx tsx examples/train.ts [CLIP] [--frames 8] [--steps 1000] [--lambda 0.002] [--scale 160x96]
import { parseArgs } from 'node:util';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { openInputOrSample } from '../src/cli/sample.ts';
import { frameSize } from '../src/cli/main.ts';
import { describeModel, initialParameters, latentsPerFrame, macsPerPixel, parameterCount } from '../src/nn/model.ts';
import { GroupGraph } from '../src/nn/graph_gpu.ts';
import { DEFAULT_SCHEDULE, psnrOfMse, trainGroup } from '../src/train/trainer.ts';
import { frameTargets } from '../src/encode/targets.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    frames: { type: 'string', default: '8' },
    steps: { type: 'string', default: '1000' },
    lambda: { type: 'string', default: '0.002' },
    scale: { type: 'string' },
    'lr-latents': { type: 'string' },
    'lr-networks': { type: 'string' },
  },
});
if (positionals.length > 1) {
  console.error('usage: npx tsx examples/train.ts [CLIP] [--frames 8] [--steps 1000] [--lambda 0.002] [--scale WxH]');
  process.exit(2);
}
const frameCount = Number(values.frames);
const scale = values.scale ? frameSize(values.scale) : undefined;
const source = await openInputOrSample(positionals[0], { maxFrames: frameCount, scale });
const frames = [];
for await (const frame of source.frames()) frames.push(frame);
await source.close();
const { width, height } = frames[0];
const colour = frames[0].yuv?.chroma === '420' ? 'yuv420' : 'rgb';
const model = describeModel(width, height, frames.length, { colour });
console.log(
  `${width}x${height}, ${frames.length} frames, ${colour}; ${parameterCount(model)} network parameters, ${latentsPerFrame(model)} latents per frame, ${macsPerPixel(model)} MACs/pixel`,
);

const ctx = new GpuContext(await requestGpuDevice());
const graph = new GroupGraph(ctx, model, frames.length, frames.length);
graph.setParameters(initialParameters(model, 1));
graph.setLatents(new Float32Array(frames.length * latentsPerFrame(model)));
graph.setTargets(frameTargets(model, frames));
graph.setContextFrame(undefined);
const pixels = width * height * frames.length;
const started = performance.now();
const result = await trainGroup(
  graph,
  {
    ...DEFAULT_SCHEDULE,
    steps: Number(values.steps),
    lambda: Number(values.lambda),
    seed: 1,
    lr: { latents: Number(values['lr-latents'] ?? DEFAULT_SCHEDULE.lr.latents), networks: Number(values['lr-networks'] ?? DEFAULT_SCHEDULE.lr.networks) },
  },
  (r) => {
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `step ${r.step}: ${psnrOfMse(r.distortion).toFixed(2)} dB, ${(r.bits / pixels).toFixed(4)} bpp (latents, estimated), loss ${r.loss.toExponential(3)}, ${seconds.toFixed(0)} s`,
    );
  },
);
console.log(`best: ${psnrOfMse(result.best.distortion).toFixed(2)} dB at ${(result.best.bits / pixels).toFixed(4)} bpp after ${result.best.step} steps`);
