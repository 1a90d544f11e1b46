// The CLI through its real bin entry on a WebGPU adapter: a tiny clip round trip (positional and -i/-o
// arguments, stdin and stdout), a stderr free of third-party noise, and Ctrl-C / SIGTERM with and
// without a terminal. Error paths that need no GPU are in cli-files.test.ts.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES } from '../src/cli/errors.ts';
import { decodeY4m, encodeY4m } from '../src/video/y4m.ts';
import { createRgbFrame } from '../src/video/frame.ts';
import { BIN, NOISE, nervkit, tempDir, tinyClip } from './helpers/cli.ts';

// The benchmark cache goes to a folder of this test file's own.
const CACHE = { NERVKIT_CACHE_DIR: tempDir('nervkit-cache-') };

/** One encode shared by the tests that only need a .nerv file (each encode compiles every kernel). */
let fixture: Promise<{ dir: string; clip: string; nerv: string; encoded: Awaited<ReturnType<typeof nervkit>> }> | undefined;
function encodedClip() {
  fixture ??= (async () => {
    const dir = tempDir();
    const clip = tinyClip(dir);
    const nerv = join(dir, 'clip.nerv');
    const encoded = await nervkit(['encode', clip, nerv, '--steps', '40', '--group', '4', '--adapter', '0'], { env: CACHE });
    return { dir, clip, nerv, encoded };
  })();
  return fixture;
}

test('encode, info, decode and eval round-trip a tiny clip, with a quiet stderr', async (t) => {
  const { dir, clip, nerv, encoded } = await encodedClip();
  t.is(encoded.code, 0, encoded.stderr);
  t.notRegex(encoded.stderr, NOISE, 'no Dawn, Vulkan loader or Wayland lines');
  const lines = encoded.stderr.trim().split('\n');
  t.regex(lines[0], /^encoding .*clip\.y4m: 32x24, 4 frames in 1 group, on .*\(vulkan\), chosen with --adapter$/, 'the first line names the adapter');
  const wrote = /^wrote .*clip\.nerv: (\d+) bytes, [\d.]+ bpp, PSNR ([\d.]+) dB/.exec(lines.at(-1)!);
  t.truthy(wrote, lines.at(-1));
  const bytes = readFileSync(nerv);
  t.is(Number(wrote![1]), bytes.length);
  t.true(Number(wrote![2]) > 18, `PSNR ${wrote![2]}`);

  const info = await nervkit(['info', nerv, '--json']);
  t.is(info.code, 0, info.stderr);
  const parsed = JSON.parse(info.stdout);
  t.like(parsed, { width: 32, height: 24, frameCount: 4, groupCount: 1, byteLength: bytes.length, version: 2, colour: 'yuv420' });
  t.true(parsed.macsPerPixel > 0 && parsed.macsPerPixel <= 5000);

  const decoded = join(dir, 'out.y4m');
  const decode = await nervkit(['decode', nerv, '-o', decoded], { env: CACHE });
  t.is(decode.code, 0, decode.stderr);
  t.is(decode.stderr, '');
  t.is(decodeY4m(readFileSync(decoded)).frames.length, 4);

  const evaluated = await nervkit(['eval', '-i', nerv, '--ref', clip, '--json'], { env: CACHE });
  t.is(evaluated.code, 0, evaluated.stderr);
  const metrics = JSON.parse(evaluated.stdout);
  t.is(metrics.perFrame.length, 4);
  // eval measures the decoded file: the encoder's closed-loop PSNR (YUV 6:1:1 for this 4:2:0 clip, printed with 2 decimals).
  t.true(Math.abs(metrics.psnrYuv - Number(wrote![2])) < 0.01, `eval ${metrics.psnrYuv} vs encode ${wrote![2]}`);
});

test('- streams: Y4M on stdin to .nerv on stdout, and .nerv back to Y4M on stdout', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  const encoded = await nervkit(['encode', '-', '-', '--steps', '5', '--group', '4'], { env: CACHE, input: readFileSync(clip) });
  t.is(encoded.code, 0, encoded.stderr);
  t.is(encoded.stdoutBytes.subarray(0, 4).toString('latin1'), 'NERV', 'stdout holds the file and nothing else');
  t.regex(encoded.stderr, /^encoding stdin: 32x24/);
  t.regex(encoded.stderr, /wrote stdout: \d+ bytes/, 'the summary goes to stderr');
  const decoded = await nervkit(['decode', '-i', '-', '-o', '-', '--cpu'], { input: encoded.stdoutBytes });
  t.is(decoded.code, 0, decoded.stderr);
  const video = decodeY4m(decoded.stdoutBytes);
  t.is(video.frames.length, 4);
  t.is(video.info.width, 32);
  t.deepEqual(readdirSync(dir), ['clip.y4m']);
});

test('decode and eval name the files the user gave; eval refuses a reference of another size unless --scale', async (t) => {
  const { nerv } = await encodedClip();
  const dir = tempDir();
  const xyz = await nervkit(['decode', nerv, join(dir, 'out.xyz'), '--cpu']);
  t.is(xyz.code, EXIT_CODES.IO);
  t.is(xyz.messages.length, 1);
  t.regex(xyz.messages[0], /out\.xyz/);
  t.notRegex(xyz.stderr, /\.tmp/, 'the temporary name stays internal');
  t.is(xyz.stderr.trim().split('\n').length, 1);

  const small = join(dir, 'small.y4m');
  writeFileSync(
    small,
    encodeY4m(
      { width: 16, height: 12, fps: { num: 12, den: 1 } },
      Array.from({ length: 4 }, () => createRgbFrame(16, 12)),
    ),
  );
  const refused = await nervkit(['eval', nerv, small, '--cpu']);
  t.is(refused.code, EXIT_CODES.BAD_INPUT);
  t.deepEqual(refused.messages, [
    `nervkit: ${small} is 16x12 but ${nerv} is 32x24: pass --scale to resize the reference (with ffmpeg), or compare against the source at 32x24`,
  ]);
  const scaled = await nervkit(['eval', nerv, small, '--scale', '--cpu', '--json']);
  t.is(scaled.code, 0, scaled.stderr);
  t.is(JSON.parse(scaled.stdout).frames, 4);
  t.deepEqual(readdirSync(dir), ['small.y4m']);
});

/** Starts `command`, waits until its output matches `ready`, then lets `act` interrupt it. */
function interruptWhen(command: string, args: string[], ready: RegExp, act: (child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...CACHE }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let acted = false;
    const seen = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (!acted && ready.test(output)) {
        acted = true;
        act(child);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

test('Ctrl-C on a terminal: cursor and line wrap restored, one line on what was lost, status 130, nothing left', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  const out = join(dir, 'out.nerv');
  const line = [process.execPath, BIN, 'encode', clip, out, '--steps', '100000', '--group', '4'].map((a) => `'${a}'`).join(' ');
  // util-linux `script` gives the command a pseudo-terminal; typing ^C there sends SIGINT to it.
  const run = await interruptWhen('script', ['-qefc', line, '/dev/null'], /training group/, (child) => child.stdin!.write('\x03'));
  t.is(run.code, 130, run.output);
  const output = run.output;
  t.true(output.lastIndexOf('\x1b[?25h') > output.lastIndexOf('\x1b[?25l'), 'cursor shown again');
  t.true(output.lastIndexOf('\x1b[?7h') > output.lastIndexOf('\x1b[?7l'), 'line wrap on again');
  // eslint-disable-next-line no-control-regex -- the terminal's erase-line sequence
  const messages = output.split(/\r?\n|\x1b\[2K/).filter((l) => l.includes('nervkit:'));
  t.deepEqual(
    messages.map((l) => l.slice(l.indexOf('nervkit:')).trim()),
    [`nervkit: interrupted after 0 of 1 groups; nothing was written to ${out}`],
  );
  t.deepEqual(readdirSync(dir), ['clip.y4m']);
});

test('SIGTERM without a terminal: one line, ended by the signal (status 143 in a shell), nothing left', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  const out = join(dir, 'out.nerv');
  const run = await interruptWhen(process.execPath, [BIN, 'encode', clip, out, '--steps', '100000', '--group', '4'], /^encoding /m, (child) =>
    child.kill('SIGTERM'),
  );
  t.is(run.signal, 'SIGTERM');
  t.deepEqual(
    run.output
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('nervkit:')),
    [`nervkit: terminated after 0 of 1 groups; nothing was written to ${out}`],
  );
  t.notRegex(run.output, NOISE);
  t.deepEqual(readdirSync(dir), ['clip.y4m']);
});

test('adapters lists what --adapter can name; an --adapter that does not exist says which do', async (t) => {
  const listed = await nervkit(['adapters', '--json'], { env: CACHE });
  t.is(listed.code, 0, listed.stderr);
  const adapters = JSON.parse(listed.stdout) as { index: number; backend: string; name: string }[];
  t.true(adapters.length >= 1);
  t.is(adapters[0].index, 0);
  const dir = tempDir();
  const missing = await nervkit(['encode', tinyClip(dir), join(dir, 'b.nerv'), '--adapter', String(adapters.length)], { env: CACHE });
  t.is(missing.code, EXIT_CODES.USAGE);
  t.deepEqual(missing.messages, [
    `nervkit: --adapter ${adapters.length}: there is no adapter ${adapters.length}; available: ${adapters.map((a) => `${a.index}: ${a.name} (${a.backend})`).join(', ')}`,
  ]);
});

test('play serves until Ctrl-C, then says so in one line', async (t) => {
  const { nerv } = await encodedClip();
  const run = await interruptWhen(process.execPath, [BIN, 'play', nerv], /^nervkit: playing .* at (http:\S+)/m, (child) => child.kill('SIGINT'));
  t.is(run.signal, 'SIGINT');
  const url = /at (http:\S+)/.exec(run.output)![1];
  t.deepEqual(
    run.output
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('nervkit:'))
      .slice(1),
    [`nervkit: interrupted; stopped serving ${url}`],
  );
});

test('--size lands within 5% of its target, and a group that keeps diverging still yields a file with one warning', async (t) => {
  const dir = tempDir();
  const clip = tinyClip(dir);
  const sized = join(dir, 'sized.nerv');
  // Inside what 60 steps reach on this clip (about 0.73 to 0.83 KB between lambda 2e-3 and 4e-5).
  const target = 760;
  const run = await nervkit(['encode', clip, sized, '--size', String(target), '--steps', '60', '--group', '4', '--json'], { env: CACHE });
  t.is(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  const bytes = readFileSync(sized).length;
  t.is(summary.bytes, bytes);
  t.deepEqual(summary.targets.bytes, { asked: target, reached: bytes });
  t.true(Math.abs(bytes / target - 1) <= 0.05, `${bytes} bytes for a target of ${target}`);

  const diverging = join(dir, 'diverging.nerv');
  const broken = await nervkit(['encode', clip, diverging, '--steps', '120', '--group', '4', '--lr-scale', '1e8'], { env: CACHE });
  t.is(broken.code, 0, broken.stderr);
  t.true(readFileSync(diverging).length > 0);
  t.is(broken.messages.length, 1, broken.stderr);
  t.regex(broken.messages[0], /^nervkit: warning: group 0: training kept diverging and stopped early; it was coded from the best state reached \([\d.]+ dB\)$/);
});
