// The network and trainer end to end on the CPU WebGPU adapter: GPU forward vs the CPU reference,
// training on a tiny moving pattern, the closed loop encoder -> file -> decoder, divergence handling.
import test from 'ava';
import { testContext, maxRelativeError } from './helpers/gpu.ts';
import { describeModel, initialParameters, modelTensors, mulberry32 } from '../src/nn/model.ts';
import { GpuRenderer } from '../src/nn/evaluate.ts';
import { forwardCpu } from '../src/nn/network_cpu.ts';
import { GroupTrainer, DEFAULT_LEARNING_RATES } from '../src/train/trainer.ts';
import { encodeFrames } from '../src/encode/encode.ts';
import { open } from '../src/decode/video.ts';
import { framePsnr } from '../src/metrics/psnr.ts';
import { NervError } from '../src/errors.ts';
import type { RgbFrame } from '../src/video/frame.ts';

/** A diagonal colour pattern and a bright square moving right by two pixels per frame. */
function movingPattern(width: number, height: number, count: number): RgbFrame[] {
  return Array.from({ length: count }, (_, t) => {
    const data = new Float32Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        const square = x >= 6 + 2 * t && x < 16 + 2 * t && y >= 8 && y < 18 ? 0.45 : 0;
        data[i] = 0.3 + 0.25 * Math.sin((x + y) / 6) + square;
        data[i + 1] = 0.5 + 0.3 * Math.cos(x / 7 - t / 3);
        data[i + 2] = 0.2 + 0.5 * (y / height) + square;
      }
    }
    return { width, height, data };
  });
}

/** PSNR of the best constant image (each channel's mean): what a network that learned nothing scores. */
function constantImagePsnr(frames: RgbFrame[]): number {
  return frames.reduce((sum, f) => {
    const mean = [0, 1, 2].map((c) => f.data.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (f.data.length / 3));
    return sum + framePsnr(f.data.map((_, i) => mean[i % 3]), f.data);
  }, 0) / frames.length;
}

test('the GPU forward pass matches the CPU reference on an odd frame size', async (t) => {
  const ctx = await testContext();
  const model = describeModel(37, 23, 3);
  const random = mulberry32(7);
  const params = modelTensors(model).map((spec) => Float32Array.from({ length: spec.size }, () => (random() * 2 - 1) * 0.5));
  const renderer = new GpuRenderer(ctx, model);
  renderer.setParameters(params);
  for (const j of [0, 2]) {
    const gpu = await renderer.renderToCpu(j);
    const cpu = forwardCpu(model, params, j);
    t.true(maxRelativeError(gpu, cpu) < 1e-4, `frame ${j}: ${maxRelativeError(gpu, cpu)}`);
  }
});

test('training on a moving pattern beats a constant image by a wide margin', async (t) => {
  const ctx = await testContext();
  const frames = movingPattern(48, 32, 4);
  const model = describeModel(48, 32, 4);
  const trainer = new GroupTrainer(ctx, model, 2);
  const schedule = { steps: 150, lr: DEFAULT_LEARNING_RATES, warmup: 0.05, quantAwareFraction: 0, logEvery: 50, seed: 3 };
  const { params, reports } = await trainer.train(frames.map((f) => f.data), initialParameters(model, 1), schedule, undefined);
  const renderer = new GpuRenderer(ctx, model);
  renderer.setParameters(params);
  let psnr = 0;
  for (let j = 0; j < frames.length; j++) psnr += framePsnr(await renderer.renderToCpu(j), frames[j].data) / frames.length;
  const baseline = constantImagePsnr(frames);
  t.log(`trained ${psnr.toFixed(2)} dB vs constant image ${baseline.toFixed(2)} dB; loss reports ${reports.map((r) => r.psnr.toFixed(1)).join(' ')}`);
  t.true(psnr > baseline + 8, `${psnr} dB vs constant ${baseline} dB`);
  t.true(reports.at(-1)!.psnr > reports[0].psnr, 'the loss went down');
});

test('closed loop: the decoder reproduces the PSNR the encoder reported', async (t) => {
  const ctx = await testContext();
  const frames = movingPattern(41, 23, 6); // an odd size; two groups of 4, the second one short
  const result = await encodeFrames(ctx, frames, { groupSize: 4, steps: 60, laterSteps: 30, seed: 5 });
  t.is(result.groups.length, 2);
  t.is(result.bpp, (result.bytes.length * 8) / (41 * 23 * 6));
  const encoderPsnr = result.groups.flatMap((g) => g.framePsnr);
  const gpu = await open(result.bytes, { device: ctx.device });
  t.is(gpu.backend, 'webgpu');
  const cpu = await open(result.bytes, { backend: 'cpu' });
  for (let i = 0; i < frames.length; i++) {
    const gpuPsnr = framePsnr(await gpu.frameRgb(i), frames[i].data);
    const cpuPsnr = framePsnr(await cpu.frameRgb(i), frames[i].data);
    t.true(Math.abs(gpuPsnr - encoderPsnr[i]) < 0.01, `frame ${i}: decoded ${gpuPsnr} vs encoder ${encoderPsnr[i]}`);
    t.true(Math.abs(cpuPsnr - encoderPsnr[i]) < 0.05, `frame ${i}: CPU decoded ${cpuPsnr} vs encoder ${encoderPsnr[i]}`);
  }
  const rgba = await gpu.frame(5);
  t.is(rgba.length, 41 * 23 * 4);
});

test('a diverging run restarts with lower learning rates, then fails with a typed error', async (t) => {
  const ctx = await testContext();
  const frames = movingPattern(24, 16, 2);
  const model = describeModel(24, 16, 2);
  const trainer = new GroupTrainer(ctx, model, 2);
  const huge = { grid: 1e9, weight: 1e9, bias: 1e9 };
  const attempts: number[] = [];
  const schedule = { steps: 20, lr: huge, warmup: 0, quantAwareFraction: 0, logEvery: 5, seed: 1 };
  const error = await t.throwsAsync(
    trainer.train(frames.map((f) => f.data), initialParameters(model, 1), schedule, undefined, (r) => attempts.push(r.step)),
  );
  t.true(error instanceof NervError && error.code === 'TRAINING', String(error));
  t.true(attempts.filter((s) => s === 5).length >= 2, 'it restarted at least once');
});

test('a target size steers the quantization steps towards that many bytes', async (t) => {
  const ctx = await testContext();
  const frames = movingPattern(40, 24, 4);
  const sizes: number[] = [];
  for (const targetBytes of [2500, 6000]) {
    const result = await encodeFrames(ctx, frames, { groupSize: 4, steps: 40, seed: 2, targetBytes, expectedFrames: 4 });
    sizes.push(result.bytes.length);
    t.true(result.bytes.length <= targetBytes * 1.15 && result.bytes.length >= targetBytes * 0.5, `${result.bytes.length} bytes for a ${targetBytes}-byte target`);
  }
  t.true(sizes[0] < sizes[1]);
});

test('the same seed on the same backend gives the same file', async (t) => {
  const ctx = await testContext();
  const frames = movingPattern(24, 16, 2);
  const first = await encodeFrames(ctx, frames, { groupSize: 2, steps: 25, seed: 9 });
  const second = await encodeFrames(ctx, frames, { groupSize: 2, steps: 25, seed: 9 });
  t.deepEqual(second.bytes, first.bytes);
});

test('zero frames and frames of mixed sizes are input errors', async (t) => {
  const ctx = await testContext();
  const empty = await t.throwsAsync(encodeFrames(ctx, []));
  t.true(empty instanceof NervError && empty.code === 'BAD_INPUT', String(empty));
  const mixed = [...movingPattern(24, 16, 1), ...movingPattern(26, 16, 1)];
  const error = await t.throwsAsync(encodeFrames(ctx, mixed, { groupSize: 2, steps: 2 }));
  t.true(error instanceof NervError && error.code === 'BAD_INPUT' && /26x16/.test(error.message), String(error));
});
