// Encode progress on stderr: a bar on a terminal; otherwise plain lines, one per finished group and
// one whenever ten seconds have passed since the last line (checked at each progress report, which
// the trainer sends every few dozen steps).
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
  steps: number;
  laterSteps: number;
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

export function progressReporter(options: ProgressOptions): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const interval = options.intervalMs ?? PLAIN_LINE_INTERVAL_MS;
  const { groups, steps, laterSteps } = options;
  const firstGroupWork = steps + Math.max(20, Math.ceil(steps / 4));
  const total = groups ? firstGroupWork + (groups - 1) * laterSteps : undefined;
  const before = (event: EncodeProgress) => (event.group === 0 ? 0 : firstGroupWork + (event.group - 1) * laterSteps);
  let firstPhaseSteps = 0;
  let done = 0;
  const bar =
    options.interactive && !options.quiet
      ? new SingleBar({
          format: 'group {group} |{bar}| {percentage}% | step {step} | {psnr} dB | ETA {eta_formatted}',
          hideCursor: true,
          etaBuffer: 50,
          stream: stream as NodeJS.WriteStream,
        })
      : undefined;
  let started = false;
  let lastLine = now();
  return {
    update(event) {
      if (event.phase === 'done') done = event.group + 1;
      if (options.quiet) return;
      if (event.group === 0 && event.phase === 'quantize') firstPhaseSteps = steps;
      const position = before(event) + (event.group === 0 ? firstPhaseSteps : 0) + event.step;
      const groupLabel = groups ? `${event.group + 1}/${groups}` : `${event.group + 1}`;
      if (bar) {
        if (!started) bar.start(total ?? 1, 0, { group: '1', step: 0, psnr: '--' });
        started = true;
        if (!total) bar.setTotal(position + laterSteps);
        bar.update(position, { group: groupLabel, step: event.step, psnr: Number.isFinite(event.psnr) ? event.psnr.toFixed(2) : '--' });
        return;
      }
      const t = now();
      if (event.phase !== 'done' && t - lastLine < interval) return;
      lastLine = t;
      const what =
        event.phase === 'done' ? 'done, decoded PSNR'
        : event.phase === 'quantize' ? 'quantization steps chosen, float PSNR'
        : `step ${event.step}/${event.steps}, PSNR`;
      stream.write(`group ${groupLabel}: ${what} ${event.psnr.toFixed(2)} dB\n`);
    },
    note(line) {
      if (options.quiet) return;
      if (bar && started) bar.stop();
      started = false;
      stream.write(`${line}\n`);
    },
    groupsDone: () => done,
    stop() {
      if (started) bar?.stop();
      started = false;
    },
  };
}
