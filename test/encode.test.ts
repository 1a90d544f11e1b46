// The model, trainer, encoder and decoder end to end on the CPU WebGPU adapter: GPU synthesis vs the
// CPU reference, training beats a constant image, the closed loop encoder -> file -> decoders,
// determinism, divergence that still yields a file, input errors.
import test from 'ava';
import { testContext, maxRelativeError } from './helpers/gpu.ts';
import { describeModel, initialParameters, latentsPerFrame, modelTensors, mulberry32 } from '../src/nn/model.ts';
import { NervReader } from '../src/format/nerv.ts';
import { latentCoder } from '../src/entropy/latents.ts';
import { RANS_STATE_BYTES } from '../src/entropy/rans.ts';
import { armTensorsOf } from '../src/quant/networks.ts';
import { SynthesisRenderer } from '../src/nn/graph_gpu.ts';
import { synthesizeCpu } from '../src/nn/network_cpu.ts';
import { encodeFrames } from '../src/encode/encode.ts';
import { open } from '../src/decode/video.ts';
import { framePsnr, psnrYuvPlanes } from '../src/metrics/psnr.ts';
import { rgbToYuv, yuvToRgb } from '../src/video/color.ts';
import { NervError } from '../src/errors.ts';
import type { RgbFrame } from '../src/video/frame.ts';

/** A diagonal colour pattern and a bright square moving right by two pixels per frame, as 4:2:0 Y4M frames would arrive. */
function movingPattern(width: number, height: number, count: number, colour: 'yuv420' | 'rgb' = 'yuv420'): RgbFrame[] {
  return Array.from({ length: count }, (_, t) => {
    const data = new Float32Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        const square = x >= 6 + 2 * t && x < 16 + 2 * t && y >= 8 && y < 18 ? 0.45 : 0;
        data[i] = 0.3 + 0.25 * Math.sin((x + y) / 6) + square;
        data[i + 1] = 0.5 + 0.3 * Math.cos(x / 7 - t / 3);
        data[i + 2] = 0.2 + 0.4 * (y / height) + square;
      }
    }
    const frame = { width, height, data };
    if (colour === 'rgb') return frame;
    const yuv = rgbToYuv(frame, '420');
    return { ...yuvToRgb(yuv), yuv };
  });
}

/**
 * PSNR of the best constant picture (each plane's or channel's mean), in the coded colour space (YUV
 * 6:1:1 on the 4:2:0 planes, or RGB): what a model that learned nothing scores.
 */
function constantImagePsnr(frames: RgbFrame[]): number {
  const constant = (plane: Uint8Array) => {
    const mean = Math.round(plane.reduce((a, b) => a + b, 0) / plane.length);
    return plane.map(() => mean);
  };
  return (
    frames.reduce((sum, f) => {
      if (f.yuv) return sum + psnrYuvPlanes({ ...f.yuv, y: constant(f.yuv.y), u: constant(f.yuv.u), v: constant(f.yuv.v) }, f.yuv).weighted;
      const mean = [0, 1, 2].map((c) => f.data.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (f.data.length / 3));
      return (
        sum +
        framePsnr(
          f.data.map((_, i) => mean[i % 3]),
          f.data,
        )
      );
    }, 0) / frames.length
  );
}

test('the GPU synthesis matches the CPU reference on an odd frame size', async (t) => {
  const ctx = await testContext();
  const model = describeModel(37, 23, 3);
  const random = mulberry32(7);
  const params = initialParameters(model, 3).map((p) => p.map((v) => v + (random() - 0.5) * 0.2));
  const renderer = new SynthesisRenderer(ctx, model);
  renderer.setParameters(params);
  for (const seed of [1, 2]) {
    const latents = Float32Array.from({ length: latentsPerFrame(model) }, () => Math.round((random() - 0.5) * 10 * seed));
    const gpu = await renderer.renderToCpu(latents);
    const cpu = synthesizeCpu(model, params, latents);
    t.true(maxRelativeError(gpu, cpu) < 1e-4, `latents ${seed}: ${maxRelativeError(gpu, cpu)}`);
  }
});

const SMALL = { groupSize: 2, keyInterval: 2, steps: 60, laterSteps: 30, lambda: 0.001 };

test("an encode beats a constant image by a wide margin, in Y'CbCr and in RGB", async (t) => {
  const ctx = await testContext();
  for (const colour of ['yuv420', 'rgb'] as const) {
    const frames = movingPattern(48, 32, 2, colour);
    const result = await encodeFrames(ctx, frames, { ...SMALL, steps: 150 });
    t.is(result.model.colour, colour);
    const constant = constantImagePsnr(frames);
    t.log(
      `${colour}: ${result.psnr.toFixed(2)} dB in its colour space (${result.psnrRgb.toFixed(2)} dB RGB) at ${result.bpp.toFixed(3)} bpp vs constant picture ${constant.toFixed(2)} dB`,
    );
    t.true(result.psnr > constant + 5, `${result.psnr} vs ${constant}`);
  }
});

test('closed loop: both decoders reproduce the PSNR the encoder reported, and the same seed gives the same file', async (t) => {
  const ctx = await testContext();
  const frames = movingPattern(37, 23, 4);
  const events: string[] = [];
  const result = await encodeFrames(ctx, frames, { ...SMALL, onProgress: (e) => events.push(e.phase) });
  t.deepEqual(
    result.groups.map((g) => g.key),
    [true, false],
  );
  t.true(events.includes('train') && events.includes('quantize') && events.at(-1) === 'done');
  for (const backend of ['webgpu', 'cpu'] as const) {
    const video = await open(result.bytes, { backend });
    t.is(video.info.colour, 'yuv420');
    await video.prepareGpu(); // compiles the GPU decoder's pipelines up front (a no-op on the CPU backend)
    const tolerance = backend === 'webgpu' ? 0.01 : 0.05;
    for (let i = 0; i < frames.length; i++) {
      const decoded = await video.frameYuv(i);
      const psnr = psnrYuvPlanes(decoded, frames[i].yuv!).weighted;
      const reported = result.groups[Math.floor(i / 2)].framePsnr[i % 2];
      t.true(Math.abs(psnr - reported) <= tolerance, `${backend} frame ${i}: decoded ${psnr.toFixed(3)} dB, encoder said ${reported.toFixed(3)} dB`);
      // What a player shows while the GPU pipelines compile: the CPU synthesis, whatever the backend.
      const error = maxRelativeError(video.synthesizedCpu(i), await video.synthesized(i));
      t.true(error < 1e-4, `${backend} frame ${i}: CPU synthesis differs by ${error}`);
    }
  }
  const again = await encodeFrames(ctx, frames, SMALL);
  t.deepEqual(again.bytes, result.bytes, 'same seed, same backend: same bytes');
});

test('the rate estimate of training agrees with the bytes the coder writes', async (t) => {
  const ctx = await testContext();
  const result = await encodeFrames(ctx, movingPattern(48, 32, 2), { ...SMALL, steps: 150 });
  const group = result.groups[0];
  const written = group.latentBytes * 8;
  const ratio = group.estimatedLatentBits / written;
  t.log(`training estimated ${group.estimatedLatentBits.toFixed(0)} bits, the file holds ${written} bits of latents (ratio ${ratio.toFixed(3)})`);
  // Training's estimate uses the float context model and float latents' soft bins; the file the
  // quantized, fixed-point model: close, not equal.
  t.true(Math.abs(ratio - 1) < 0.05, `ratio ${ratio}`);
  // The exact code length of the fixed-point model (what rate control counts) against the rANS output.
  const video = await open(result.bytes, { backend: 'cpu' });
  const reader = new NervReader(result.bytes);
  const coder = latentCoder(result.model, armTensorsOf(modelTensors(result.model), reader.group(0).tensors));
  const exact = coder.bits(
    [0, 1].map((i) => video.latents(i)),
    undefined,
  );
  // The stream ends with rANS's state, a fixed cost no symbol's code length includes (it is 2% of
  // this tiny group's stream).
  const payload = written - 8 * RANS_STATE_BYTES;
  t.true(Math.abs(exact / payload - 1) < 0.02, `exact ${exact.toFixed(0)} bits vs ${payload} written besides the final state`);
});

test('a group that keeps diverging still yields a file, with a warning', async (t) => {
  const ctx = await testContext();
  const result = await encodeFrames(ctx, movingPattern(24, 16, 2), { ...SMALL, steps: 120, learningRates: { latents: 1e9, networks: 1e6 } });
  t.true(result.bytes.length > 0);
  t.true(result.groups[0].diverged);
  t.regex(result.warnings.join('\n'), /group 0: training kept diverging/);
  const video = await open(result.bytes, { backend: 'cpu' });
  t.is(video.info.frameCount, 2);
});

test('zero frames and frames of mixed sizes are input errors', async (t) => {
  const ctx = await testContext();
  await t.throwsAsync(encodeFrames(ctx, [], SMALL), { instanceOf: NervError, message: /no frames/ });
  const mixed = [...movingPattern(24, 16, 1), ...movingPattern(20, 16, 1)];
  await t.throwsAsync(encodeFrames(ctx, mixed, SMALL), { instanceOf: NervError, message: /20x16/ });
});
