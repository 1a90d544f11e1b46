// Plain-line progress (stderr not a terminal) on a fake clock: a line when ten seconds have passed
// since the last one, one per finished group, none with --json.
import test from 'ava';
import { progressReporter } from '../src/cli/progress.ts';
import type { EncodeProgress } from '../src/encode/encode.ts';

function harness(options: { quiet?: boolean; intervalMs?: number } = {}) {
  let clock = 0;
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(...s.trimEnd().split('\n')) } as unknown as NodeJS.WritableStream;
  const reporter = progressReporter({
    interactive: false,
    quiet: !!options.quiet,
    groups: 2,
    stepsOf: (k) => (k === 0 ? 100 : 40),
    stream,
    now: () => clock,
    intervalMs: options.intervalMs,
  });
  return { reporter, lines, advance: (ms: number) => (clock += ms) };
}

const train = (group: number, step: number): EncodeProgress => ({ group, phase: 'train', step, steps: 100, psnr: 20 + step / 100, bpp: 0.5 });

test('a plain line comes once ten seconds have passed since the last line, whatever the step count', (t) => {
  const { reporter, lines, advance } = harness();
  advance(4000);
  reporter.update(train(0, 50)); // 4 s after the start: too early
  t.deepEqual(lines, []);
  advance(6000);
  reporter.update(train(0, 100)); // 10 s
  t.deepEqual(lines, ['group 1/2: training, step 100/100, 21.00 dB, 0.500 bpp; 71% after 10s, about 4s left']);
  for (let i = 0; i < 9; i++) {
    advance(1000);
    reporter.update(train(0, 10 + i)); // events every second: nothing until 10 s after the last line
  }
  t.is(lines.length, 1);
  advance(1000);
  reporter.update(train(0, 20));
  t.is(lines.length, 2);
  advance(30_000);
  reporter.update(train(0, 30)); // a long gap still gives one line per event, not a burst
  t.is(lines.length, 3);
});

test('every finished group gets its line at once, and resets the interval', (t) => {
  const { reporter, lines, advance } = harness();
  advance(1);
  reporter.update({ group: 0, phase: 'done', step: 100, steps: 100, psnr: 25, bpp: 0.4 });
  t.deepEqual(lines, ['group 1/2: coded, 25.00 dB, 0.400 bpp; 71% after 0s, about 0s left']);
  t.is(reporter.groupsDone(), 1);
  advance(9999);
  reporter.update(train(1, 40));
  t.is(lines.length, 1);
  reporter.note('a note line');
  t.is(lines.at(-1), 'a note line');
});

test('the interval is injectable, and --json (quiet) prints nothing yet counts groups', (t) => {
  const fast = harness({ intervalMs: 100 });
  fast.advance(100);
  fast.reporter.update(train(0, 1));
  t.is(fast.lines.length, 1);
  const quiet = harness({ quiet: true });
  quiet.advance(60_000);
  quiet.reporter.update(train(0, 1));
  quiet.reporter.update({ group: 0, phase: 'done', step: 100, steps: 100, psnr: 25, bpp: 0.4 });
  quiet.reporter.note('hidden');
  t.deepEqual(quiet.lines, []);
  t.is(quiet.reporter.groupsDone(), 1);
});

test('one monotonic count for the whole encode: rate-search passes add work instead of going backwards', (t) => {
  const { reporter, lines, advance } = harness({ intervalMs: 0 });
  advance(1000);
  reporter.update(train(0, 100));
  reporter.update({ group: 0, phase: 'search', step: 0, steps: 40, psnr: 21, bpp: 0.5 });
  advance(1000);
  reporter.update({ group: 0, phase: 'search', step: 40, steps: 40, psnr: 22, bpp: 0.45 });
  advance(1000);
  reporter.update({ group: 1, phase: 'train', step: 20, steps: 40, psnr: 22, bpp: 0.3 });
  const percents = lines.map((l) => Number(/; (\d+)%/.exec(l)![1]));
  t.deepEqual(
    percents,
    [...percents].sort((a, b) => a - b),
    percents.join(' '),
  );
  t.is(percents.at(-1), Math.round((100 * 160) / 180));
  t.is(percents[0], Math.round((100 * 100) / 140));
});
