// `nervkit encode --redis URL`: the submitting side of a distributed encode, with one overall progress bar.
import { SingleBar } from 'cli-progress';
import { submitEncode, type SubmitEvent } from '../distributed/submit.ts';
import type { JobSource } from '../distributed/jobs.ts';
import type { SegmentSettings } from '../segment/params.ts';
import type { EncodeFlags } from './encode.ts';
import { addInterruptNote, setInterruptProgress } from './interrupt.ts';

export async function submitCommand(flags: EncodeFlags, source: JobSource, settings: SegmentSettings, videoFrames: number) {
  const progress = segmentProgress(flags);
  setInterruptProgress(() => `after ${progress.done()} of ${progress.segments()} segments`);
  // Nothing asynchronous can run after a signal: the workers notice the run is gone instead (src/distributed/redis.ts).
  addInterruptNote(() => "the workers skip this encode's queued jobs within 30 s");
  const submitted = await submitEncode({ redis: flags.redis!, queue: flags.queue, source, videoFrames, settings, onEvent: progress.event }).finally(() =>
    progress.stop(),
  );
  return {
    result: submitted.result,
    extra: { distributed: { lambda: submitted.lambda, lambdaJob: submitted.lambdaJob, segments: submitted.segments, joinMs: submitted.joinMs } },
  };
}

/** Segments done (running ones count by their reported fraction) and an ETA; one line per event off a terminal. */
function segmentProgress(flags: EncodeFlags) {
  const bar =
    process.stderr.isTTY && !flags.json
      ? new SingleBar({
          format: 'segments {done}/{segments} |{bar}| {percentage}% | ETA {eta_formatted}',
          hideCursor: true,
          etaBuffer: 20,
          stream: process.stderr,
        })
      : undefined;
  const line = (text: string) => {
    if (!flags.json && !bar) process.stderr.write(`${text}\n`);
  };
  const fractions = new Map<number, number>();
  let segments = 0;
  let done = 0;
  const position = () => [...fractions.values()].reduce((a, b) => a + b, 0);
  return {
    done: () => done,
    segments: () => segments,
    event(event: SubmitEvent) {
      switch (event.type) {
        case 'planned':
          segments = event.segments;
          bar?.start(segments, 0, { done, segments });
          line(`queued: ${segments} segment${segments === 1 ? '' : 's'}${event.decideLambda ? ', after a job that decides lambda on the first group' : ''}`);
          return;
        case 'lambda':
          line(`lambda ${event.lambda} decided; segments queued`);
          return;
        case 'started':
          fractions.set(event.index, fractions.get(event.index) ?? 0);
          return;
        case 'progress':
          // A group's rate-search pass restarts its steps: never show less than before.
          fractions.set(event.index, Math.max(fractions.get(event.index) ?? 0, Math.min(event.fraction, 0.99)));
          break;
        case 'done':
          fractions.set(event.index, 1);
          done++;
          line(`segment ${event.index + 1}/${segments} done on ${event.worker} (${done} of ${segments})`);
          break;
      }
      bar?.update(position(), { done, segments });
    },
    stop() {
      bar?.stop();
    },
  };
}
