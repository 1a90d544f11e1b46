/**
 * Node edge: the Redis connection BullMQ uses, and the key that says an encode run is still wanted.
 * A wrong URL or a server that is down is reported at once as an IO error, instead of ioredis's
 * silent reconnect loop.
 */
import { Redis } from 'ioredis';
import { NervError } from '../errors.ts';

/** Queue that workers and submitters share unless told otherwise. */
export const DEFAULT_QUEUE = 'nervkit';

/** BullMQ connection options for `url` (workers block on Redis, so requests must wait, not fail). */
export function connectionFor(url: string) {
  return { url, maxRetriesPerRequest: null };
}

/** A client that fails at once instead of retrying (for short checks). */
function quickClient(url: string): Redis {
  let client: Redis;
  try {
    client = new Redis(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  } catch (cause) {
    throw new NervError('BAD_ARGUMENT', `invalid Redis URL ${url}: ${(cause as Error).message}`, { cause });
  }
  client.on('error', () => undefined); // reported by the failed command
  return client;
}

/** Connects once and pings; throws NervError IO naming the URL when Redis cannot be reached. */
export async function checkRedis(url: string): Promise<void> {
  const client = quickClient(url);
  try {
    await client.connect();
    await client.ping();
  } catch (cause) {
    throw new NervError('IO', `cannot reach Redis at ${url}: ${(cause as Error).message}`, { cause });
  } finally {
    client.disconnect();
  }
}

/**
 * A run's liveness key: the submitter keeps it alive while it waits (RUN_TTL_S, renewed every
 * RUN_RENEW_MS); a worker skips the jobs of a run whose key is gone (the submitter was interrupted
 * or killed, so nobody would read their results).
 */
export const RUN_TTL_S = 30;
export const RUN_RENEW_MS = 10_000;

export function runKey(queue: string, run: string): string {
  return `nervkit:run:${queue}:${run}`;
}

/** Sets the key and renews it until the returned function is called (which deletes it). */
export async function keepRunAlive(url: string, key: string): Promise<() => Promise<void>> {
  const client = new Redis(url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined); // a lapse only risks the run's jobs being skipped: the submitter's queue reports it
  await client.set(key, '1', 'EX', RUN_TTL_S);
  const timer = setInterval(() => void client.expire(key, RUN_TTL_S).catch(() => undefined), RUN_RENEW_MS);
  return async () => {
    clearInterval(timer);
    await client.del(key).catch(() => undefined);
    client.disconnect();
  };
}

let checker: Redis | undefined;

/** Whether the run's key exists (a worker asks before each job; one connection per process). */
export async function runIsAlive(url: string, key: string): Promise<boolean> {
  if (!checker) {
    checker = new Redis(url, { maxRetriesPerRequest: 1 });
    checker.on('error', () => undefined); // reported by the failed command
  }
  try {
    return (await checker.exists(key)) === 1;
  } catch (cause) {
    throw new NervError('IO', `cannot reach Redis at ${url}: ${(cause as Error).message}`, { cause });
  }
}
