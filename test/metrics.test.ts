import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  framePsnr,
  mean,
  meanPsnr,
  meanYuvPsnr,
  msSsim,
  msSsimScales,
  psnr,
  psnrFloat,
  psnrOfMeanMse,
  psnrYuv,
  ssim,
  ssimFfmpeg,
  ssimToDb,
} from '../src/metrics/index.ts';
import { rgbToLuma8 } from '../src/video/color.ts';
import type { RgbFrame } from '../src/video/frame.ts';
import { encodeY4m } from '../src/video/y4m.ts';
import { writeVideo } from '../src/video/node-io.ts';
import { FFMPEG, ffmpegTest, NEEDS_FFMPEG } from './helpers/lanes.ts';

const run = promisify(execFile);

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
}

/** A 64x48-style test card: gradients, stripes and a disc, so SSIM sees structure at several scales. */
function card(width: number, height: number): RgbFrame {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      const disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2;
      const stripes = Math.floor(x / 3) % 2 === 0 && y < height / 4;
      data[i] = disc ? 0.9 : x / width;
      data[i + 1] = stripes ? 1 : 0.3 + 0.4 * (y / height);
      data[i + 2] = disc ? 0.2 : 0.5 + 0.4 * Math.sin(x / 5 + y / 7);
    }
  }
  return { width, height, data };
}

function noisy(frame: RgbFrame, amount: number, seed: number): RgbFrame {
  const next = random(seed);
  return { ...frame, data: frame.data.map((v) => Math.min(1, Math.max(0, v + (next() - 0.5) * 2 * amount))) };
}

function blurred(frame: RgbFrame): RgbFrame {
  const { width, height, data } = frame;
  const out = new Float32Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        let n = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy >= 0 && yy < height && xx >= 0 && xx < width) {
              s += data[3 * (yy * width + xx) + c];
              n++;
            }
          }
        }
        out[3 * (y * width + x) + c] = s / n;
      }
    }
  }
  return { width, height, data: out };
}

const reference = card(64, 48);
const distorted = { noisy: noisy(reference, 0.08, 1), blurred: blurred(reference) };

async function ffmpegStats(filter: string, a: string, b: string): Promise<string> {
  const { stderr } = await run(FFMPEG!, ['-v', 'info', '-nostdin', '-i', a, '-i', b, '-lavfi', filter, '-f', 'null', '-']);
  const line = stderr.split('\n').find((l) => l.includes(`Parsed_${filter}_0`) && /average|All/.test(l));
  if (!line) throw new Error(`no ${filter} summary in ffmpeg's output:\n${stderr}`);
  return line;
}

function field(line: string, name: string): number {
  const match = new RegExp(`\\b${name}:(\\S+)`).exec(line);
  if (!match) throw new Error(`no ${name} in: ${line}`);
  return match[1] === 'inf' ? Infinity : Number(match[1]);
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nervkit-metrics-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const info = { width: 64, height: 48, fps: { num: 25, den: 1 }, colorSpace: 'bt601' as const, source: 'test' };

ffmpegTest(`psnr equals ffmpeg's psnr filter on the 8-bit PNGs${NEEDS_FFMPEG}`, async (t) => {
  const dir = await tempDir(t);
  await writeVideo(join(dir, 'ref.png'), info, [reference]);
  for (const [name, frame] of Object.entries(distorted)) {
    await writeVideo(join(dir, `${name}.png`), info, [frame]);
    const line = await ffmpegStats('psnr', join(dir, `${name}.png`), join(dir, 'ref.png'));
    const ours = psnr(frame, reference);
    const theirs = field(line, 'average');
    t.log(`${name}: ours ${ours.toFixed(4)} dB, ffmpeg ${theirs.toFixed(4)} dB`);
    t.true(Math.abs(ours - theirs) < 0.005);
  }
});

ffmpegTest(`psnrYuv equals ffmpeg's psnr filter per plane on the 4:2:0 Y4Ms${NEEDS_FFMPEG}`, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'ref.y4m'), encodeY4m(info, [reference]));
  for (const [name, frame] of Object.entries(distorted)) {
    await writeFile(join(dir, `${name}.y4m`), encodeY4m(info, [frame]));
    const line = await ffmpegStats('psnr', join(dir, `${name}.y4m`), join(dir, 'ref.y4m'));
    const ours = psnrYuv(frame, reference);
    t.log(`${name}: ours y ${ours.y.toFixed(4)} u ${ours.u.toFixed(4)} v ${ours.v.toFixed(4)}; ffmpeg ${line.replace(/.*PSNR /, '')}`);
    for (const plane of ['y', 'u', 'v'] as const) t.true(Math.abs(ours[plane] - field(line, plane)) < 0.005, plane);
    t.is(ours.weighted, (6 * ours.y + ours.u + ours.v) / 8);
  }
});

ffmpegTest(`ssimFfmpeg equals ffmpeg's ssim filter (Y); the Gaussian ssim stays close to it${NEEDS_FFMPEG}`, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'ref.y4m'), encodeY4m(info, [reference]));
  for (const [name, frame] of Object.entries(distorted)) {
    await writeFile(join(dir, `${name}.y4m`), encodeY4m(info, [frame]));
    const line = await ffmpegStats('ssim', join(dir, `${name}.y4m`), join(dir, 'ref.y4m'));
    const theirs = field(line, 'Y');
    const block = ssimFfmpeg(frame, reference);
    const gaussian = ssim(frame, reference);
    t.log(
      `${name}: ffmpeg Y ${theirs.toFixed(6)}, ssimFfmpeg ${block.toFixed(6)}, ssim (Gaussian) ${gaussian.toFixed(6)}, msSsim ${msSsim(frame, reference).toFixed(6)}`,
    );
    t.true(Math.abs(block - theirs) < 2e-6);
    t.true(Math.abs(gaussian - theirs) < 0.05, 'a different window, but the same measure');
  }
});

test('identical frames: PSNR is infinite, SSIM and MS-SSIM are 1', (t) => {
  t.is(psnr(reference, reference), Infinity);
  t.is(psnrYuv(reference, reference).weighted, Infinity);
  t.is(ssim(reference, reference), 1);
  t.is(msSsim(reference, reference), 1);
  t.is(ssimFfmpeg(reference, reference), 1);
  // Differences below half a code value vanish in 8-bit PSNR but not in float PSNR.
  const onGrid = reference.data.map((v) => Math.round(v * 255) / 255);
  const nudged = onGrid.map((v) => v + 0.1 / 255);
  t.is(framePsnr(nudged, onGrid), Infinity);
  t.true(Math.abs(psnrFloat(nudged, onGrid) - 20 * Math.log10(2550)) < 1e-3);
});

test('metrics are symmetric and rank stronger distortions lower', (t) => {
  const mild = noisy(reference, 0.03, 2);
  const strong = noisy(reference, 0.15, 2);
  for (const metric of [psnr, ssim, msSsim, ssimFfmpeg, (a: RgbFrame, b: RgbFrame) => psnrYuv(a, b).weighted]) {
    t.is(metric(mild, reference), metric(reference, mild));
    t.true(metric(mild, reference) > metric(strong, reference));
  }
  t.true(ssim(strong, reference) > 0 && ssim(strong, reference) < 1);
});

test('PSNR matches its definition on a known error', (t) => {
  const a: RgbFrame = { width: 2, height: 1, data: Float32Array.of(0, 0, 0, 1, 1, 1) };
  const b: RgbFrame = { width: 2, height: 1, data: Float32Array.of(10 / 255, 0, 0, 1, 1, 1) };
  t.true(Math.abs(psnr(a, b) - 10 * Math.log10((255 * 255) / (100 / 6))) < 1e-12);
  t.throws(() => psnr(a, card(2, 2)), { message: /differ in size/ });
});

/** Direct SSIM: every 11x11 window summed in 2-D, no separable filtering or shortcuts. */
function bruteForceSsim(a: RgbFrame, b: RgbFrame): number {
  const la = rgbToLuma8(a);
  const lb = rgbToLuma8(b);
  const w = a.width;
  const g = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / 4.5));
  const gs = g.reduce((s, v) => s + v, 0);
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let total = 0;
  let count = 0;
  for (let y0 = 0; y0 + 11 <= a.height; y0++) {
    for (let x0 = 0; x0 + 11 <= w; x0++) {
      let ma = 0,
        mb = 0,
        saa = 0,
        sbb = 0,
        sab = 0;
      for (let dy = 0; dy < 11; dy++) {
        for (let dx = 0; dx < 11; dx++) {
          const k = (g[dy] * g[dx]) / (gs * gs);
          const va = la[(y0 + dy) * w + x0 + dx];
          const vb = lb[(y0 + dy) * w + x0 + dx];
          ma += k * va;
          mb += k * vb;
          saa += k * va * va;
          sbb += k * vb * vb;
          sab += k * va * vb;
        }
      }
      const va = saa - ma * ma;
      const vb = sbb - mb * mb;
      const cov = sab - ma * mb;
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      count++;
    }
  }
  return total / count;
}

test('Gaussian SSIM agrees with a brute-force 11x11 window', (t) => {
  const a = card(23, 19);
  const b = noisy(a, 0.1, 5);
  t.true(Math.abs(ssim(a, b) - bruteForceSsim(a, b)) < 1e-9);
});

test('MS-SSIM uses fewer scales on small frames, down to plain SSIM', (t) => {
  t.is(msSsimScales(320, 192), 5);
  t.is(msSsimScales(64, 48), 3);
  t.is(msSsimScales(22, 40), 2);
  t.is(msSsimScales(15, 15), 1);
  const small = card(15, 15);
  const other = noisy(small, 0.1, 3);
  t.true(Math.abs(msSsim(small, other) - ssim(small, other)) < 1e-12);
  // Tiny frames shrink the window instead of failing.
  const tiny = card(5, 4);
  t.true(ssim(tiny, noisy(tiny, 0.2, 1)) < 1);
});

test('mean helpers', (t) => {
  t.is(mean([1, 2, 3, 6]), 3);
  t.throws(() => mean([]), { message: /empty/ });
  t.is(meanPsnr([30, Infinity]), 65);
  t.is(meanPsnr([30, Infinity], 50), 40);
  t.true(Math.abs(psnrOfMeanMse([1, 3]) - 10 * Math.log10((255 * 255) / 2)) < 1e-12);
  t.deepEqual(
    meanYuvPsnr([
      { y: 30, u: 40, v: 40, weighted: 32.5 },
      { y: 32, u: 42, v: 44, weighted: 0 },
    ]),
    { y: 31, u: 41, v: 42, weighted: 33.625 },
  );
  t.is(ssimToDb(0.9), 10);
});
