/**
 * Node edge: a BullMQ worker that runs encode jobs (src/distributed/jobs.ts) on this machine's GPU.
 * A job that cannot succeed anywhere (foreign or other-version job, unreadable input, bad settings)
 * fails at once with its reason stored in the job, and the worker goes on with the next one. A worker
 * that dies mid-job stops renewing the job's lock; after `lockDuration` another worker's stalled-job
 * check (every `stalledInterval`) puts the job back in the queue, and it runs again elsewhere.
 */
import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { parseJob, type EncodeJob } from './jobs.ts';
import { checkRedis, connectionFor, DEFAULT_QUEUE } from './redis.ts';

export interface WorkerOptions {
  redis: string;
  queue?: string;
  /** Jobs this worker runs at once, each in its own process (they share the machine's GPU). */
  concurrency?: number;
  /** How long a job's lock lasts without renewal (ms; renewed every half of it while the worker lives). BullMQ's default, 30 s. */
  lockDuration?: number;
  /** How often this worker looks for jobs whose worker died (ms). BullMQ's default, 30 s. */
  stalledInterval?: number;
  /** Shown in logs and recorded in each result; default host:pid. */
  name?: string;
  /** The WebGPU adapter the jobs use (index or name, as --adapter); default: the fastest. */
  adapter?: string;
  log?: (line: string) => void;
}

/**
 * Jobs run in child processes (BullMQ's sandboxed processors, kept and reused between jobs): GPU
 * work such as shader compilation blocks a process for seconds, and the lock renewals that tell
 * BullMQ this worker is alive must not wait for it.
 */
const PROCESSOR = new URL('./processor.js', import.meta.url);

export async function startWorker(options: WorkerOptions): Promise<Worker> {
  await checkRedis(options.redis);
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const queue = options.queue ?? DEFAULT_QUEUE;
  const log = options.log ?? (() => undefined);
  const worker = new Worker(queue, PROCESSOR, {
    connection: connectionFor(options.redis),
    concurrency: options.concurrency ?? 1,
    lockDuration: options.lockDuration ?? 30_000,
    stalledInterval: options.stalledInterval ?? 30_000,
    name,
    // The child asks Redis whether a job's run is still wanted before it starts (run-job.ts).
    workerForkOptions: {
      env: {
        ...process.env,
        NERVKIT_WORKER_NAME: name,
        NERVKIT_REDIS_URL: options.redis,
        NERVKIT_QUEUE: queue,
        ...(options.adapter ? { NERVKIT_ADAPTER: options.adapter } : {}),
      },
    },
  });
  const started = new Map<string, number>();
  worker.on('active', (job) => {
    started.set(job.id!, performance.now());
    log(`job ${job.id}: ${describe(job.data)} started`);
  });
  worker.on('completed', (job) => {
    log(`job ${job.id}: ${describe(job.data)} done in ${((performance.now() - (started.get(job.id!) ?? NaN)) / 1000).toFixed(1)} s`);
    started.delete(job.id!);
  });
  worker.on('failed', (job, error) => {
    log(`job ${job?.id ?? '?'} failed: ${error.message}`);
    if (job) started.delete(job.id!);
  });
  // Connection trouble: ioredis reconnects by itself; say so rather than crash.
  worker.on('error', (error) => log(`queue error: ${error.message}`));
  await worker.waitUntilReady();
  return worker;
}

function describe(data: unknown): string {
  let job: EncodeJob;
  try {
    job = parseJob(data);
  } catch {
    return 'not a valid nervkit job';
  }
  return job.kind === 'lambda' ? 'lambda (first group)' : `segment ${job.index} (frames ${job.firstFrame}..${job.firstFrame + job.frameCount - 1})`;
}
