// The CLI through its real bin entry: a tiny clip round trip, and every error path's exit status.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeY4m } from '../src/video/y4m.ts';
import { EXIT_CODES } from '../src/cli/errors.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'nervkit.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function nervkit(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 240_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr: stderr.split('\n').filter((l) => l.startsWith('nervkit') || l.startsWith('error')).join('\n') });
    });
  });
}

/** A moving gradient clip, 32x24, 4 frames, written as Y4M 4:2:0. */
async function tinyClip(dir: string): Promise<string> {
  const [width, height] = [32, 24];
  const frames = Array.from({ length: 4 }, (_, t) => {
    const data = new Float32Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        data[i] = (x + t) / (width + 4);
        data[i + 1] = y / height;
        data[i + 2] = 0.5 + 0.3 * Math.sin((x - 2 * t) / 3);
      }
    }
    return { width, height, data };
  });
  const path = join(dir, 'clip.y4m');
  await writeFile(path, encodeY4m({ width, height, fps: { num: 12, den: 1 }, colorSpace: 'bt601' }, frames));
  return path;
}

test('encode, info, decode and eval round-trip a tiny clip through the bin entry', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nervkit-cli-'));
  const clip = await tinyClip(dir);
  const nerv = join(dir, 'clip.nerv');
  const encoded = await nervkit(['encode', '-i', clip, '-o', nerv, '--steps', '40', '--group', '4', '--json']);
  t.is(encoded.code, 0, encoded.stderr);
  const summary = JSON.parse(encoded.stdout);
  const bytes = await readFile(nerv);
  t.is(summary.bytes, bytes.length);
  t.is(summary.frames, 4);
  t.true(summary.psnr > 18, `PSNR ${summary.psnr}`);
  t.deepEqual((await readdir(dir)).sort(), ['clip.nerv', 'clip.y4m'], 'no temporary file is left behind');

  const info = await nervkit(['info', nerv, '--json']);
  t.is(info.code, 0, info.stderr);
  const parsed = JSON.parse(info.stdout);
  t.like(parsed, { width: 32, height: 24, frameCount: 4, groupCount: 1, byteLength: bytes.length, version: 1 });
  t.true(parsed.macsPerPixel > 0 && parsed.macsPerPixel <= 5000);

  const decoded = join(dir, 'out.y4m');
  const decode = await nervkit(['decode', '-i', nerv, '-o', decoded]);
  t.is(decode.code, 0, decode.stderr);
  t.true((await readFile(decoded)).subarray(0, 9).toString() === 'YUV4MPEG2');

  const evaluated = await nervkit(['eval', '-i', nerv, '--ref', clip, '--json']);
  t.is(evaluated.code, 0, evaluated.stderr);
  const metrics = JSON.parse(evaluated.stdout);
  t.is(metrics.perFrame.length, 4);
  // eval measures the decoded file: the encoder's closed-loop PSNR, to within float rounding.
  t.true(Math.abs(metrics.psnr - summary.psnr) < 0.01, `eval ${metrics.psnr} vs encode ${summary.psnr}`);
});

test('a usage mistake exits with the usage status and one line', async (t) => {
  const run = await nervkit(['encode', '-i', 'x.y4m']);
  t.is(run.code, EXIT_CODES.USAGE);
  t.regex(run.stderr, /required option .*--output/);
  const bad = await nervkit(['encode', '-i', 'x.y4m', '-o', 'y.nerv', '--steps', 'many']);
  t.is(bad.code, EXIT_CODES.USAGE);
  t.regex(bad.stderr, /steps/);
  const conflicting = await nervkit(['encode', '-i', 'x.y4m', '-o', 'y.nerv', '--size', '20k', '--psnr', '30']);
  t.is(conflicting.code, EXIT_CODES.USAGE);
  t.regex(conflicting.stderr, /cannot be used with/);
  const badSize = await nervkit(['encode', '-i', 'x.y4m', '-o', 'y.nerv', '--size', 'big']);
  t.is(badSize.code, EXIT_CODES.USAGE);
  t.regex(badSize.stderr, /200k/);
});

test('a missing input file exits with the input status', async (t) => {
  const run = await nervkit(['encode', '-i', '/nonexistent/clip.y4m', '-o', '/tmp/never.nerv']);
  t.is(run.code, EXIT_CODES.BAD_INPUT);
  t.regex(run.stderr, /nonexistent\/clip\.y4m/);
  t.notRegex(run.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

test('a corrupt .nerv file exits with the format status', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nervkit-cli-'));
  const path = join(dir, 'bad.nerv');
  await writeFile(path, Buffer.from('NERV\r\n\x1a\nthis is not a real file'));
  for (const args of [['info', path], ['decode', '-i', path, '-o', join(dir, 'o.y4m')]]) {
    const run = await nervkit(args);
    t.is(run.code, EXIT_CODES.FORMAT, args[0]);
    t.regex(run.stderr, /^nervkit: /);
  }
});

test('a container input without ffmpeg exits with the ffmpeg status and says what to do', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nervkit-cli-'));
  const clip = join(dir, 'clip.mp4');
  await writeFile(clip, new Uint8Array(64));
  const run = await nervkit(['encode', '-i', clip, '-o', join(dir, 'x.nerv')], { NERVKIT_FFMPEG: '/nonexistent/ffmpeg' });
  t.is(run.code, EXIT_CODES.NO_FFMPEG);
  t.regex(run.stderr, /ffmpeg/);
  t.regex(run.stderr, /Y4M/, 'names the formats that work without ffmpeg');
});

test('no WebGPU adapter exits with the GPU status and says what to install', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nervkit-cli-'));
  const clip = await tinyClip(dir);
  // An ICD list naming no driver: Dawn finds no adapter and nervkit must not fall back silently.
  const run = await nervkit(['encode', '-i', clip, '-o', join(dir, 'x.nerv')], { VK_ICD_FILENAMES: '/nonexistent/icd.json' });
  t.is(run.code, EXIT_CODES.NO_GPU, run.stderr);
  t.regex(run.stderr, /no WebGPU adapter/);
  t.deepEqual((await readdir(dir)).sort(), ['clip.y4m'], 'no output file on failure');
});
