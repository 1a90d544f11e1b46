// The player in headless Chromium (SwiftShader WebGPU) next to the Node decoder (Dawn + SwiftShader)
// on the same files, at a few frame sizes: time to first frame, decode speed, playback rate.
// Writes bench/results/player.json (or --out).
//
//   npx tsx bench/player.ts [--sizes 96x64,160x96] [--frames 8] [--steps 30] [--seconds 3] [--out bench/results/player.json]
//
// Time to first frame: a fresh <nerv-video> is created in an already loaded page and its src set;
// 'loadedmetadata' and 'loadeddata' (first frame drawn) are timed from there, and the moment the
// player's GPU decoder takes over from the CPU one where it has both (player.gpuDecoding). "cold": the first load in a freshly launched browser (nothing compiled yet); "warm": the
// same file again in a new page of that browser (whatever Chromium caches across pages helps).
// The encoded files are kept in bench/out/ and reused, so runs before and after a change decode the
// same bytes.
//
// decode ms/frame: weights load (when the group changes) + forward pass + copy, until the GPU has
// finished (onSubmittedWorkDone), frames in order, after one warm-up pass; sustained fps: frames the
// player showed per second while playing a 60 fps file in a loop (it drops frames it cannot decode
// in time, so this is the decoder-bound display rate); "Node read" adds the read-back to the CPU.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { encode, open, requestGpuDevice } from '../src/index.ts';
import { buildBrowserBundle } from '../src/player/build.ts';
import { startPlayServer } from '../src/cli/play.ts';
import { launchChromium } from '../test/helpers/chromium.ts';
import { rgbToYuv, yuvToRgb } from '../src/video/color.ts';
import type { RgbFrame } from '../src/video/frame.ts';
import type { NervPlayer } from '../src/player/player.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '96x64,160x96' },
    frames: { type: 'string', default: '8' },
    steps: { type: 'string', default: '30' },
    seconds: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench/results/player.json' },
    label: { type: 'string', default: '' },
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
    // As a 4:2:0 source delivers it, so the file codes Y'CbCr 4:2:0 (format v2's usual colour).
    const yuv = rgbToYuv({ width, height, data }, '420');
    return { ...yuvToRgb(yuv), yuv };
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

/** Milliseconds from creating the element (and setting src) to each event. */
interface FirstFrame {
  metadataMs: number;
  firstFrameMs: number;
  /** Until the GPU decoder took over from the CPU one (players that have both). */
  gpuDecodingMs?: number;
}

// All Node-side GPU work (Dawn) comes first: with Chromium running, Dawn + SwiftShader in this
// process aborted ("std::system_error: Invalid argument") in the middle of a decode loop.
const nodeDevice = await requestGpuDevice();
const outDir = new URL('./out/', import.meta.url);
mkdirSync(outDir, { recursive: true });
const clips: {
  width: number;
  height: number;
  bytes: Uint8Array;
  macsPerPixel: number;
  encodeSeconds?: number;
  node: Awaited<ReturnType<typeof nodeDecode>>;
}[] = [];
for (const [width, height] of sizes) {
  const cached = new URL(`player-${width}x${height}-f${frameCount}-s${args.steps}.nerv`, outDir);
  let bytes: Uint8Array;
  let encodeSeconds: number | undefined;
  if (existsSync(cached)) {
    bytes = new Uint8Array(readFileSync(cached));
  } else {
    const started = performance.now();
    const encoded = await encode(syntheticClip(width, height), {
      device: nodeDevice,
      groupSize: 8,
      steps: Number(args.steps),
      laterSteps: Number(args.steps),
      fps: FPS,
    });
    encodeSeconds = (performance.now() - started) / 1000;
    bytes = encoded.bytes;
    writeFileSync(cached, bytes);
  }
  const macsPerPixel = (await open(bytes, { backend: 'cpu' })).info.macsPerPixel;
  clips.push({ width, height, bytes, macsPerPixel, encodeSeconds, node: await nodeDecode(bytes, nodeDevice) });
}

const bundle = (await buildBrowserBundle({ write: false })).code;

/** Loads `src` into a new <nerv-video> on the page (which has loaded the bundle) and times it. */
async function timeFirstFrame(chromium: Awaited<ReturnType<typeof launchChromium>>, server: Awaited<ReturnType<typeof startPlayServer>>): Promise<FirstFrame> {
  const page = await chromium.context.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(server.pageUrl('')); // no src: the page's own element stays empty
  await page.waitForFunction('document.documentElement.dataset.ready === "true"', null, { timeout: 60_000 });
  // A string, not a function: tsx's name-keeping helper (__name) does not exist in the page.
  const figures = (await page.evaluate(`(async () => {
    const started = performance.now();
    // Parsed, not document.createElement: before this bench found it, the element's constructor set
    // an attribute (data-state), which createElement refuses.
    const holder = document.createElement('div');
    holder.innerHTML = '<nerv-video></nerv-video>';
    const element = holder.firstElementChild;
    const times = {};
    for (const type of ['loadedmetadata', 'loadeddata']) element.addEventListener(type, () => (times[type] ??= performance.now() - started));
    const loaded = new Promise((resolve, reject) => {
      element.addEventListener('loadeddata', resolve, { once: true });
      element.addEventListener('error', () => reject(new Error(element.error?.message ?? 'error')), { once: true });
    });
    document.body.append(element); // upgraded here
    element.src = 'clip.nerv';
    await Promise.race([loaded, new Promise((_, reject) => setTimeout(() => reject(new Error('no first frame after 120 s: ' + element.dataset.state)), 120000))]);
    // When the GPU decoder took over (players that show CPU frames while its pipelines compile).
    let gpuDecodingMs;
    if (element.player.gpuDecoding !== undefined) {
      while (!element.player.gpuDecoding && performance.now() - started < 120000) await new Promise((resolve) => setTimeout(resolve, 10));
      gpuDecodingMs = performance.now() - started;
    }
    return { metadataMs: times.loadedmetadata, firstFrameMs: times.loadeddata, gpuDecodingMs };
  })()`)) as FirstFrame;
  await page.close();
  return figures;
}

const rows: Record<string, unknown>[] = [];
for (const { width, height, bytes, macsPerPixel, encodeSeconds, node } of clips) {
  // A fresh browser per file: the cold figure must not profit from the previous file's pipelines.
  const chromium = await launchChromium();
  const server = await startPlayServer({ bundle, videos: { 'clip.nerv': bytes } });
  try {
    const cold = await timeFirstFrame(chromium, server);
    const warm = await timeFirstFrame(chromium, server);
    const page = await chromium.context.newPage();
    await page.goto(`${server.pageUrl('clip.nerv')}&autoplay=0&loop=1`);
    await page.waitForFunction('(window.playerEvents ?? []).includes("loadeddata")', null, { timeout: 120_000 });
    const browser: BrowserFigures = await page.evaluate(async (seconds) => {
      type Lib = {
        open(bytes: Uint8Array, o: { device: GPUDevice }): Promise<{ info: { frameCount: number }; frameGpu(i: number): { device: GPUDevice } }>;
        requestGpuDevice(): Promise<GPUDevice>;
      };
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
    const row = {
      size: `${width}x${height}`,
      frames: frameCount,
      bytes: bytes.length,
      macsPerPixel,
      ...(encodeSeconds === undefined ? {} : { encodeSeconds }),
      firstFrame: { cold, warm },
      node: { decodeMs: node.gpuMs, decodeAndReadMs: node.readMs, fps: 1000 / node.gpuMs, adapter: `Dawn ${node.adapter}` },
      chromium: { decodeMs: browser.decodeMs, fps: 1000 / browser.decodeMs, playback: browser.playback, adapter: `Chromium ${browser.adapter}` },
    };
    rows.push(row);
  } finally {
    await server.close();
    await chromium.close();
  }
}

const ms = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(0));
const table = [
  ['size', 'metadata cold', 'first frame cold', 'GPU decoding cold', 'metadata warm', 'first frame warm', 'decode Chromium', 'decode Node', 'playback fps'],
  ...(
    rows as {
      size: string;
      firstFrame: { cold: FirstFrame; warm: FirstFrame };
      chromium: { decodeMs: number; playback: { shownFps: number; nominalFps: number } };
      node: { decodeMs: number };
    }[]
  ).map((row) => {
    const { cold, warm } = row.firstFrame;
    return [
      row.size,
      ms(cold.metadataMs),
      ms(cold.firstFrameMs),
      ms(cold.gpuDecodingMs),
      ms(warm.metadataMs),
      ms(warm.firstFrameMs),
      row.chromium.decodeMs.toFixed(1),
      row.node.decodeMs.toFixed(1),
      `${row.chromium.playback.shownFps.toFixed(1)} of ${row.chromium.playback.nominalFps}`,
    ];
  }),
];
console.log(
  `${args.label ? `${args.label}: ` : ''}ms from creating <nerv-video> to metadata, first frame drawn, GPU decoder in use; decode ms/frame; playback fps`,
);
for (const line of table) console.log(line.map((cell, i) => cell.padStart(i === 0 ? 0 : table[0][i].length).padEnd(i === 0 ? 8 : 0)).join('  '));

const result = {
  bench: 'player',
  ...(args.label ? { label: args.label } : {}),
  date: new Date().toISOString(),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, no GPU (SwiftShader)`,
  command: `npx tsx bench/player.ts ${process.argv.slice(2).join(' ')}`.trim(),
  note:
    'firstFrame: ms from creating <nerv-video> and setting src to loadedmetadata / loadeddata (first frame drawn), cold = first load in a fresh browser, warm = again in a new page; gpuDecodingMs: until the GPU decoder took over from the CPU one (players that have both); ' +
    'decodeMs: in-order frames, each awaited until the GPU finished; playback: a 60 fps file looped in <nerv-video>',
  rows,
};
mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(args.out!, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${args.out}`);
