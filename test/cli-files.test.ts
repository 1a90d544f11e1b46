// The command line through the real bin entry where no GPU adapter is needed: positional and -i/-o
// arguments, -y/-n, the output checks that run before any work, and every error path's status and
// single line.
import test from 'ava';
import { linkSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES } from '../src/cli/errors.ts';
import { decodeY4m } from '../src/video/y4m.ts';
import { nervkit, tempDir, tinyClip } from './helpers/cli.ts';

// No Vulkan driver at all: a command that got as far as asking for a GPU would exit with NO_GPU, so an
// IO or usage status proves that the check came first.
const NO_GPU = { VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' };

test('input and output: positional or -i/-o, and a clear usage error when both disagree', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  const out = join(dir, 'x.nerv');
  const twice = await nervkit(['encode', clip, out, '-i', join(dir, 'other.y4m')]);
  t.is(twice.code, EXIT_CODES.USAGE);
  t.deepEqual(twice.messages, [`nervkit: input given twice: '${clip}' and -i '${join(dir, 'other.y4m')}'; give it once`]);
  const outTwice = await nervkit(['encode', clip, out, '-o', join(dir, 'y.nerv')]);
  t.is(outTwice.code, EXIT_CODES.USAGE);
  t.regex(outTwice.messages.join(), /output given twice/);
  const missing = await nervkit(['encode', clip]);
  t.is(missing.code, EXIT_CODES.USAGE);
  t.deepEqual(missing.messages, ['nervkit: missing output (positional, or -o)']);
  const evalMissing = await nervkit(['eval', join(dir, 'x.nerv')]);
  t.is(evalMissing.code, EXIT_CODES.USAGE);
  t.regex(evalMissing.messages.join(), /missing reference \(positional, or --ref\)/);
  const both = await nervkit(['encode', clip, out, '-y', '-n']);
  t.is(both.code, EXIT_CODES.USAGE);
  t.regex(both.stderr, /cannot be used with/);
  const jsonToStdout = await nervkit(['encode', clip, '-', '--json']);
  t.is(jsonToStdout.code, EXIT_CODES.USAGE);
  t.regex(jsonToStdout.messages.join(), /--json and -o - both write to stdout/);
  t.deepEqual(readdirSync(dir), ['clip.y4m']);
});

test('an existing output is refused without -y, and with -n, before any GPU work', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  const out = join(dir, 'out.nerv');
  writeFileSync(out, 'precious');
  for (const extra of [[], ['-n']]) {
    const run = await nervkit(['encode', clip, out, ...extra], { env: NO_GPU });
    t.is(run.code, EXIT_CODES.IO, run.stderr);
    t.deepEqual(run.messages, [`nervkit: ${out} already exists (${extra.length ? 'not overwritten: -n' : 'pass -y to overwrite it'})`]);
  }
  const decode = await nervkit(['decode', '-i', join(dir, 'in.nerv'), '-o', out], { env: NO_GPU });
  t.is(decode.code, EXIT_CODES.IO);
  t.regex(decode.messages.join(), /out\.nerv already exists/);
  t.is(readFileSync(out, 'utf8'), 'precious');
  // -y gets past the check: the run then stops at the missing GPU, still without touching the file.
  const yes = await nervkit(['encode', clip, out, '-y'], { env: NO_GPU });
  t.is(yes.code, EXIT_CODES.NO_GPU, yes.stderr);
  t.is(readFileSync(out, 'utf8'), 'precious');
  t.deepEqual(readdirSync(dir).sort(), ['clip.y4m', 'out.nerv']);
});

test('the output may never be the input: same path, symlink or hard link, even with -y', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  const before = readFileSync(clip);
  symlinkSync(clip, join(dir, 'symlink.nerv'));
  linkSync(clip, join(dir, 'hardlink.nerv'));
  mkdirSync(join(dir, 'sub'));
  for (const out of [clip, join(dir, 'symlink.nerv'), join(dir, 'hardlink.nerv'), join(dir, 'sub', '..', 'clip.y4m')]) {
    const run = await nervkit(['encode', clip, out, '-y'], { env: NO_GPU });
    t.is(run.code, EXIT_CODES.IO, out);
    t.deepEqual(run.messages, [`nervkit: ${out} is the input file ${clip}; choose another output name`]);
  }
  t.true(readFileSync(clip).equals(before));
  t.is(statSync(clip).nlink, 2);
});

test('a missing or unwritable output directory fails before any frame is read or trained', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  const run = await nervkit(['encode', clip, join(dir, 'missing', 'out.nerv')], { env: NO_GPU });
  t.is(run.code, EXIT_CODES.IO);
  t.deepEqual(run.messages, [`nervkit: cannot write ${join(dir, 'missing', 'out.nerv')}: directory ${join(dir, 'missing')} not found`]);
  writeFileSync(join(dir, 'file'), '');
  const notDir = await nervkit(['decode', join(dir, 'x.nerv'), join(dir, 'file', 'out.y4m')], { env: NO_GPU });
  t.is(notDir.code, EXIT_CODES.IO);
  t.regex(notDir.messages.join(), /cannot write .*file\/out\.y4m/);
  mkdirSync(join(dir, 'out.nerv'));
  const isDir = await nervkit(['encode', clip, join(dir, 'out.nerv'), '-y'], { env: NO_GPU });
  t.is(isDir.code, EXIT_CODES.IO);
  t.regex(isDir.messages.join(), /out\.nerv: it is a directory/);
  t.deepEqual(readdirSync(dir).sort(), ['clip.y4m', 'file', 'out.nerv']);
});

test('file errors name the file in words, on one line', async (t) => {
  const dir = tempDir();
  const missing = join(dir, 'missing.nerv');
  for (const args of [
    ['info', missing],
    ['decode', missing, join(dir, 'o.y4m')],
  ]) {
    const run = await nervkit(args);
    t.is(run.code, EXIT_CODES.IO, args[0]);
    t.deepEqual(run.messages, [`nervkit: cannot read ${missing}: not found`]);
    t.notRegex(run.stderr, /ENOENT/);
  }
  const empty = join(dir, 'empty.nerv');
  writeFileSync(empty, '');
  const run = await nervkit(['info', empty]);
  t.is(run.code, EXIT_CODES.FORMAT);
  t.is(run.messages.length, 1);
  t.true(run.messages[0].startsWith(`nervkit: ${empty}: `), run.messages[0]);
  t.is(run.stderr.trim().split('\n').length, 1, 'one line');
});

test('--help lists the exit codes and the overwrite rules, at the top and per command', async (t) => {
  const top = await nervkit(['--help']);
  t.is(top.code, 0);
  t.regex(top.stdout, /Exit status:[\s\S]*2 +usage[\s\S]*130 +interrupted/);
  t.regex(top.stdout, /refused unless -y/);
  for (const command of ['encode', 'decode']) {
    const help = await nervkit([command, '--help']);
    t.is(help.code, 0);
    t.regex(help.stdout, /-y, --yes/, command);
    t.regex(help.stdout, /-n, --never-overwrite/, command);
    t.regex(help.stdout, /Exit status:[\s\S]*3 +a file problem/, command);
    t.regex(help.stdout, /Output files:/, command);
  }
  t.regex((await nervkit(['eval', '--help'])).stdout, /Exit status:/);
});

test('a usage mistake exits with the usage status and one line', async (t) => {
  for (const [args, message] of [
    [['encode', 'x.y4m', 'y.nerv', '--steps', 'many'], /steps/],
    [['encode', 'x.y4m', 'y.nerv', '--size', '20k', '--psnr', '30'], /cannot be used with/],
    [['encode', 'x.y4m', 'y.nerv', '--size', 'big'], /200k/],
  ] as const) {
    const run = await nervkit([...args]);
    t.is(run.code, EXIT_CODES.USAGE, args.join(' '));
    t.regex(run.stderr, message);
    t.is(run.stderr.trim().split('\n').length, 1, 'one line');
  }
});

test('a missing input file exits with the input status', async (t) => {
  const dir = tempDir();
  const run = await nervkit(['encode', '-i', '/nonexistent/clip.y4m', '-o', join(dir, 'never.nerv')]);
  t.is(run.code, EXIT_CODES.BAD_INPUT);
  t.deepEqual(run.messages, ['nervkit: input not found: /nonexistent/clip.y4m']);
  t.is(run.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
});

test('a corrupt .nerv file exits with the format status, naming the file', async (t) => {
  const dir = tempDir();
  const path = join(dir, 'bad.nerv');
  writeFileSync(path, Buffer.from('NERV\r\n\x1a\nthis is not a real file'));
  for (const args of [
    ['info', path],
    ['decode', '-i', path, '-o', join(dir, 'o.y4m')],
  ]) {
    const run = await nervkit(args);
    t.is(run.code, EXIT_CODES.FORMAT, args[0]);
    t.is(run.messages.length, 1);
    t.true(run.messages[0].startsWith(`nervkit: ${path}: `), run.messages[0]);
  }
});

test('a container input without ffmpeg exits with the ffmpeg status and says what to do', async (t) => {
  const dir = tempDir();
  const clip = join(dir, 'clip.mp4');
  writeFileSync(clip, new Uint8Array(64));
  const run = await nervkit(['encode', '-i', clip, '-o', join(dir, 'x.nerv')], { env: { NERVKIT_FFMPEG: '/nonexistent/ffmpeg' } });
  t.is(run.code, EXIT_CODES.NO_FFMPEG);
  t.is(run.messages.length, 1);
  t.regex(run.stderr, /ffmpeg/);
  t.regex(run.stderr, /Y4M/, 'names the formats that work without ffmpeg');
});

test('no WebGPU adapter exits with the GPU status and says what to install', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  // An ICD list naming no driver: Dawn finds no adapter and nervkit must not fall back silently.
  const run = await nervkit(['encode', '-i', clip, '-o', join(dir, 'x.nerv')], { env: NO_GPU });
  t.is(run.code, EXIT_CODES.NO_GPU, run.stderr);
  t.is(run.messages.length, 1);
  t.regex(run.messages[0], /no WebGPU adapter/);
  t.deepEqual(readdirSync(dir).sort(), ['clip.y4m'], 'no output file on failure');
});

test('sample writes the built-in clip as Y4M (a file, refused if it exists, or stdout) with no GPU', async (t) => {
  const dir = tempDir();
  const run = await nervkit(['sample'], { cwd: dir, env: NO_GPU });
  t.is(run.code, 0, run.stderr);
  const video = decodeY4m(readFileSync(join(dir, 'vtest-128x80.y4m')));
  t.is(video.frames.length, 16);
  t.like(video.info, { width: 128, height: 80 });
  const again = await nervkit(['sample'], { cwd: dir });
  t.is(again.code, EXIT_CODES.IO);
  t.deepEqual(again.messages, ['nervkit: vtest-128x80.y4m already exists (pass -y to overwrite it)']);
  const piped = await nervkit(['sample', '-', '--frames', '2']);
  t.is(piped.code, 0, piped.stderr);
  t.is(decodeY4m(piped.stdoutBytes).frames.length, 2);
  t.deepEqual(readdirSync(dir), ['vtest-128x80.y4m']);
});
