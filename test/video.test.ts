import test from 'ava';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NervError } from '../src/errors.ts';
import { rgba8ToRgb, rgbToRgba8, rgbToYuv, yuvToRgb, type ChromaFormat, type YuvFrame } from '../src/video/color.ts';
import type { RgbFrame, VideoInfo } from '../src/video/frame.ts';
import { decodeY4m, encodeY4m, parseY4mHeader, Y4mDecoder, Y4mEncoder, Y4mError } from '../src/video/y4m.ts';
import { findFfmpeg, openVideo, writeVideo } from '../src/video/node-io.ts';
import { FFMPEG, ffmpegTest, NEEDS_FFMPEG } from './helpers/lanes.ts';

const run = promisify(execFile);

/** Smooth colour gradients with a few hard edges: in gamut, and varied enough to catch plane mix-ups. */
function pattern(width: number, height: number, phase = 0): RgbFrame {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      const edge = (x + phase) % 16 < 8 !== y % 12 < 6 ? 0.25 : 0;
      data[i] = 0.1 + 0.6 * (x / width) + edge;
      data[i + 1] = 0.2 + 0.5 * (y / height) + 0.1 * Math.sin((x + phase) / 3);
      data[i + 2] = 0.7 - 0.5 * ((x + y) / (width + height)) + edge / 2;
    }
  }
  return { width, height, data };
}

function info(width: number, height: number, extra: Partial<VideoInfo> = {}): VideoInfo {
  return { width, height, fps: { num: 30000, den: 1001 }, colorSpace: 'bt601', source: 'test', ...extra };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function rgbPsnr8(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (Math.round(a[i] * 255) - Math.round(b[i] * 255)) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nervkit-video-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function collect(source: { frames(): AsyncIterableIterator<RgbFrame> }): Promise<RgbFrame[]> {
  const out: RgbFrame[] = [];
  for await (const frame of source.frames()) out.push(frame);
  return out;
}

function planes(frame: YuvFrame): Uint8Array {
  return Uint8Array.from([...frame.y, ...frame.u, ...frame.v]);
}

const SIZES: [number, number][] = [
  [33, 17],
  [64, 48],
  [1, 1],
];
const CHROMAS: ChromaFormat[] = ['420', '422', '444'];

for (const chroma of CHROMAS) {
  test(`Y4M ${chroma} round trip keeps the planes exactly and RGB within rounding`, (t) => {
    for (const [w, h] of SIZES) {
      const frames = [pattern(w, h, 0), pattern(w, h, 5)];
      const bytes = encodeY4m(info(w, h), frames, { chroma });
      const decoded = decodeY4m(bytes);
      t.is(decoded.frames.length, 2);
      t.deepEqual(decoded.info.fps, { num: 30000, den: 1001 });
      t.is(decoded.info.frameCount, 2);
      // YUV planes survive a second trip unchanged: nearest upsampling then averaging is an identity.
      const again = decodeY4m(encodeY4m(decoded.info, decoded.frames, { chroma }));
      for (let f = 0; f < 2; f++) {
        const first = rgbToYuv(decoded.frames[f], chroma);
        const second = rgbToYuv(again.frames[f], chroma);
        t.is(maxAbsDiff(planes(first), planes(second)), 0, `${w}x${h} frame ${f}: planes drift`);
        t.true(maxAbsDiff(decoded.frames[f].data, again.frames[f].data) <= 2.5 / 255);
      }
      if (chroma === '444' && w > 1) t.true(rgbPsnr8(frames[0].data, decoded.frames[0].data) > 42, `${w}x${h}`);
    }
  });
}

test('Y4M frames written with 4:2:0 lose only chroma detail', (t) => {
  const frame = pattern(64, 48);
  const { frames } = decodeY4m(encodeY4m(info(64, 48), [frame]));
  const value = rgbPsnr8(frame.data, frames[0].data);
  t.log(`RGB PSNR after a 4:2:0 Y4M round trip: ${value.toFixed(2)} dB`);
  t.true(value > 30);
});

test('incremental parsing gives the same frames for any chunking', (t) => {
  const w = 33;
  const h = 17;
  const bytes = encodeY4m(info(w, h), [pattern(w, h, 0), pattern(w, h, 3), pattern(w, h, 7)], { chroma: '420' });
  const whole = decodeY4m(bytes).frames;
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      const decoder = new Y4mDecoder();
      const frames: RgbFrame[] = [];
      for (let i = 0; i + 1 < points.length; i++) {
        decoder.push(bytes.subarray(points[i], points[i + 1]));
        for (let f = decoder.read(); f; f = decoder.read()) frames.push(f);
      }
      decoder.end();
      for (let f = decoder.read(); f; f = decoder.read()) frames.push(f);
      return frames.length === 3 && frames.every((f, i) => maxAbsDiff(f.data, whole[i].data) === 0);
    }),
    { numRuns: 60 },
  );
  // Byte by byte: a frame appears exactly when its last byte arrives, and nothing piles up.
  const decoder = new Y4mDecoder();
  const frameBytes = 'FRAME\n'.length + w * h + 2 * 17 * 9;
  let count = 0;
  for (let i = 0; i < bytes.length; i++) {
    decoder.push(bytes.subarray(i, i + 1));
    const frame = decoder.read();
    t.true(decoder.bufferedBytes < 64, 'only an unfinished header line waits in the queue');
    if (frame) {
      count++;
      t.is(i + 1, bytes.length - (3 - count) * frameBytes);
    }
  }
  t.is(count, 3);
});

test('the parser holds about one frame: a caller pushing on demand never buffers more than a chunk', (t) => {
  const bytes = encodeY4m(
    info(64, 48),
    Array.from({ length: 6 }, (_, i) => pattern(64, 48, i)),
  );
  const decoder = new Y4mDecoder();
  const chunk = 1000;
  let frames = 0;
  for (let pos = 0; pos < bytes.length; pos += chunk) {
    decoder.push(bytes.subarray(pos, pos + chunk));
    t.true(decoder.bufferedBytes <= chunk);
    while (decoder.readYuv()) frames++;
  }
  t.is(frames, 6);
});

test('Y4M header: 10-bit and other unsupported formats are named with the supported ones', (t) => {
  const error = t.throws(() => parseY4mHeader('YUV4MPEG2 W64 H48 F25:1 Ip C420p10 XYSCSS=420P10'), { instanceOf: Y4mError })!;
  t.is(error.code, 'BAD_INPUT');
  t.regex(error.message, /C420p10/);
  t.regex(error.message, /10-bit/);
  t.regex(error.message, /C420jpeg.*C420mpeg2.*C420paldv.*C420.*C422.*C444/);
  t.throws(() => parseY4mHeader('YUV4MPEG2 W64 H48 Cmono'), { message: /Cmono/ });
  const decoder = new Y4mDecoder();
  decoder.push(new TextEncoder().encode('YUV4MPEG2 W8 H8 F25:1 C444p12\nFRAME\n'));
  t.throws(() => decoder.read(), { message: /C444p12.*12-bit/ });
});

test('Y4M header: tags, defaults and bounds', (t) => {
  const header = parseY4mHeader('YUV4MPEG2 W33 H17 F24000:1001 It A128:117 C420mpeg2 XYSCSS=420MPEG2 XCOLORRANGE=FULL');
  t.like(header, { width: 33, height: 17, fps: { num: 24000, den: 1001 }, chroma: '420', colorTag: '420mpeg2', interlace: 't', colorRange: 'full' });
  t.deepEqual(header.aspect, { num: 128, den: 117 });
  t.deepEqual(header.extensions, ['YSCSS=420MPEG2', 'COLORRANGE=FULL']);
  t.like(parseY4mHeader('YUV4MPEG2 W2 H2'), { chroma: '420', colorTag: '420jpeg', fps: { num: 25, den: 1 } });
  t.is(parseY4mHeader('YUV4MPEG2 W2 H2 XCOLORMATRIX=BT709').colorSpace, 'bt709');
  t.throws(() => parseY4mHeader('YUV4MPEG2 W100000 H2'), { message: /width 100000 is out of range/ });
  t.throws(() => parseY4mHeader('YUV4MPEG2 W16384 H16384'), { message: /16384x16384 exceeds/ });
  t.throws(() => parseY4mHeader('YUV4MPEG2 W0 H2'), { message: /width 0/ });
  t.throws(() => parseY4mHeader('YUV4MPEG2 W2'), { message: /H \(height\)/ });
  t.throws(() => parseY4mHeader('YUV4MPEG2 W2 H2 F30:0'), { message: /not positive/ });
  t.throws(() => parseY4mHeader('RIFF....'), { message: /not a Y4M stream/ });
  // A header without a newline is rejected once it is longer than any real one, not buffered forever.
  const decoder = new Y4mDecoder();
  decoder.push(new Uint8Array(5000).fill(0x41));
  t.throws(() => decoder.header(), { message: /longer than 4096 bytes/ });
});

test('Y4M stream errors: truncated frame, bad frame marker, empty stream', (t) => {
  const bytes = encodeY4m(info(8, 6), [pattern(8, 6)]);
  const truncated = new Y4mDecoder();
  truncated.push(bytes.subarray(0, bytes.length - 5));
  truncated.end();
  t.throws(() => truncated.read(), { instanceOf: Y4mError, message: /frame 0 is truncated: 67 of 72 bytes/ });
  const wrongSize = new Y4mDecoder();
  wrongSize.push(Uint8Array.from([...bytes, ...bytes.subarray(bytes.indexOf(0x0a) + 1, bytes.length - 1)]));
  wrongSize.end();
  t.truthy(wrongSize.read());
  t.throws(() => wrongSize.read(), { message: /truncated/ });
  const garbage = new Y4mDecoder();
  garbage.push(new TextEncoder().encode('YUV4MPEG2 W2 H2 C444\nFRAMEX\n'));
  t.throws(() => garbage.read(), { message: /expected a 'FRAME' header/ });
  const empty = new Y4mDecoder();
  empty.end();
  t.throws(() => empty.read(), { message: /empty Y4M stream/ });
  const headerOnly = new Y4mDecoder();
  headerOnly.push(new TextEncoder().encode('YUV4MPEG2 W2 H2 C444\n'));
  headerOnly.end();
  t.is(headerOnly.read(), null);
});

test('Y4mEncoder rejects frames of another size', (t) => {
  const encoder = new Y4mEncoder(info(8, 6));
  t.throws(() => encoder.frame(pattern(8, 7)), { message: /8x7, the stream is 8x6/ });
  t.throws(() => new Y4mEncoder(info(0, 6)), { message: /0x6/ });
});

test('BT.709 and full range round trip through their own matrices', (t) => {
  const frame = pattern(20, 10);
  for (const options of [{ colorSpace: 'bt709' as const }, { colorRange: 'full' as const }, { colorSpace: 'bt709' as const, colorRange: 'full' as const }]) {
    const back = yuvToRgb(rgbToYuv(frame, '444', options), options);
    t.true(maxAbsDiff(frame.data, back.data) < 1.6 / 255, JSON.stringify(options));
  }
  // The two matrices really differ: decoding BT.709 data as BT.601 shifts the colours.
  const wrong = yuvToRgb(rgbToYuv(frame, '444', { colorSpace: 'bt709' }), { colorSpace: 'bt601' });
  t.true(maxAbsDiff(frame.data, wrong.data) > 10 / 255);
  // The Y4M writer tags BT.709 so that nervkit reads it back with the right matrix.
  const { info: read, frames } = decodeY4m(encodeY4m(info(20, 10, { colorSpace: 'bt709' }), [frame], { chroma: '444' }));
  t.is(read.colorSpace, 'bt709');
  t.true(maxAbsDiff(frame.data, frames[0].data) < 1.6 / 255);
});

test('limited-range coding: black, white and grey land on the standard code values', (t) => {
  const grey = (v: number): RgbFrame => ({ width: 2, height: 2, data: new Float32Array(12).fill(v) });
  for (const colorSpace of ['bt601', 'bt709'] as const) {
    const black = rgbToYuv(grey(0), '420', { colorSpace });
    const white = rgbToYuv(grey(1), '420', { colorSpace });
    t.deepEqual([black.y[0], black.u[0], black.v[0]], [16, 128, 128]);
    t.deepEqual([white.y[0], white.u[0], white.v[0]], [235, 128, 128]);
  }
  const red = rgbToYuv({ width: 1, height: 1, data: Float32Array.of(1, 0, 0) }, '444');
  t.deepEqual([red.y[0], red.u[0], red.v[0]], [81, 90, 240]); // 16 + 219 * 0.299 = 81.5, 128 - 112 * 0.299 / 0.886 = 90.2
});

test('RGBA8 helpers convert both ways', (t) => {
  const frame = pattern(7, 5);
  const rgba = rgbToRgba8(frame);
  t.is(rgba.length, 7 * 5 * 4);
  t.is(rgba[3], 255);
  t.is(rgba[0], Math.round(frame.data[0] * 255));
  const back = rgba8ToRgb(rgba, 7, 5);
  t.true(maxAbsDiff(frame.data, back.data) <= 0.5 / 255 + 1e-7);
  t.throws(() => rgba8ToRgb(rgba, 7, 4), { message: /needs 112 bytes/ });
});

test('openVideo streams a Y4M file, counts frames, honours maxFrames and restarts', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'clip.y4m');
  const frames = Array.from({ length: 5 }, (_, i) => pattern(33, 17, i));
  t.deepEqual(await writeVideo(path, info(33, 17), frames), { frames: 5 });
  t.deepEqual((await readdir(dir)).sort(), ['clip.y4m'], 'no temporary file left behind');
  const source = await openVideo(path);
  t.like(source.info, { width: 33, height: 17, fps: { num: 30000, den: 1001 }, colorSpace: 'bt601', frameCount: 5, source: path });
  const all = await collect(source);
  t.is(all.length, 5);
  t.true(rgbPsnr8(frames[4].data, all[4].data) > 30);
  t.is((await collect(source)).length, 5, 'frames() starts again');
  await source.close();
  const limited = await openVideo(path, { maxFrames: 2 });
  t.is(limited.info.frameCount, 2);
  t.is((await collect(limited)).length, 2);
  await limited.close();
});

test('openVideo: missing, empty, unreadable and frameless inputs are typed errors naming the problem', async (t) => {
  const dir = await tempDir(t);
  await t.throwsAsync(openVideo(join(dir, 'nope.y4m')), { instanceOf: NervError, message: /input not found: .*nope\.y4m/ });
  await writeFile(join(dir, 'empty.y4m'), '');
  await t.throwsAsync(openVideo(join(dir, 'empty.y4m')), { message: /empty/ });
  await writeFile(join(dir, 'header.y4m'), 'YUV4MPEG2 W4 H4 F25:1 C444\n');
  const noFrames = await t.throwsAsync(openVideo(join(dir, 'header.y4m')));
  t.is((noFrames as NervError).code, 'BAD_INPUT');
  t.regex(noFrames!.message, /header\.y4m contains no frames/);
  await writeFile(join(dir, 'deep.y4m'), 'YUV4MPEG2 W4 H4 F25:1 C420p10\nFRAME\n');
  await t.throwsAsync(openVideo(join(dir, 'deep.y4m')), { message: /deep\.y4m: unsupported Y4M colour format 'C420p10'/ });
  await writeFile(join(dir, 'cut.y4m'), 'YUV4MPEG2 W4 H4 F25:1 C444\nFRAME\n' + 'x'.repeat(40));
  await t.throwsAsync(openVideo(join(dir, 'cut.y4m')), { message: /cut\.y4m: Y4M frame 0 is truncated/ });
  if (process.getuid?.() !== 0) {
    await writeFile(join(dir, 'secret.y4m'), 'YUV4MPEG2 W4 H4\n');
    await chmod(join(dir, 'secret.y4m'), 0);
    await t.throwsAsync(openVideo(join(dir, 'secret.y4m')), { message: /cannot read .*permission denied/ });
  }
  await mkdir(join(dir, 'nothing'));
  await t.throwsAsync(openVideo(join(dir, 'nothing')), { message: /holds no \.png files/ });
  await t.throwsAsync(openVideo(join(dir, 'x', '%04d.png')), { message: /no file matches/ });
  await t.throwsAsync(openVideo(join(dir, 'header.y4m'), { maxFrames: 0 }), { message: /maxFrames/ });
  await t.throwsAsync(openVideo(join(dir, 'header.y4m'), { scale: { width: 0, height: 4 } }), { message: /scale/ });
});

test('PNG sequences round trip through a pattern and a directory', async (t) => {
  const dir = await tempDir(t);
  const frames = Array.from({ length: 3 }, (_, i) => pattern(33, 17, i));
  await writeVideo(join(dir, 'seq', '%04d.png'), info(33, 17), frames);
  t.deepEqual((await readdir(join(dir, 'seq'))).sort(), ['0001.png', '0002.png', '0003.png']);
  for (const input of [join(dir, 'seq', '%04d.png'), join(dir, 'seq')]) {
    const source = await openVideo(input, { fps: { num: 12, den: 1 } });
    t.like(source.info, { width: 33, height: 17, frameCount: 3, fps: { num: 12, den: 1 } });
    const read = await collect(source);
    t.is(read.length, 3);
    for (let i = 0; i < 3; i++) t.true(maxAbsDiff(read[i].data, frames[i].data) <= 0.5 / 255 + 1e-6, 'PNG keeps 8-bit RGB exactly');
    await source.close();
  }
  // Natural order in directories: 2.png before 10.png.
  const natural = join(dir, 'natural');
  await mkdir(natural);
  await writeVideo(join(natural, '10.png'), info(33, 17), [frames[0]]);
  await writeVideo(join(natural, '2.png'), info(33, 17), [frames[2]]);
  const ordered = await collect(await openVideo(natural));
  t.true(maxAbsDiff(ordered[0].data, frames[2].data) < 1 / 255);
  // A frame of another size is named.
  await writeVideo(join(natural, '11.png'), info(8, 8), [pattern(8, 8)]);
  const mixed = await openVideo(natural);
  await t.throwsAsync(collect(mixed), { message: /11\.png is 8x8, but the sequence's first frame is 33x17/ });
  await t.throwsAsync(writeVideo(join(dir, 'one.png'), info(33, 17), frames), { message: /holds one frame/ });
  await t.throwsAsync(writeVideo(join(dir, 'none.y4m'), info(33, 17), []), { message: /no frames to write/ });
  t.false((await readdir(dir)).some((n) => n.includes('none') || n.includes('.tmp')));
  await writeFile(join(dir, 'bad.png'), 'not a png at all, really not');
  await t.throwsAsync(openVideo(join(dir, 'bad.png')), { message: /bad\.png is not a PNG file/ });
});

test('without ffmpeg: a NO_FFMPEG error says what works without it and how to install it', async (t) => {
  t.is(findFfmpeg('ffmpeg', ''), null, 'an empty PATH finds nothing');
  t.is(findFfmpeg('/nonexistent/ffmpeg'), null);
  const dir = await tempDir(t);
  await writeFile(join(dir, 'clip.mp4'), 'whatever');
  const noFfmpeg = { ffmpeg: join(dir, 'no-such-ffmpeg') };
  const error = (await t.throwsAsync(openVideo(join(dir, 'clip.mp4'), noFfmpeg))) as NervError;
  t.is(error.code, 'NO_FFMPEG');
  t.regex(error.message, /clip\.mp4 needs ffmpeg/);
  t.regex(error.message, /Y4M/);
  t.regex(error.message, /PNG/);
  t.regex(error.message, /apt-get install ffmpeg/);
  t.regex(error.message, /brew install ffmpeg/);
  await writeVideo(join(dir, 'a.y4m'), info(8, 6), [pattern(8, 6)]);
  await t.throwsAsync(openVideo(join(dir, 'a.y4m'), { ...noFfmpeg, scale: { width: 4, height: 4 } }), { message: /scaling .* needs ffmpeg/ });
  const same = await openVideo(join(dir, 'a.y4m'), { ...noFfmpeg, scale: { width: 8, height: 6 } });
  t.is((await collect(same)).length, 1, 'scaling to the native size needs no ffmpeg');
  await t.throwsAsync(writeVideo(join(dir, 'b.mp4'), info(8, 6), [pattern(8, 6)], noFfmpeg), { message: /needs ffmpeg/ });
});

async function ffmpeg(args: string[]): Promise<Buffer> {
  const { stdout } = await run(FFMPEG!, ['-v', 'error', '-nostdin', ...args], { encoding: 'buffer', maxBuffer: 1 << 26 });
  return stdout;
}

ffmpegTest(`our YUV->RGB matches ffmpeg's rgb24 conversion (> 40 dB)${NEEDS_FFMPEG}`, async (t) => {
  const dir = await tempDir(t);
  for (const [pixFmt, size] of [
    ['yuv420p', '64x48'],
    ['yuv422p', '33x17'],
    ['yuv444p', '64x48'],
  ]) {
    const y4m = join(dir, `${pixFmt}.y4m`);
    await ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=10`, '-frames:v', '3', '-pix_fmt', pixFmt, '-y', y4m]);
    const ours = await collect(await openVideo(y4m));
    const reference = await ffmpeg(['-i', y4m, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
    const mine = new Float32Array(ours.length * ours[0].data.length);
    ours.forEach((f, i) => mine.set(f.data, i * f.data.length));
    const value = rgbPsnr8(
      mine,
      Float32Array.from(reference, (v) => v / 255),
    );
    t.log(`${pixFmt} ${size}: our RGB vs ffmpeg rgb24 ${value.toFixed(2)} dB`);
    t.true(value > 40, pixFmt);
  }
});

ffmpegTest(`ffmpeg reads our Y4M planes exactly, and we read ffmpeg's, at odd sizes${NEEDS_FFMPEG}`, async (t) => {
  const dir = await tempDir(t);
  for (const chroma of CHROMAS) {
    const pixFmt = `yuv${chroma}p`;
    const ours = join(dir, `ours${chroma}.y4m`);
    const frame = pattern(33, 17);
    await writeVideo(ours, info(33, 17), [frame], { chroma });
    const raw = await ffmpeg(['-i', ours, '-f', 'rawvideo', '-pix_fmt', pixFmt, '-']);
    t.deepEqual(new Uint8Array(raw), planes(rgbToYuv(frame, chroma)), `ffmpeg reads our ${chroma}`);
    const theirs = join(dir, `theirs${chroma}.y4m`);
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=33x17:rate=5', '-frames:v', '2', '-pix_fmt', pixFmt, '-y', theirs]);
    const decoder = new Y4mDecoder();
    decoder.push(await readFile(theirs));
    decoder.end();
    const rawTheirs = await ffmpeg(['-i', theirs, '-f', 'rawvideo', '-pix_fmt', pixFmt, '-']);
    const a = decoder.readYuv()!;
    const b = decoder.readYuv()!;
    t.is(decoder.readYuv(), null);
    t.deepEqual(Uint8Array.from([...planes(a), ...planes(b)]), new Uint8Array(rawTheirs), `we read ffmpeg's ${chroma}`);
  }
});

ffmpegTest(`openVideo decodes containers through ffmpeg, scaled and limited; writeVideo encodes mp4${NEEDS_FFMPEG}`, async (t) => {
  const dir = await tempDir(t);
  const mp4 = join(dir, 'clip.mp4');
  await ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=96x64:rate=15',
    '-frames:v',
    '12',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-colorspace',
    'bt709',
    '-y',
    mp4,
  ]);
  const source = await openVideo(mp4, { maxFrames: 5, scale: { width: 48, height: 30 } });
  t.like(source.info, { width: 48, height: 30, fps: { num: 15, den: 1 }, colorSpace: 'bt709', frameCount: 5 });
  const frames = await collect(source);
  t.is(frames.length, 5);
  t.true(frames.every((f) => f.width === 48 && f.height === 30));
  await source.close();
  const full = await openVideo(mp4);
  t.is(full.info.frameCount, 12);
  const iterator = full.frames();
  await iterator.next();
  await full.close(); // stops ffmpeg mid-stream without an error
  const out = join(dir, 'out.mp4');
  t.deepEqual(await writeVideo(out, { ...source.info, width: 48, height: 30 }, frames), { frames: 5 });
  const back = await openVideo(out);
  t.like(back.info, { width: 48, height: 30, colorSpace: 'bt709', frameCount: 5 });
  const decoded = await collect(back);
  t.true(rgbPsnr8(decoded[0].data, frames[0].data) > 28, 'x264 at its default CRF');
  t.deepEqual((await readdir(dir)).sort(), ['clip.mp4', 'out.mp4']);
  await t.throwsAsync(writeVideo(join(dir, 'odd.mp4'), info(33, 17), [pattern(33, 17)]), { message: /even width and height.*33x17/ });
});

ffmpegTest(`ffmpeg's own error text reaches the caller${NEEDS_FFMPEG}`, async (t) => {
  const dir = await tempDir(t);
  const broken = join(dir, 'broken.mp4');
  await writeFile(broken, Buffer.alloc(4096, 7));
  const error = (await t.throwsAsync(openVideo(broken))) as NervError;
  t.is(error.code, 'BAD_INPUT');
  t.regex(error.message, /broken\.mp4/);
  t.regex(error.message, /Invalid data|moov|could not find/i);
  await t.throwsAsync(writeVideo(join(dir, 'x.mp4'), info(8, 6), [pattern(8, 6)], { codec: 'no-such-codec' }), {
    message: /ffmpeg could not write .*no-such-codec/i,
  });
  t.deepEqual((await readdir(dir)).sort(), ['broken.mp4']);
});

ffmpegTest(`scale works for Y4M and PNG inputs through ffmpeg${NEEDS_FFMPEG}`, async (t) => {
  const dir = await tempDir(t);
  const frames = [pattern(40, 30, 0), pattern(40, 30, 4)];
  await writeVideo(join(dir, 'a.y4m'), info(40, 30, { colorSpace: 'bt709' }), frames);
  await writeVideo(join(dir, 'p', '%03d.png'), info(40, 30), frames);
  for (const input of [join(dir, 'a.y4m'), join(dir, 'p', '%03d.png'), join(dir, 'p')]) {
    const source = await openVideo(input, { scale: { width: 20, height: 16 } });
    t.like(source.info, { width: 20, height: 16, frameCount: 2 });
    const read = await collect(source);
    t.is(read.length, 2, input);
    // Halving a smooth pattern keeps its mean colour.
    const mean = (f: RgbFrame, c: number) => f.data.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (f.width * f.height);
    for (let c = 0; c < 3; c++) t.true(Math.abs(mean(read[1], c) - mean(frames[1], c)) < 0.02, `${input} channel ${c}`);
  }
  t.is((await openVideo(join(dir, 'a.y4m'), { scale: { width: 20, height: 16 } })).info.colorSpace, 'bt709');
});
