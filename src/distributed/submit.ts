/**
 * Node edge: a distributed encode. The video's lambda is decided once (a 'lambda' job on its first
 * group, when the rate setting is a size or PSNR target), then every segment becomes a job with that
 * fixed lambda; the results come back through the queue and are joined into one file. The jobs of
 * one run carry the run's id in their job ids, so concurrent encodes on one queue never take each
 * other's results; the run removes its jobs at the end, whatever happened, and keeps a liveness key
 * while it waits, so that workers skip its jobs once it is gone (interrupted or killed).
 */
import { randomBytes } from 'node:crypto';
import { Job, Queue, QueueEvents } from 'bullmq';
import { NervError, type NervErrorCode } from '../errors.ts';
import type { EncodeResult } from '../encode/encode.ts';
import { joinSegments } from '../segment/join.ts';
import { withFixedLambda, type SegmentSettings } from '../segment/params.ts';
import { planSegments } from '../segment/plan.ts';
import { combineOutcomes } from '../segment/summary.ts';
import { decodeOutcome, JOB_FORMAT, JOB_VERSION, parseJobResult, type EncodeJob, type EncodeJobResult, type JobSource } from './jobs.ts';
import { checkRedis, connectionFor, DEFAULT_QUEUE, keepRunAlive, runKey } from './redis.ts';

export interface SubmitOptions {
  redis: string;
  queue?: string;
  /** The video as every worker reads it: an absolute path on a shared file system, or a URL. */
  source: JobSource;
  videoFrames: number;
  settings: SegmentSettings;
  onEvent?: (event: SubmitEvent) => void;
}

export type SubmitEvent =
  | { type: 'planned'; segments: number; decideLambda: boolean }
  | { type: 'lambda'; lambda: number }
  | { type: 'started'; index: number }
  | { type: 'progress'; index: number; fraction: number }
  | { type: 'done'; index: number; worker: string };

/** When things happened to one job (ms since the epoch; start and finish are the worker's clock). */
export interface JobTiming {
  enqueuedAt: number;
  startedAt: number;
  finishedAt: number;
  receivedAt: number;
}

export interface SubmitResult {
  /** The joined file and its summary (targets judged on the whole file). */
  result: EncodeResult;
  /** The lambda every segment used. */
  lambda: number;
  /** The lambda job, when there was one. */
  lambdaJob?: JobTiming;
  segments: (JobTiming & { index: number; worker: string })[];
  /** Time to join the segments (ms). */
  joinMs: number;
}

/**
 * Completed jobs are removed by the submitter as soon as it has their result; these limits only
 * matter when it died first.
 */
const JOB_OPTIONS = {
  removeOnComplete: { age: 24 * 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
  // GPU trouble on one machine may not happen on the next; deterministic failures skip retries.
  attempts: 2,
};

export async function submitEncode(options: SubmitOptions): Promise<SubmitResult> {
  await checkRedis(options.redis);
  const name = options.queue ?? DEFAULT_QUEUE;
  const connection = connectionFor(options.redis);
  // Results travel in the events stream too: keep it short.
  const queue = new Queue(name, { connection, streams: { events: { maxLen: 1000 } } });
  const events = new QueueEvents(name, { connection });
  const run = randomBytes(8).toString('hex');
  const ids = new Map<string, number>(); // job id -> segment index (-1: the lambda job)
  const emit = options.onEvent ?? (() => undefined);
  events.on('active', ({ jobId }) => {
    const index = ids.get(jobId);
    if (index !== undefined && index >= 0) emit({ type: 'started', index });
  });
  events.on('progress', ({ jobId, data }) => {
    const index = ids.get(jobId);
    const fraction = (data as { fraction?: unknown })?.fraction;
    if (index !== undefined && index >= 0 && typeof fraction === 'number') emit({ type: 'progress', index, fraction });
  });

  const finished = async (job: Job, enqueuedAt: number): Promise<{ result: EncodeJobResult; timing: JobTiming }> => {
    try {
      await job.waitUntilFinished(events);
    } catch (error) {
      const index = ids.get(job.id!)!;
      throw jobFailure(index < 0 ? 'the lambda job' : `segment ${index}`, (error as Error).message);
    }
    const receivedAt = Date.now();
    const done = await Job.fromId(queue, job.id!);
    if (!done) throw new NervError('IO', `job ${job.id} vanished from the queue before its result was read`);
    let result: EncodeJobResult;
    try {
      result = parseJobResult(done.returnvalue);
    } catch (error) {
      throw new NervError('IO', `job ${job.id}: ${(error as Error).message}`);
    }
    await queue.remove(job.id!).catch(() => 0);
    return { result, timing: { enqueuedAt, startedAt: done.processedOn ?? NaN, finishedAt: done.finishedOn ?? NaN, receivedAt } };
  };

  let stopHeartbeat: (() => Promise<void>) | undefined;
  try {
    await events.waitUntilReady(); // listen before adding, or a fast job's events are missed
    stopHeartbeat = await keepRunAlive(options.redis, runKey(name, run));
    const base = { format: JOB_FORMAT, version: JOB_VERSION, run, source: options.source, videoFrames: options.videoFrames } as const;
    const { settings } = options;
    const plan = planSegments(options.videoFrames, settings.groupSize, settings.keyInterval);
    const target = settings.targetBytes !== undefined || settings.targetPsnr !== undefined;
    emit({ type: 'planned', segments: plan.length, decideLambda: target });

    let lambda = settings.lambda;
    let lambdaJob: JobTiming | undefined;
    if (lambda === undefined) {
      if (!target) throw new NervError('BAD_ARGUMENT', 'a distributed encode needs a lambda, a size or a PSNR target');
      const id = `${run}-lambda`;
      ids.set(id, -1);
      const data: EncodeJob = { ...base, kind: 'lambda', settings };
      const enqueuedAt = Date.now();
      const { result, timing } = await finished(await queue.add('lambda', data, { ...JOB_OPTIONS, jobId: id }), enqueuedAt);
      if (result.kind !== 'lambda') throw new NervError('IO', `job ${id} returned a ${result.kind} result`);
      lambda = result.lambda;
      lambdaJob = timing;
      emit({ type: 'lambda', lambda });
    }
    const fixed = withFixedLambda(settings, lambda);
    const enqueuedAt = Date.now();
    const jobs = await queue.addBulk(
      plan.map((range, index) => {
        const id = `${run}-${index}`;
        ids.set(id, index);
        const data: EncodeJob = { ...base, kind: 'segment', settings: fixed, index, ...range };
        return { name: 'segment', data, opts: { ...JOB_OPTIONS, jobId: id } };
      }),
    );
    const results = await Promise.all(
      jobs.map(async (job, index) => {
        const { result, timing } = await finished(job, enqueuedAt);
        if (result.kind !== 'segment') throw new NervError('IO', `job ${job.id} returned a ${result.kind} result`);
        emit({ type: 'done', index, worker: result.worker });
        return { result, timing, index };
      }),
    );
    const joinStarted = performance.now();
    const bytes = joinSegments(
      results.map(({ result, index }) => ({ name: `segment ${index}`, bytes: Buffer.from(result.kind === 'segment' ? result.bytes : '', 'base64') })),
    );
    const joinMs = performance.now() - joinStarted;
    const outcomes = results.map(({ result }) => decodeOutcome(result.kind === 'segment' ? result.outcome : ''));
    return {
      result: combineOutcomes(bytes, outcomes, settings),
      lambda,
      lambdaJob,
      segments: results.map(({ result, timing, index }) => ({ ...timing, index, worker: result.kind === 'segment' ? result.worker : '' })),
      joinMs,
    };
  } finally {
    // Jobs still waiting go; a running one cannot be removed (its worker holds the lock) and expires after it ends.
    await Promise.all([...ids.keys()].map((id) => queue.remove(id).catch(() => 0)));
    await stopHeartbeat?.();
    await events.close();
    await queue.close();
  }
}

const CODES: readonly NervErrorCode[] = ['BAD_ARGUMENT', 'BAD_INPUT', 'FORMAT', 'NO_FFMPEG', 'IO', 'TRAINING', 'GPU', 'NO_GPU'];

/** A worker stores a failure as `CODE: message` (see run-job.ts); the submitter raises it with that code. */
function jobFailure(what: string, reason: string): NervError {
  const match = /^([A-Z_]+): (.*)$/s.exec(reason);
  const code = match && (CODES as string[]).includes(match[1]) ? (match[1] as NervErrorCode) : 'IO';
  return new NervError(code, `${what} failed on a worker: ${match ? match[2] : reason}`);
}
