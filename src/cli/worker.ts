// `nervkit worker`: runs encode jobs from a BullMQ queue until SIGINT/SIGTERM (see docs/distributed.md).
import { hostname } from 'node:os';
import { requestGpuDevice } from '../gpu/device.ts';
import { startWorker } from '../distributed/worker.ts';
import { DEFAULT_QUEUE } from '../distributed/redis.ts';

export interface WorkerFlags {
  redis: string;
  queue?: string;
  concurrency: number;
  lockDuration: number;
  stalledInterval: number;
  name?: string;
  adapter?: string;
}

/**
 * Signals are the worker's own (main.ts leaves them to it): the first SIGINT/SIGTERM lets the running
 * jobs finish and takes no new ones, as a Kubernetes pod's grace period expects; a second one ends it
 * at once, and its running jobs go back to the queue when their locks expire.
 */
export async function workerCommand(flags: WorkerFlags): Promise<void> {
  // No GPU here: fail now rather than take jobs (the jobs run in child processes with their own device).
  (await requestGpuDevice()).destroy();
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const name = flags.name ?? `${hostname()}:${process.pid}`;
  const worker = await startWorker({ ...flags, name, log });
  log(`worker ${name} ready: queue ${flags.queue ?? DEFAULT_QUEUE} on ${redisHost(flags.redis)}, concurrency ${flags.concurrency}`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: 'SIGINT' | 'SIGTERM') => {
      if (stopping) {
        log(`${signal} again: exiting now; running jobs return to the queue once their locks expire`);
        // End by the signal itself (status 130/143 in a shell), as the interrupt module does.
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
        return;
      }
      stopping = true;
      log(`${signal}: finishing the running jobs and taking no new ones (${signal} again to quit at once)`);
      worker.close().then(resolve, resolve);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  log('worker stopped');
}

/** The URL without credentials, for logs. */
function redisHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'redis';
  }
}
