// Resumable file-to-file encodes through the bin entry, with a size target so that rate control's
// state must carry over from segment to segment: Ctrl-C and SIGKILL leave no output file, and the
// resumed encode writes the bytes of one uninterrupted encode through stdout (encodeFrames over the
// whole video, no segments).
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES } from '../src/cli/errors.ts';
import { nervkit, startNervkit, tempDir, tinyClip } from './helpers/cli.ts';

// 8 frames, groups of 2, a key group every group: 4 segments of 2 frames, a few steps each.
const SETTINGS = ['--steps', '5', '--later-steps', '3', '--group', '2', '--key-interval', '1', '--seed', '3', '--size', '1800'];
const ENV = { NERVKIT_CACHE_DIR: tempDir('nervkit-cache-') };

const dir = tempDir('nervkit-resume-');
const clip = tinyClip(dir, 'clip.y4m', 8);
const output = join(dir, 'out.nerv');
const parts = `${output}.parts`;
const encodeArgs = ['encode', clip, output, ...SETTINGS];
let reference: Buffer;
let hint = '';

test.serial('the reference: the same settings in one go, through stdout', async (t) => {
  const run = await nervkit(['encode', clip, '-', ...SETTINGS], { env: ENV });
  t.is(run.code, 0, run.stderr);
  reference = run.stdoutBytes;
  t.is(reference.subarray(0, 4).toString('latin1'), 'NERV');
});

test.serial('Ctrl-C after a segment leaves no output file, keeps the segment and says how to resume', async (t) => {
  const first = startNervkit(encodeArgs, { env: ENV });
  await first.line(/^segment 1\/4 done \(kept in .*out\.nerv\.parts\)$/);
  first.child.kill('SIGINT');
  t.is((await first.exited).signal, 'SIGINT');
  const messages = first.stderr.filter((l) => l.startsWith('nervkit:'));
  t.is(messages.length, 1, first.stderr.join('\n'));
  hint = messages[0];
  t.regex(
    hint,
    /^nervkit: interrupted after [12] of 4 groups; nothing was written to .*out\.nerv; 1 of 4 segments are kept in .*out\.nerv\.parts; continue with: nervkit encode .* --resume$/,
  );
  t.false(existsSync(output), 'no file under the output name');
  t.deepEqual(readdirSync(parts).sort(), ['manifest.json', 'segment-00000.nerv']);
});

test.serial('a new encode without --resume, or a resume with other settings, is refused', async (t) => {
  const again = await nervkit(encodeArgs, { env: ENV });
  t.is(again.code, EXIT_CODES.BAD_ARGUMENT);
  t.deepEqual(again.messages, [
    `nervkit: ${parts} holds an unfinished encode (1 of 4 segments done): add --resume to continue it, or delete ${parts} to start over`,
  ]);
  const otherSeed = await nervkit([...encodeArgs, '--seed', '4', '--resume'], { env: ENV });
  t.is(otherSeed.code, EXIT_CODES.BAD_ARGUMENT);
  t.deepEqual(otherSeed.messages, [
    `nervkit: cannot resume: ${parts} was encoded with other settings or input (seed: 3 then, 4 now); rerun with the original settings, or delete ${parts} to start over`,
  ]);
  t.false(existsSync(output));
});

test.serial('the command the hint gives resumes; killed with SIGKILL, it still leaves no output file', async (t) => {
  const resumeArgs = hint.slice(hint.indexOf('continue with: nervkit ') + 'continue with: nervkit '.length).split(' ');
  t.deepEqual(resumeArgs, [...encodeArgs, '--resume'], 'the hint repeats the command with --resume');
  const second = startNervkit(resumeArgs, { env: ENV });
  await second.line(/^resuming: 1 of 4 segments already done in .*out\.nerv\.parts$/);
  await second.line(/^segment 2\/4 done/);
  second.child.kill('SIGKILL');
  t.is((await second.exited).signal, 'SIGKILL');
  t.false(existsSync(output), 'no file under the output name');
  t.true(existsSync(join(parts, 'segment-00001.nerv')));
});

test.serial('--resume finishes with the bytes of the uninterrupted encode and removes its work directory', async (t) => {
  const last = await nervkit([...encodeArgs, '--resume', '--json'], { env: ENV });
  t.is(last.code, 0, last.stderr);
  t.deepEqual(readFileSync(output), reference);
  t.false(existsSync(parts), 'the work directory is removed on success');
  const summary = JSON.parse(last.stdout);
  t.is(summary.bytes, reference.length);
  t.deepEqual(summary.targets.bytes, { asked: 1800, reached: reference.length });
  t.deepEqual(
    summary.groups.map((g: { frames: number }) => g.frames),
    [2, 2, 2, 2],
    'the summary covers the resumed segments too',
  );
});

test.serial('stdin and stdout cannot resume', async (t) => {
  const stdin = await nervkit(['encode', '-', join(dir, 'x.nerv'), ...SETTINGS, '--resume'], { env: ENV, input: readFileSync(clip) });
  t.is(stdin.code, EXIT_CODES.USAGE);
  t.deepEqual(stdin.messages, ['nervkit: --resume reads the input again: give a video file, not stdin']);
  const stdout = await nervkit(['encode', clip, '-', ...SETTINGS, '--resume'], { env: ENV });
  t.is(stdout.code, EXIT_CODES.USAGE);
  t.deepEqual(stdout.messages, ['nervkit: --resume keeps its work next to the output file: name one, not -o -']);
  t.deepEqual(readdirSync(dir).sort(), ['clip.y4m', 'out.nerv']);
});
