// Trains nervkit's per-group networks (float weights) on a real clip and prints step, loss, PSNR and steps/s.
//   npx tsx examples/train.ts [--input CLIP] [--frames 16] [--size WxH] [--group 8] [--steps 1500] [--later-steps 600] [--profile small]
// Without --input it trains on the built-in sample (examples/sample, 128x80); the README's figures are
// from OpenCV's vtest.avi at --size 160x96.
// Later groups start from the previous group's weights; the last lines report how many steps they needed
// to reach the first group's PSNR.
import { parseArgs } from 'node:util';
import { GpuContext } from '../src/gpu/context.ts';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { describeModel, initialParameters, macsPerPixel, parameterCount } from '../src/nn/model.ts';
import { GroupTrainer, DEFAULT_LEARNING_RATES } from '../src/train/trainer.ts';
import { openInputOrSample } from '../src/cli/sample.ts';
import { frameSize } from '../src/cli/main.ts';

const { values: args } = parseArgs({
  options: {
    input: { type: 'string' },
    frames: { type: 'string', default: '16' },
    size: { type: 'string' },
    group: { type: 'string', default: '8' },
    steps: { type: 'string', default: '1500' },
    'later-steps': { type: 'string', default: '600' },
    batch: { type: 'string', default: '2' },
    'log-every': { type: 'string', default: '50' },
    profile: { type: 'string', default: 'small' },
  },
});
const frameCount = Number(args.frames);
const groupSize = Number(args.group);
const scale = args.size ? frameSize(args.size) : undefined;

const source = await openInputOrSample(args.input, { maxFrames: frameCount, scale });
const { width, height } = source.info;
const frames: Float32Array[] = [];
for await (const frame of source.frames()) frames.push(frame.data);
await source.close();

const ctx = new GpuContext(await requestGpuDevice());
const model = describeModel(width, height, groupSize, args.profile);
console.log(`model ${model.profile}: ${parameterCount(model)} parameters, ${macsPerPixel(model)} MACs/pixel, ${frames.length} frames ${width}x${height}, groups of ${groupSize}`);
const trainer = new GroupTrainer(ctx, model, Number(args.batch));
let params = initialParameters(model, 1);
let firstGroupPsnr = 0;
const started = performance.now();
for (let g = 0; g * groupSize < frames.length; g++) {
  const group = frames.slice(g * groupSize, (g + 1) * groupSize);
  const steps = g === 0 ? Number(args.steps) : Number(args['later-steps']);
  const groupStart = performance.now();
  let reached: number | undefined;
  const result = await trainer.train(
    group,
    params,
    { steps, lr: DEFAULT_LEARNING_RATES, warmup: g === 0 ? 0.05 : 0.02, quantAwareFraction: 0, logEvery: Number(args['log-every']), seed: 1 + g },
    undefined,
    (r) => {
      const seconds = (performance.now() - groupStart) / 1000;
      if (g > 0 && reached === undefined && r.psnr >= firstGroupPsnr) reached = r.step;
      console.log(
        `group ${g} step ${r.step}/${r.steps} loss ${r.mse.toExponential(3)} psnr ${r.psnr.toFixed(2)} dB ` +
          `${(r.step / seconds).toFixed(2)} steps/s  elapsed ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
    },
  );
  params = result.params;
  const final = result.reports.at(-1)!.psnr;
  if (g === 0) firstGroupPsnr = final;
  else console.log(`group ${g}: reached group 0's ${firstGroupPsnr.toFixed(2)} dB after ${reached ?? `more than ${steps}`} steps (group 0 trained ${args.steps})`);
}
