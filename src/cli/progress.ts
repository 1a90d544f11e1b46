// Encode progress on stderr: one bar for the whole encode on a terminal; otherwise plain lines, one
// per finished group and one whenever ten seconds have passed since the last line (checked at each
// progress report, which the trainer sends every few dozen steps). Work is counted in training
// steps (every group's planned steps, plus rate-search passes as they happen) and the ETA comes
// from the measured time per step so far, not from the bar library's guess.
import { SingleBar } from 'cli-progress';
import type { EncodeProgress } from '../encode/encode.ts';

export const PLAIN_LINE_INTERVAL_MS = 10_000;

export interface ProgressOptions {
  /** A bar (terminal) or plain lines. */
  interactive: boolean;
  /** Nothing at all (--json). */
  quiet: boolean;
  /** Groups in the input, when known. */
  groups?: number;
  /** Planned training steps of group k. */
  stepsOf: (group: number) => number;
  stream?: NodeJS.WritableStream;
  /** Milliseconds; injectable so tests need no real time. */
  now?: () => number;
  intervalMs?: number;
}

export interface ProgressReporter {
  update(event: EncodeProgress): void;
  /** A line of its own (above the bar, or plain). */
  note(line: string): void;
  /** Groups finished so far. */
  groupsDone(): number;
  stop(): void;
}

const PHASES: Record<EncodeProgress['phase'], string> = { train: 'training', search: 'rate search', quantize: 'quantizing', done: 'coded' };

export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function progressReporter(options: ProgressOptions): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const interval = options.intervalMs ?? PLAIN_LINE_INTERVAL_MS;
  const { groups, stepsOf } = options;
  const planned = (k: number) => {
    let sum = 0;
    for (let g = 0; g < k; g++) sum += stepsOf(g);
    return sum;
  };
  let extra = 0;
  // Unknown length: the bar covers what has started so far, plus the group under way.
  const total = (current: number) => planned(groups ?? current + 1) + extra;
  const bar =
    options.interactive && !options.quiet
      ? new SingleBar({
          format: '{phase} group {group} |{bar}| {percentage}% | {psnr} dB {bpp} bpp | {elapsed} | ETA {eta}',
          hideCursor: true,
          stream: stream as NodeJS.WriteStream,
        })
      : undefined;
  const started = now();
  let barShown = false;
  let lastLine = started;
  let done = 0;
  let shown = 0;
  let groupsDone = 0;
  let lastGroup = -1;
  let passBase = 0;
  let inSearch = false;
  return {
    update(event) {
      if (event.phase === 'done') groupsDone = event.group + 1;
      if (event.group !== lastGroup) {
        passBase = planned(event.group) + extra;
        lastGroup = event.group;
        inSearch = false;
      }
      if (event.phase === 'search' && event.step === 0) {
        // A rate-control pass re-trains the group: work beyond the plan, counted from here.
        extra += event.steps;
        passBase = done;
        inSearch = true;
      }
      if (event.phase === 'train' || (event.phase === 'search' && inSearch)) done = Math.max(done, passBase + Math.min(event.step, event.steps));
      if (event.phase === 'done') done = Math.max(done, planned(event.group + 1) + extra);
      if (options.quiet) return;
      const t = now();
      const elapsed = (t - started) / 1000;
      const all = total(event.group);
      // Extra passes grow the total: the shown fraction waits rather than going backwards.
      shown = Math.max(shown, Math.min(1, done / all));
      const eta = done > 0 ? ((all - done) * elapsed) / done : NaN;
      const groupLabel = groups ? `${event.group + 1}/${groups}` : `${event.group + 1}`;
      const phase = PHASES[event.phase];
      if (bar) {
        if (!barShown) bar.start(all, 0);
        barShown = true;
        bar.setTotal(all);
        bar.update(Math.round(shown * all), {
          phase,
          group: groupLabel,
          psnr: Number.isFinite(event.psnr) ? event.psnr.toFixed(2) : '--',
          bpp: event.bpp.toFixed(3),
          elapsed: formatSeconds(elapsed),
          eta: Number.isFinite(eta) ? formatSeconds(eta) : '--',
        });
        return;
      }
      if (event.phase !== 'done' && t - lastLine < interval) return;
      lastLine = t;
      const what = event.phase === 'done' ? 'coded' : `${phase}, step ${event.step}/${event.steps}`;
      stream.write(
        `group ${groupLabel}: ${what}, ${event.psnr.toFixed(2)} dB, ${event.bpp.toFixed(3)} bpp; ${Math.round(100 * shown)}% after ${formatSeconds(elapsed)}` +
          `${Number.isFinite(eta) ? `, about ${formatSeconds(eta)} left` : ''}\n`,
      );
    },
    note(line) {
      if (options.quiet) return;
      if (bar && barShown) bar.stop();
      barShown = false;
      stream.write(`${line}\n`);
    },
    groupsDone: () => groupsDone,
    stop() {
      if (barShown) bar?.stop();
      barShown = false;
    },
  };
}
