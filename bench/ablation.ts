// Architecture ablation: trains the first group of a real clip with each model profile for the same
// wall-clock budget and reports PSNR, steps/s, parameters and MACs/pixel (docs/architecture.md: choose
// the architecture by measurement). Prints a table and writes bench/results/ablation.json.
//   npx tsx bench/ablation.ts [--input CLIP] [--size WxH] [--frames 8] [--seconds 120]
// Without --input it uses the built-in sample (128x80); the README's figures are from OpenCV's vtest.avi
// at --size 160x96.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GpuContext } from '../src/gpu/context.ts';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { PROFILES, describeModel, initialParameters, macsPerPixel, parameterCount } from '../src/nn/model.ts';
import { GroupTrainer, DEFAULT_LEARNING_RATES, type StepReport } from '../src/train/trainer.ts';
import { openInputOrSample } from '../src/cli/sample.ts';
import { frameSize } from '../src/cli/main.ts';

const { values: args } = parseArgs({
  options: {
    input: { type: 'string' },
    size: { type: 'string' },
    frames: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '120' },
  },
});
const scale = args.size ? frameSize(args.size) : undefined;
const budget = Number(args.seconds);
const source = await openInputOrSample(args.input, { maxFrames: Number(args.frames), scale });
const { width, height } = source.info;
const frames: Float32Array[] = [];
for await (const frame of source.frames()) frames.push(frame.data);
await source.close();

const ctx = new GpuContext(await requestGpuDevice());
const rows = [];
for (const name of Object.keys(PROFILES)) {
  const model = describeModel(width, height, frames.length, name);
  const trainer = new GroupTrainer(ctx, model, 2);
  // Compile every pipeline before the clock starts: compile time is a one-off, not a training cost.
  await trainer.train(frames, initialParameters(model, 1), { steps: 2, lr: DEFAULT_LEARNING_RATES, warmup: 0, quantAwareFraction: 0, logEvery: 1, seed: 1 }, undefined);
  // Steps that fit the budget, measured from a short timed run, then the real schedule.
  const probeStart = performance.now();
  await trainer.train(frames, initialParameters(model, 1), { steps: 20, lr: DEFAULT_LEARNING_RATES, warmup: 0, quantAwareFraction: 0, logEvery: 20, seed: 1 }, undefined);
  const stepsPerSecond = 20 / ((performance.now() - probeStart) / 1000);
  const steps = Math.max(50, Math.round(stepsPerSecond * budget));
  const started = performance.now();
  const { reports } = await trainer.train(frames, initialParameters(model, 1), { steps, lr: DEFAULT_LEARNING_RATES, warmup: 0.05, quantAwareFraction: 0, logEvery: 50, seed: 1 }, undefined);
  const seconds = (performance.now() - started) / 1000;
  const final = (reports.at(-1) as StepReport).psnr;
  rows.push({ profile: name, parameters: parameterCount(model), macsPerPixel: macsPerPixel(model), steps, seconds, stepsPerSecond: steps / seconds, psnr: final, curve: reports.map((r) => [r.step, r.psnr]) });
  console.log(`${name.padEnd(10)} ${String(parameterCount(model)).padStart(7)} params ${String(macsPerPixel(model)).padStart(5)} MACs/px ${String(steps).padStart(5)} steps in ${seconds.toFixed(0)} s (${(steps / seconds).toFixed(2)} steps/s): ${final.toFixed(2)} dB`);
}
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'ablation.json'), JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0].model, input: args.input ?? 'built-in sample', width, height, frames: frames.length, budgetSeconds: budget, rows }, null, 2));
