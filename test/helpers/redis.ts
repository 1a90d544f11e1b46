// A throwaway redis-server for tests: a free port on 127.0.0.1, no persistence, a temporary directory.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { findFfmpeg } from '../../src/video/node-io.ts';

/** redis-server on the PATH, or null (findFfmpeg resolves any command name). */
export const REDIS_SERVER = findFfmpeg('redis-server');

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'nervkit-redis-'));
  const port = await getPort({ host: '127.0.0.1' });
  const server = spawn(REDIS_SERVER!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => server.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let log = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      log += chunk;
      if (log.includes('Ready to accept connections')) resolve();
    });
    exited.then(() => reject(new Error(`redis-server exited before it was ready:\n${log}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      server.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
