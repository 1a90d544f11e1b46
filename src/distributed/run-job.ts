/**
 * Node edge: one encode job, run in a BullMQ sandbox child process (see worker.ts; processor.js is
 * the entry that loads this file). The child keeps its GPU device and compiled pipelines between
 * jobs. Failures are stored in the job as `CODE: message` (submit.ts reads the code back). A job
 * that fails the same way everywhere (foreign job, bad input or settings, abandoned run) is not
 * retried; GPU trouble, which may be this machine's, is.
 */
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { NervError } from '../errors.ts';
import { GpuContext } from '../gpu/context.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { decideLambda, encodeSegment } from '../segment/encode.ts';
import { framesOf } from '../segment/plan.ts';
import { outcomeOf } from '../segment/summary.ts';
import { openVideo } from '../video/node-io.ts';
import { encodeOutcome, JOB_VERSION, parseJob, type EncodeJob, type EncodeJobResult } from './jobs.ts';
import { DEFAULT_QUEUE, runIsAlive, runKey } from './redis.ts';

/** Milliseconds between progress reports a job sends to the queue. */
const PROGRESS_EVERY_MS = 1000;

let context: Promise<GpuContext> | undefined;

export default async function runJob(job: SandboxedJob): Promise<EncodeJobResult> {
  let data: EncodeJob;
  try {
    data = parseJob(job.data);
  } catch (error) {
    throw new UnrecoverableError(`BAD_ARGUMENT: ${(error as Error).message}`);
  }
  const redis = process.env.NERVKIT_REDIS_URL;
  if (redis && !(await runIsAlive(redis, runKey(process.env.NERVKIT_QUEUE ?? DEFAULT_QUEUE, data.run)))) {
    throw new UnrecoverableError(`IO: run ${data.run} was abandoned (its submitter stopped waiting): job skipped`);
  }
  let source: Awaited<ReturnType<typeof openVideo>> | undefined;
  try {
    source = await openVideo(data.source.input, { maxFrames: data.source.maxFrames, scale: data.source.scale });
    context ??= requestGpuDevice().then((device) => new GpuContext(device));
    const ctx = await context;
    if (data.kind === 'lambda') {
      return { version: JOB_VERSION, kind: 'lambda', lambda: await decideLambda(ctx, source.frames(), data.settings, data.videoFrames) };
    }
    const firstGroup = data.firstFrame / data.settings.groupSize;
    const groups = Math.ceil(data.frameCount / data.settings.groupSize);
    let lastReport = 0;
    const encoded = await encodeSegment(ctx, framesOf(source.frames(), data.firstFrame, data.frameCount), {
      range: { firstFrame: data.firstFrame, frameCount: data.frameCount },
      videoFrames: data.videoFrames,
      settings: data.settings,
      onProgress: (event) => {
        if (performance.now() - lastReport < PROGRESS_EVERY_MS && event.phase !== 'done') return;
        lastReport = performance.now();
        // Groups done plus the running group's share of its steps; a phase's steps restart from 0, so cap below the next group.
        const within = event.phase === 'done' ? 1 : Math.min(0.99, event.step / Math.max(1, event.steps));
        job.updateProgress({ fraction: (event.group - firstGroup + within) / groups }).catch(() => undefined);
      },
    });
    return {
      version: JOB_VERSION,
      kind: 'segment',
      bytes: Buffer.from(encoded.bytes).toString('base64'),
      worker: process.env.NERVKIT_WORKER_NAME ?? `pid ${process.pid}`,
      outcome: encodeOutcome(outcomeOf(encoded)),
    };
  } catch (error) {
    if (!(error instanceof NervError)) throw error;
    const reason = `${error.code}: ${error.message}`;
    throw error.code === 'GPU' || error.code === 'NO_GPU' ? new Error(reason) : new UnrecoverableError(reason);
  } finally {
    await source?.close();
  }
}
