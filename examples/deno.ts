// nervkit in Deno, on Deno's built-in WebGPU (navigator.gpu; on a machine without a GPU it finds
// lavapipe from mesa-vulkan-drivers): encode a tiny synthetic clip, open the .nerv bytes, decode
// every frame and print the PSNR and timings. The same imports work in Node and browsers.
//
//   deno run --allow-env=XDG_RUNTIME_DIR examples/deno.ts [--size 32x24] [--frames 6] [--steps 60] [--json]
//   (or through the npm package: npx deno run --allow-env=XDG_RUNTIME_DIR examples/deno.ts)
// The one permission lets nervkit set XDG_RUNTIME_DIR where it is missing (headless machines), which
// keeps the Vulkan loader from printing "XDG_RUNTIME_DIR is invalid or not set"; it works without.
import { encode, open, requestGpuDevice, type RgbFrame } from '../src/index.ts';

// The project type-checks with Node's types; this is the little of Deno's namespace used here.
declare const Deno: { args: string[]; version: { deno: string } };

const args = Deno.args;
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
};
const [width, height] = option('size', '32x24').split('x').map(Number);
const frameCount = Number(option('frames', '6'));
const steps = Number(option('steps', '60'));
const json = args.includes('--json');

/** Smooth colour waves and a moving disc: easy to fit in a few steps. */
function syntheticFrame(t: number): RgbFrame {
  const data = new Float32Array(width * height * 3);
  const cx = width * (0.3 + 0.05 * t);
  const cy = height * 0.5;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const disc = Math.hypot(x - cx, y - cy) < height / 4 ? 0.35 : 0;
      data[i] = 0.5 + 0.35 * Math.sin((2 * Math.PI * x) / width + 0.3 * t);
      data[i + 1] = 0.5 + 0.35 * Math.cos((2 * Math.PI * y) / height - 0.2 * t);
      data[i + 2] = 0.2 + disc + 0.2 * (x / width);
    }
  }
  return { width, height, data };
}

const source = Array.from({ length: frameCount }, (_, t) => syntheticFrame(t));
const device = await requestGpuDevice();
const adapterInfo = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;

let started = performance.now();
const encoded = await encode(source, { device, groupSize: Math.min(4, frameCount), steps, laterSteps: Math.ceil(steps / 2), seed: 1 });
const encodeSeconds = (performance.now() - started) / 1000;

const video = await open(encoded.bytes, { device });
started = performance.now();
const psnrs: number[] = [];
for (let i = 0; i < video.info.frameCount; i++) {
  const rgba = await video.frame(i);
  let squared = 0;
  const src = source[i].data;
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      const d = rgba[p * 4 + c] - Math.min(255, Math.max(0, Math.round(src[p * 3 + c] * 255)));
      squared += d * d;
    }
  }
  const mse = squared / (width * height * 3);
  psnrs.push(mse === 0 ? 100 : 10 * Math.log10((255 * 255) / mse));
}
const decodeMs = (performance.now() - started) / video.info.frameCount;

const summary = {
  runtime: `deno ${Deno.version.deno}`,
  adapter: adapterInfo ? `${adapterInfo.vendor} ${adapterInfo.architecture} ${adapterInfo.description}`.trim() : 'unknown',
  backend: video.backend,
  size: `${width}x${height}`,
  frames: video.info.frameCount,
  bytes: encoded.bytes.length,
  bpp: video.info.bpp,
  encodePsnr: encoded.psnr,
  decodedPsnr: psnrs.reduce((a, b) => a + b, 0) / psnrs.length,
  encodeSeconds,
  decodeMsPerFrame: decodeMs,
};
if (json) {
  console.log(JSON.stringify(summary));
} else {
  console.log(`nervkit in ${summary.runtime} on ${summary.adapter} (${summary.backend})`);
  console.log(
    `encoded ${summary.frames} frames of ${summary.size} into ${summary.bytes} bytes (${summary.bpp.toFixed(3)} bpp) in ${encodeSeconds.toFixed(1)} s`,
  );
  console.log(`decoded at ${summary.decodedPsnr.toFixed(2)} dB (encoder said ${summary.encodePsnr.toFixed(2)} dB), ${decodeMs.toFixed(1)} ms/frame`);
}
