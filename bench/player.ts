// Decode speed of the player in headless Chromium (SwiftShader WebGPU) next to the Node decoder
// (Dawn + SwiftShader) on the same files, at two frame sizes. Writes bench/results/player.json.
//
//   npx tsx bench/player.ts [--sizes 160x96,320x192] [--frames 16] [--steps 30] [--seconds 5]
//
// decode ms/frame: weights load (when the group changes) + forward pass + copy, until the GPU has
// finished (onSubmittedWorkDone), frames in order, after one warm-up pass; sustained fps: frames the
// player showed per second while playing a 60 fps file in a loop (it drops frames it cannot decode
// in time, so this is the decoder-bound display rate); "Node read" adds the read-back to the CPU.
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { encode, open, requestGpuDevice } from '../src/index.ts';
import { buildBrowserBundle } from '../src/player/build.ts';
import { startPlayServer } from '../src/cli/play.ts';
import { launchChromium } from '../test/helpers/chromium.ts';
import type { RgbFrame } from '../src/video/frame.ts';
import type { NervPlayer } from '../src/player/player.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '160x96,320x192' },
    frames: { type: 'string', default: '16' },
    steps: { type: 'string', default: '30' },
    seconds: { type: 'string', default: '5' },
  },
});
const sizes = args.sizes!.split(',').map((s) => s.split('x').map(Number) as [number, number]);
const frameCount = Number(args.frames);
const playSeconds = Number(args.seconds);
const FPS = { num: 60, den: 1 };

function syntheticClip(width: number, height: number): RgbFrame[] {
  return Array.from({ length: frameCount }, (_, t) => {
    const data = new Float32Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        const disc = Math.hypot(x - width * (0.25 + 0.03 * t), y - height / 2) < height / 4 ? 0.4 : 0;
        data[i] = 0.5 + 0.4 * Math.sin((6 * Math.PI * x) / width + 0.4 * t);
        data[i + 1] = 0.5 + 0.4 * Math.cos((4 * Math.PI * y) / height - 0.3 * t);
        data[i + 2] = 0.15 + disc + 0.3 * (x / width);
      }
    }
    return { width, height, data };
  });
}

async function nodeDecode(bytes: Uint8Array, device: GPUDevice): Promise<{ gpuMs: number; readMs: number; adapter: string }> {
  // With the `webgpu` package a pending onSubmittedWorkDone does not keep Node's event loop alive:
  // without this timer the process would exit silently in the middle of the loop.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await nodeDecodeLoop(bytes, device);
  } finally {
    clearInterval(keepAlive);
  }
}

async function nodeDecodeLoop(bytes: Uint8Array, device: GPUDevice): Promise<{ gpuMs: number; readMs: number; adapter: string }> {
  const video = await open(bytes, { device });
  const n = video.info.frameCount;
  for (let i = 0; i < n; i++) await video.frame(i); // warm-up: pipelines compile on first use
  let started = performance.now();
  for (let i = 0; i < n; i++) {
    video.frameGpu(i);
    await device.queue.onSubmittedWorkDone();
  }
  const gpuMs = (performance.now() - started) / n;
  started = performance.now();
  for (let i = 0; i < n; i++) await video.frame(i);
  const readMs = (performance.now() - started) / n;
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return { gpuMs, readMs, adapter: info ? `${info.vendor} ${info.architecture}`.trim() : 'unknown' };
}

interface BrowserFigures {
  decodeMs: number;
  playback: { seconds: number; shownFps: number; nominalFps: number; droppedFrames: number; shownFrames: number; playerDecodeMs: number };
  adapter: string;
}

// All Node-side GPU work (Dawn) comes first: with Chromium running, Dawn + SwiftShader in this
// process aborted ("std::system_error: Invalid argument") in the middle of a decode loop.
const nodeDevice = await requestGpuDevice();
const clips: { width: number; height: number; bytes: Uint8Array; macsPerPixel: number; encodeSeconds: number; node: Awaited<ReturnType<typeof nodeDecode>> }[] = [];
for (const [width, height] of sizes) {
  const started = performance.now();
  const encoded = await encode(syntheticClip(width, height), { device: nodeDevice, groupSize: 8, steps: Number(args.steps), laterSteps: Number(args.steps), fps: FPS });
  const encodeSeconds = (performance.now() - started) / 1000;
  clips.push({ width, height, bytes: encoded.bytes, macsPerPixel: encoded.macsPerPixel, encodeSeconds, node: await nodeDecode(encoded.bytes, nodeDevice) });
}

const bundle = (await buildBrowserBundle({ write: false })).code;
const chromium = await launchChromium();
const rows: Record<string, unknown>[] = [];
try {
  for (const { width, height, bytes, macsPerPixel, encodeSeconds, node } of clips) {
    const server = await startPlayServer({ bundle, videos: { 'clip.nerv': bytes } });
    const page = await chromium.context.newPage();
    await page.goto(`${server.pageUrl('clip.nerv')}&autoplay=0&loop=1`);
    await page.waitForFunction('(window.playerEvents ?? []).includes("loadeddata")', null, { timeout: 120_000 });
    const browser: BrowserFigures = await page.evaluate(async (seconds) => {
      type Lib = { open(bytes: Uint8Array, o: { device: GPUDevice }): Promise<{ info: { frameCount: number }; frameGpu(i: number): { device: GPUDevice } }>; requestGpuDevice(): Promise<GPUDevice> };
      const lib = (window as unknown as { nervkit: Lib }).nervkit;
      const element = document.querySelector('nerv-video') as HTMLElement & { player: NervPlayer };
      // Library decode loop on its own device, as in Node.
      const bytes = new Uint8Array(await (await fetch('clip.nerv')).arrayBuffer());
      const device = await lib.requestGpuDevice();
      const video = await lib.open(bytes, { device });
      const n = video.info.frameCount;
      for (let i = 0; i < n; i++) {
        video.frameGpu(i);
        await device.queue.onSubmittedWorkDone();
      }
      let t0 = performance.now();
      for (let i = 0; i < n; i++) {
        video.frameGpu(i);
        await device.queue.onSubmittedWorkDone();
      }
      const decodeMs = (performance.now() - t0) / n;
      device.destroy();
      // The player, looping a 60 fps file.
      const player = element.player;
      await player.play();
      await new Promise((resolve) => setTimeout(resolve, 1000)); // settle
      const before = player.stats;
      t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const after = player.stats;
      const elapsed = (performance.now() - t0) / 1000;
      player.pause();
      const shown = after.shownFrames - before.shownFrames;
      const adapter = await navigator.gpu.requestAdapter();
      return {
        decodeMs,
        playback: {
          seconds: elapsed,
          shownFps: shown / elapsed,
          nominalFps: player.fps,
          droppedFrames: after.droppedFrames - before.droppedFrames,
          shownFrames: shown,
          playerDecodeMs: after.decodeMs,
        },
        adapter: adapter ? `${adapter.info.vendor} ${adapter.info.architecture}`.trim() : 'unknown',
      };
    }, playSeconds);
    await page.close();
    await server.close();
    const row = {
      size: `${width}x${height}`,
      frames: frameCount,
      bytes: bytes.length,
      macsPerPixel,
      encodeSeconds,
      node: { decodeMs: node.gpuMs, decodeAndReadMs: node.readMs, fps: 1000 / node.gpuMs, adapter: `Dawn ${node.adapter}` },
      chromium: { decodeMs: browser.decodeMs, fps: 1000 / browser.decodeMs, playback: browser.playback, adapter: `Chromium ${browser.adapter}` },
    };
    rows.push(row);
    console.log(
      `${row.size.padEnd(8)} decode ms/frame: Node ${node.gpuMs.toFixed(1)} (${node.readMs.toFixed(1)} with read-back), ` +
        `Chromium ${browser.decodeMs.toFixed(1)} (player ${browser.playback.playerDecodeMs.toFixed(1)}); ` +
        `playback ${browser.playback.shownFps.toFixed(1)} of ${browser.playback.nominalFps} fps, ${browser.playback.droppedFrames} dropped in ${browser.playback.seconds.toFixed(1)} s`,
    );
  }
} finally {
  await chromium.close();
}

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const result = {
  bench: 'player',
  date: new Date().toISOString(),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, no GPU (SwiftShader)`,
  note: 'decodeMs: in-order frames, each awaited until the GPU finished; playback: a 60 fps file looped in <nerv-video>',
  rows,
};
writeFileSync(new URL('./results/player.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
console.log('wrote bench/results/player.json');
