// The browser player end to end: headless Chromium (SwiftShader WebGPU) loads examples/player.html
// from `nervkit play`'s server, streams a small .nerv file made here, plays, seeks, and the canvas
// pixels must match the Node decoder's frames; corrupt files and a missing WebGPU show an error.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { encode, open, requestGpuDevice } from '../src/index.ts';
import { NervReader } from '../src/format/index.ts';
import { buildBrowserBundle } from '../src/player/build.ts';
import { startPlayServer, type PlayServer } from '../src/cli/play.ts';
import { launchChromium, type Chromium } from './helpers/chromium.ts';
import type { RgbFrame } from '../src/video/frame.ts';
import { rgbToYuv, yuvToRgb } from '../src/video/color.ts';

// The README's picture of the player; rewritten only on request, so that tests leave tracked files alone.
const SCREENSHOT = fileURLToPath(new URL('../examples/screenshot.png', import.meta.url));
const UPDATE_SCREENSHOT = process.env.NERVKIT_UPDATE_SCREENSHOT === '1';
const WIDTH = 32;
const HEIGHT = 24;
const FRAMES = 8;
const GROUP = 4;

function syntheticClip(): RgbFrame[] {
  return Array.from({ length: FRAMES }, (_, t) => {
    const data = new Float32Array(WIDTH * HEIGHT * 3);
    for (let y = 0; y < HEIGHT; y++) {
      for (let x = 0; x < WIDTH; x++) {
        const i = (y * WIDTH + x) * 3;
        const disc = Math.hypot(x - (8 + 2 * t), y - 12) < 6 ? 0.4 : 0;
        data[i] = 0.5 + 0.4 * Math.sin((2 * Math.PI * x) / WIDTH + 0.4 * t);
        data[i + 1] = 0.5 + 0.4 * Math.cos((2 * Math.PI * y) / HEIGHT - 0.3 * t);
        data[i + 2] = 0.15 + disc + 0.3 * (x / WIDTH);
      }
    }
    // As a 4:2:0 Y4M source delivers it: the player's Y'CbCr-to-RGB shader is what gets tested.
    const yuv = rgbToYuv({ width: WIDTH, height: HEIGHT, data }, '420');
    return { ...yuvToRgb(yuv), yuv };
  });
}

interface Fixture {
  server: PlayServer;
  chromium: Chromium;
  bytes: Uint8Array;
  /** The Node decoder's RGBA frames: what the canvas must show. */
  expected: Uint8ClampedArray[];
  /** Where chunk 1 starts: the held download stops there. */
  group0End: number;
}

let fixture: Promise<Fixture> | undefined;

function setup(): Promise<Fixture> {
  fixture ??= (async () => {
    // The Node side (Dawn) starts before any child process: creating a Dawn instance while esbuild's
    // service or Chromium runs aborts Node ("std::system_error: Invalid argument").
    const device = await requestGpuDevice();
    const encoded = await encode(syntheticClip(), { device, groupSize: GROUP, steps: 12, laterSteps: 6, seed: 3, fps: { num: 12, den: 1 } });
    const bundle = await buildBrowserBundle({ write: false });
    const bytes = encoded.bytes;
    const video = await open(bytes, { device });
    const expected: Uint8ClampedArray[] = [];
    for (let i = 0; i < FRAMES; i++) expected.push(await video.frame(i));
    const reader = new NervReader(bytes);
    const group0End = reader.dataStart + reader.index[0].offset + reader.index[0].size;
    const corruptChunk = bytes.slice();
    corruptChunk[reader.dataStart + reader.index[1].offset + 2] ^= 0x10; // inside group 1's chunk
    const corruptHeader = bytes.slice();
    corruptHeader[24] ^= 0x01;
    const server = await startPlayServer({
      bundle: bundle.code,
      videos: { 'clip.nerv': bytes, 'slow.nerv': bytes, 'bad-chunk.nerv': corruptChunk, 'bad-header.nerv': corruptHeader },
      holdAfter: { 'slow.nerv': group0End },
    });
    const chromium = await launchChromium();
    return { server, chromium, bytes, expected, group0End };
  })();
  return fixture;
}

test.after.always(async () => {
  if (!fixture) return;
  const { server, chromium } = await fixture;
  await chromium.close();
  await server.close();
});

/** Opens the example page on `video`, without autoplay and loop (the test drives playback). */
async function openPage(f: Fixture, video: string, options: { noWebGpu?: boolean } = {}): Promise<Page> {
  const page = await f.chromium.context.newPage();
  // A string, not a function: tsx's name-keeping helper (__name) does not exist in the page.
  if (options.noWebGpu) await page.addInitScript({ content: "Object.defineProperty(Navigator.prototype, 'gpu', { get() { return undefined; } });" });
  await page.goto(`${f.server.pageUrl(video)}&autoplay=0&loop=0`);
  return page;
}

/** The element's events so far, in order (recorded by examples/player.js). */
const EVENTS = 'window.playerEvents';
const hasEvent = (type: string) => `(${EVENTS} ?? []).includes(${JSON.stringify(type)})`;

/** Shows frame i (seek) and returns how far the canvas is from the Node decoder's frame i. */
async function compareFrame(page: Page, f: Fixture, i: number): Promise<{ max: number; mean: number; frame: number }> {
  const pixels = await page.evaluate(async (index) => {
    const player = (document.querySelector('nerv-video') as unknown as { player: import('../src/player/player.ts').NervPlayer }).player;
    await player.seekToFrame(index);
    return { data: Array.from(player.snapshot().data), frame: player.currentFrame };
  }, i);
  return { ...difference(pixels.data, f.expected[i]), frame: pixels.frame };
}

function difference(actual: number[], expected: Uint8ClampedArray): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let p = 0; p < expected.length; p++) {
    if (p % 4 === 3) continue;
    const d = Math.abs(actual[p] - expected[p]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / ((expected.length / 4) * 3) };
}

const playerState = (page: Page) =>
  page.evaluate(() => {
    const element = document.querySelector('nerv-video') as HTMLElement & { player: import('../src/player/player.ts').NervPlayer };
    const p = element.player;
    return {
      state: element.dataset.state,
      frame: p.currentFrame,
      paused: p.paused,
      ended: p.ended,
      stats: p.stats,
      events: (window as unknown as { playerEvents: string[] }).playerEvents,
    };
  });

// First, in a browser that has compiled nothing yet.
test.serial('the first frame comes from the CPU decoder while the GPU pipelines compile; both match the Node decoder', async (t) => {
  const f = await setup();
  const page = await f.chromium.context.newPage();
  await page.goto(f.server.pageUrl('')); // the page's own element stays empty
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 20_000 });
  const shown = await page.evaluate(async () => {
    type Player = import('../src/player/player.ts').NervPlayer;
    const lib = (window as unknown as { nervkit: { NervPlayer: new (canvas: HTMLCanvasElement, options: object) => Player } }).nervkit;
    const canvas = document.createElement('canvas');
    document.body.append(canvas);
    const player = new lib.NervPlayer(canvas, { cpuWhileCompiling: true });
    await player.load(new URL('clip.nerv', document.baseURI)); // resolves with frame 0 on the canvas
    const cpu = { fromGpu: player.gpuDecoding, frame: player.currentFrame, data: Array.from(player.snapshot().data) };
    const started = performance.now();
    while (!player.gpuDecoding && performance.now() - started < 60_000) await new Promise((resolve) => setTimeout(resolve, 50));
    await player.seekToFrame(1);
    await player.seekToFrame(0);
    const gpu = { fromGpu: player.gpuDecoding, frame: player.currentFrame, data: Array.from(player.snapshot().data) };
    player.destroy();
    return { cpu, gpu };
  });
  // Compiling the decoder's pipelines on SwiftShader takes seconds; a 32x24 frame on the CPU, milliseconds.
  t.false(shown.cpu.fromGpu, 'the first frame came from the CPU decoder');
  t.true(shown.gpu.fromGpu, 'then the GPU decoder took over');
  for (const [name, frame] of Object.entries(shown)) {
    t.is(frame.frame, 0);
    const { max, mean } = difference(frame.data, f.expected[0]);
    t.true(max <= 2 && mean < 0.5, `${name} frame 0: max difference ${max}, mean ${mean.toFixed(3)}`);
  }
  await page.close();
});

test.serial('streams: metadata and frame 0 show before the rest of the file arrives, then it plays through', async (t) => {
  const f = await setup();
  const page = await openPage(f, 'slow.nerv');
  await page.waitForFunction(hasEvent('loadeddata'), null, { timeout: 20_000 });
  const early = await playerState(page);
  t.is(early.stats.groupsReady, 1, 'only chunk 0 has arrived');
  t.is(early.stats.bytesLoaded, f.group0End);
  t.is(early.stats.bytesTotal, f.bytes.length);
  t.is(early.frame, 0);
  t.true(early.events.indexOf('loadedmetadata') < early.events.indexOf('loadeddata'));
  const first = await compareFrame(page, f, 0);
  t.true(first.max <= 2, `frame 0 differs by up to ${first.max}`);

  // Play: frames 0..3 come from group 0; frame 4 needs chunk 1, so the player waits for it. Once
  // the GPU decoder is in use: playing while its pipelines compiled (CPU frames), the player showed
  // only 2 of 7 frames here (SwiftShader's compile keeps Chromium's GPU process and both cores busy).
  await page.waitForFunction(
    () => (document.querySelector('nerv-video') as unknown as { player: import('../src/player/player.ts').NervPlayer }).player.gpuDecoding,
    null,
    { timeout: 60_000 },
  );
  await page.evaluate(() => (document.querySelector('nerv-video') as unknown as { play(): Promise<void> }).play());
  await page.waitForFunction(hasEvent('waiting'), null, { timeout: 20_000 });
  const stalled = await playerState(page);
  t.true(stalled.frame >= 0 && stalled.frame < GROUP, `stalled on frame ${stalled.frame}`);
  t.false(stalled.paused);
  f.server.release();
  await page.waitForFunction(hasEvent('ended'), null, { timeout: 30_000 });
  const done = await playerState(page);
  t.true(done.ended && done.paused);
  t.is(done.frame, FRAMES - 1);
  t.is(done.stats.bytesLoaded, f.bytes.length);
  t.true(done.stats.shownFrames >= FRAMES - 2, `shown ${done.stats.shownFrames}`);
  t.true(done.stats.decodeMs > 0);
  for (const type of ['play', 'playing', 'timeupdate', 'pause', 'ended']) t.true(done.events.includes(type), type);
  await page.close();
});

test.serial('every frame on the canvas matches the Node decoder; seeking back and forth', async (t) => {
  const f = await setup();
  const page = await openPage(f, 'clip.nerv', {});
  await page.waitForFunction(hasEvent('loadeddata'), null, { timeout: 20_000 });
  // Frames from the GPU decoder (until its pipelines are compiled, the player decodes on the CPU).
  await page.waitForFunction(
    () => (document.querySelector('nerv-video') as unknown as { player: import('../src/player/player.ts').NervPlayer }).player.gpuDecoding,
    null,
    { timeout: 60_000 },
  );
  for (const i of [5, 2, 7, 0, 4, 1, 6, 3]) {
    const { max, mean, frame } = await compareFrame(page, f, i);
    t.is(frame, i);
    t.true(max <= 2 && mean < 0.5, `frame ${i}: max difference ${max}, mean ${mean.toFixed(3)}`);
  }
  // Seek through the element's currentTime (seconds) as a <video> would, then the scrub bar.
  const seekedTo = await page.evaluate(async () => {
    const element = document.querySelector('nerv-video') as HTMLElement & { currentTime: number; player: import('../src/player/player.ts').NervPlayer };
    const seeked = new Promise((resolve) => element.addEventListener('seeked', resolve, { once: true }));
    element.currentTime = 0.5; // 12 fps: frame 6
    await seeked;
    const afterTime = { frame: element.player.currentFrame, time: element.currentTime };
    const scrub = element.shadowRoot!.querySelector('input')!;
    const second = new Promise((resolve) => element.addEventListener('seeked', resolve, { once: true }));
    scrub.value = '3';
    scrub.dispatchEvent(new Event('input'));
    await second;
    return { afterTime, afterScrub: element.player.currentFrame };
  });
  t.deepEqual(seekedTo.afterTime, { frame: 6, time: 0.5 });
  t.is(seekedTo.afterScrub, 3);
  // Loop: playing past the end wraps to frame 0 without 'ended'.
  await page.evaluate(async () => {
    const element = document.querySelector('nerv-video') as HTMLElement & { loop: boolean; play(): Promise<void> };
    element.setAttribute('stats', '');
    element.loop = true;
    await element.play();
  });
  await page.waitForFunction(
    () => {
      const p = (document.querySelector('nerv-video') as unknown as { player: import('../src/player/player.ts').NervPlayer }).player;
      return p.stats.shownFrames >= 12;
    },
    null,
    { timeout: 30_000 },
  );
  const looping = await playerState(page);
  t.false(looping.paused);
  t.false(looping.events.includes('ended'));
  await page.waitForTimeout(300); // let the stats overlay refresh
  const shot = await page.locator('nerv-video').screenshot(UPDATE_SCREENSHOT ? { path: SCREENSHOT } : {});
  t.is(shot.subarray(1, 4).toString('latin1'), 'PNG');
  await page.close();
});

test.serial('a corrupt file puts the element in its error state with the typed error message', async (t) => {
  const f = await setup();
  const header = await openPage(f, 'bad-header.nerv');
  await header.waitForFunction(() => document.querySelector('nerv-video')!.getAttribute('data-state') === 'error', null, { timeout: 20_000 });
  const shown = await header.evaluate(() => {
    const element = document.querySelector('nerv-video') as HTMLElement & { error?: { code: string; kind?: string; message: string } };
    return {
      message: element.shadowRoot!.querySelector('.message')!.textContent,
      code: element.error?.code,
      kind: element.error?.kind,
      events: (window as unknown as { playerEvents: string[] }).playerEvents,
    };
  });
  t.is(shown.code, 'FORMAT');
  t.is(shown.kind, 'header-crc');
  t.regex(shown.message ?? '', /CRC-32/);
  t.true(shown.events.includes('error'));
  t.true(await header.locator('nerv-video').evaluate((e) => getComputedStyle(e.shadowRoot!.querySelector('.message')!).display !== 'none'));
  await header.close();

  // A bad chunk is found when its group is needed: group 0 plays, seeking into group 1 fails.
  const chunk = await openPage(f, 'bad-chunk.nerv');
  await chunk.waitForFunction(hasEvent('loadeddata'), null, { timeout: 20_000 });
  const failure = await chunk.evaluate(async () => {
    const element = document.querySelector('nerv-video') as HTMLElement & { player: import('../src/player/player.ts').NervPlayer };
    const error = await element.player.seekToFrame(5).then(
      () => undefined,
      (e: { kind?: string; group?: number; message: string }) => ({ kind: e.kind, group: e.group, message: e.message }),
    );
    return { error, state: element.dataset.state, message: element.shadowRoot!.querySelector('.message')!.textContent };
  });
  t.is(failure.error?.kind, 'chunk-crc');
  t.is(failure.error?.group, 1);
  t.is(failure.state, 'error');
  t.regex(failure.message ?? '', /group 1/);
  await chunk.close();
});

test.serial('without WebGPU the element says so and fires error', async (t) => {
  const f = await setup();
  const page = await openPage(f, 'clip.nerv', { noWebGpu: true });
  await page.waitForFunction(() => document.querySelector('nerv-video')!.getAttribute('data-state') === 'error', null, { timeout: 20_000 });
  const shown = await page.evaluate(() => ({
    message: document.querySelector('nerv-video')!.shadowRoot!.querySelector('.message')!.textContent,
    events: (window as unknown as { playerEvents: string[] }).playerEvents,
  }));
  t.regex(shown.message ?? '', /WebGPU/);
  t.true(shown.events.includes('error'));
  await page.close();
});
