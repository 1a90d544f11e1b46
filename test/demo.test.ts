// `nervkit demo` (what `npm start` runs) through the bin, on a 4-frame, 48x32 cut of the built-in sample
// with 20 training steps; the full run is the same code with the library's defaults.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES } from '../src/cli/errors.ts';
import { NervReader } from '../src/format/index.ts';
import { findFfmpeg } from '../src/video/node-io.ts';
import { decodeY4m } from '../src/video/y4m.ts';
import { NOISE, nervkit, tempDir } from './helpers/cli.ts';

const TINY = ['--no-serve', '--frames', '4', '--steps', '20', '--crop', '48x32'];

test('demo encodes the sample, reports size, bpp, PSNR and x264, and writes the files', async (t) => {
  const cwd = tempDir();
  const scratch = tempDir();
  const env = { NERVKIT_CACHE_DIR: join(scratch, 'cache'), TMPDIR: scratch };
  const run = await nervkit(['demo', ...TINY], { cwd, env });
  t.is(run.code, 0, run.stderr);
  t.notRegex(run.stderr, NOISE);
  t.regex(run.stderr, /^encoding the sample \(vtest-128x80, 4 frames\) with the default settings on /);
  const out = join(cwd, 'nervkit-demo');
  t.deepEqual(readdirSync(out).sort(), ['decoded.y4m', 'sample.nerv', 'source.y4m']);
  const bytes = readFileSync(join(out, 'sample.nerv'));
  t.is(new NervReader(new Uint8Array(bytes)).header.frameCount, 4);
  const match = /nervkit +(\d+) bytes, ([\d.]+) bpp, PSNR ([\d.]+) dB/.exec(run.stdout);
  t.truthy(match, run.stdout);
  t.is(Number(match![1]), bytes.length);
  t.is(Number(match![2]).toFixed(3), ((bytes.length * 8) / (48 * 32 * 4)).toFixed(3));
  t.true(Number(match![3]) > 15);
  if (findFfmpeg()) t.regex(run.stdout, /x264 +\d+ bytes at the same PSNR \(preset medium, crf [\d.]+\)/);
  else t.regex(run.stdout, /x264 +not compared: ffmpeg not found/);
  for (const name of ['decoded.y4m', 'source.y4m']) {
    const video = decodeY4m(readFileSync(join(out, name)));
    t.is(video.frames.length, 4, name);
    t.is(video.info.width, 48, name);
  }
  t.deepEqual(readdirSync(cwd), ['nervkit-demo']);
  t.deepEqual(
    readdirSync(scratch).filter((name) => name.startsWith('nervkit-demo')),
    [],
    'the x264 work folder is gone',
  );

  const again = await nervkit(['demo', ...TINY], { cwd, env });
  t.is(again.code, EXIT_CODES.IO, 'a second run refuses to overwrite');
  t.deepEqual(again.messages, [`nervkit: ${join(out, 'sample.nerv')} already exists (pass -y to overwrite it)`]);
});

test('demo refuses an --out whose parent does not exist, before any work', async (t) => {
  const cwd = tempDir();
  const run = await nervkit(['demo', '--no-serve', '--out', join(cwd, 'a', 'b')], { env: { VK_ICD_FILENAMES: '/nonexistent.json' } });
  t.is(run.code, EXIT_CODES.IO);
  t.deepEqual(run.messages, [`nervkit: cannot create ${join(cwd, 'a', 'b')}: ${join(cwd, 'a')} not found`]);
  t.deepEqual(readdirSync(cwd), []);
});
