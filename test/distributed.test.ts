// Distributed encodes through BullMQ on a throwaway redis-server, with real `nervkit worker` processes:
// the result equals the single-machine encode byte for byte, so do segments encoded apart and joined,
// a worker killed mid-job is replaced by another, bad or abandoned jobs fail with their reason while
// the workers carry on, and an interrupted submitter leaves no output.
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, Queue } from 'bullmq';
import { EXIT_CODES } from '../src/cli/errors.ts';
import { JOB_FORMAT, JOB_VERSION } from '../src/distributed/jobs.ts';
import { NervReader } from '../src/format/nerv.ts';
import { nervkit, startNervkit, tempDir, tinyClip, type Running } from './helpers/cli.ts';
import { REDIS_SERVER, startRedis, type TestRedis } from './helpers/redis.ts';

const redisTest = REDIS_SERVER ? test.serial : test.serial.skip;
const NEEDS_REDIS = REDIS_SERVER ? '' : ' [SKIPPED: redis-server is not on the PATH; apt-get install redis-server]';

// 8 frames, groups of 2, a key group every group: 4 segments, a few training steps each.
const SETTINGS = ['--steps', '5', '--later-steps', '3', '--group', '2', '--key-interval', '1', '--seed', '3'];
// Short locks so that a killed worker's job is back in the queue within seconds (BullMQ's defaults: 30 s).
const WORKER_FLAGS = ['--lock-duration', '5000', '--stalled-interval', '1000'];
const ENV = { NERVKIT_CACHE_DIR: tempDir('nervkit-cache-') };

const dir = tempDir('nervkit-dist-');
const clip = tinyClip(dir, 'clip.y4m', 8);
let redis: TestRedis;
let reference: Buffer;
const workers = new Map<string, Running>();

async function startWorker(name: string): Promise<Running> {
  const worker = startNervkit(['worker', '--redis', redis.url, '--name', name, ...WORKER_FLAGS], { env: ENV });
  workers.set(name, worker);
  await worker.line(/ready: queue nervkit/);
  return worker;
}

/** `encode --redis` with --json: the summary, which says which worker encoded each segment. */
async function submit(output: string, extra: string[] = []): Promise<{ distributed: { lambda: number; segments: { index: number; worker: string }[] } }> {
  const run = await nervkit(['encode', clip, output, ...SETTINGS, ...extra, '--redis', redis.url, '--json'], { env: ENV });
  if (run.code !== 0) throw new Error(`encode --redis exited with ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

async function withQueue<T>(use: (queue: Queue) => Promise<T>): Promise<T> {
  const queue = new Queue('nervkit', { connection: { url: redis.url } });
  try {
    return await use(queue);
  } finally {
    await queue.close();
  }
}

test.before(async () => {
  if (REDIS_SERVER) redis = await startRedis();
  const local = await nervkit(['encode', clip, join(dir, 'local.nerv'), ...SETTINGS], { env: ENV });
  if (local.code !== 0) throw new Error(`local encode failed: ${local.stderr}`);
  reference = readFileSync(join(dir, 'local.nerv'));
});

test.after.always(async () => {
  for (const worker of workers.values()) worker.child.kill('SIGKILL');
  await Promise.all([...workers.values()].map((w) => w.exited));
  await redis?.stop();
});

redisTest(`Ctrl-C while the submitter waits: one line, no output file${NEEDS_REDIS}`, async (t) => {
  const output = join(dir, 'interrupted.nerv');
  // No worker runs yet: the jobs wait in the queue.
  const submitter = startNervkit(['encode', clip, output, ...SETTINGS, '--redis', redis.url], { env: ENV });
  await submitter.line(/^queued: 4 segments$/);
  submitter.child.kill('SIGINT');
  t.is((await submitter.exited).signal, 'SIGINT');
  t.deepEqual(
    submitter.stderr.filter((l) => l.startsWith('nervkit:')),
    [`nervkit: interrupted after 0 of 4 segments; nothing was written to ${output}; the workers skip this encode's queued jobs within 30 s`],
  );
  t.false(existsSync(output));
  await withQueue((queue) => queue.obliterate({ force: true })); // the later tests start from an empty queue
});

redisTest(`foreign, other-version, unreadable and abandoned jobs fail with their reason; the workers carry on${NEEDS_REDIS}`, async (t) => {
  await Promise.all([startWorker('A'), startWorker('B')]);
  await withQueue(async (queue) => {
    const settings = {
      profile: 'small',
      groupSize: 2,
      keyInterval: 1,
      steps: 5,
      laterSteps: 3,
      seed: 1,
      lambda: 0.002,
      fps: { num: 12, den: 1 },
      colorSpace: 'bt601',
      colorRange: 'limited',
    };
    const valid = { format: JOB_FORMAT, version: JOB_VERSION, run: 'gone', kind: 'segment', videoFrames: 8, settings, index: 0, firstFrame: 0, frameCount: 2 };
    const jobs = {
      foreign: await queue.add('x', { hello: 'world' }),
      future: await queue.add('x', { format: JOB_FORMAT, version: 99 }),
      malformed: await queue.add('x', { ...valid, source: { input: clip }, firstFrame: 'zero' }),
      abandoned: await queue.add('x', { ...valid, source: { input: clip } }),
    };
    const reasons: Record<keyof typeof jobs, RegExp> = {
      foreign: /^BAD_ARGUMENT: not a nervkit encode job \(format missing, expected "nervkit-encode"\)$/,
      future: /^BAD_ARGUMENT: job format version 99 is not the version 2 this worker reads: run the same nervkit version on the workers and the submitter$/,
      malformed: /^BAD_ARGUMENT: malformed nervkit job: firstFrame: /,
      abandoned: /^IO: run gone was abandoned \(its submitter stopped waiting\): job skipped$/,
    };
    try {
      for (const [what, added] of Object.entries(jobs) as [keyof typeof jobs, Job][]) {
        for (let i = 0; i < 600 && (await queue.getJobState(added.id!)) !== 'failed'; i++) await new Promise((r) => setTimeout(r, 100));
        const job = await Job.fromId(queue, added.id!);
        t.is(await job!.getState(), 'failed', `the ${what} job failed`);
        t.regex(job!.failedReason ?? '', reasons[what]);
        t.is(job!.attemptsMade, 1, `no retry for the ${what} job, which fails the same everywhere`);
      }
    } finally {
      await queue.obliterate({ force: true });
    }
    for (const [name, worker] of workers) t.is(worker.child.exitCode, null, `worker ${name} is still running`);
  });
});

redisTest(`two workers encode a clip through the queue, byte for byte the single-machine file${NEEDS_REDIS}`, async (t) => {
  const output = join(dir, 'distributed.nerv');
  const summary = await submit(output);
  t.deepEqual(readFileSync(output), reference);
  t.is(summary.distributed.lambda, 0.002);
  t.deepEqual([...new Set(summary.distributed.segments.map((s) => s.worker))].sort(), ['A', 'B'], 'both workers took segments');
  const counts = await withQueue((queue) => queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed'));
  t.deepEqual(Object.values(counts), [0, 0, 0, 0, 0], 'the encode removed its jobs');
});

redisTest(`a worker killed during its job: the other finishes it and the file is still identical${NEEDS_REDIS}`, async (t) => {
  const output = join(dir, 'killed.nerv');
  const from = new Map([...workers].map(([name, w]) => [name, w.stderr.length]));
  const submitted = submit(output);
  // Whichever worker starts a segment first is killed (SIGKILL: no cleanup, its lock just expires).
  const started = await Promise.race([...workers].map(([name, w]) => w.line(/segment \d+ .*started/, from.get(name)).then((line) => ({ name, line }))));
  workers.get(started.name)!.child.kill('SIGKILL');
  const killedSegment = Number(/segment (\d+)/.exec(started.line)![1]);
  const summary = await submitted;
  t.deepEqual(readFileSync(output), reference);
  const survivor = started.name === 'A' ? 'B' : 'A';
  t.is(summary.distributed.segments.find((s) => s.index === killedSegment)!.worker, survivor, `segment ${killedSegment} was finished by ${survivor}`);
  t.is((await workers.get(started.name)!.exited).signal, 'SIGKILL');
});

test('segments encoded apart and joined with `nervkit join` equal the whole encode; out of order, join refuses them', async (t) => {
  const [head, tail, rest] = ['head.nerv', 'tail.nerv', 'rest.nerv'].map((name) => join(dir, name));
  const runs = await Promise.all([
    nervkit(['encode', clip, head, ...SETTINGS, '--frames-to', '4'], { env: ENV }),
    nervkit(['encode', clip, tail, ...SETTINGS, '--segment', '2', '--json'], { env: ENV }),
    nervkit(['encode', clip, rest, ...SETTINGS, '--frames-from', '6'], { env: ENV }),
  ]);
  for (const run of runs) t.is(run.code, 0, run.stderr);
  t.deepEqual(JSON.parse(runs[1].stdout).segment, { firstFrame: 4, frameCount: 2, videoFrames: 8 });
  t.deepEqual(new NervReader(readFileSync(tail)).header.segment, { firstFrame: 4, videoFrames: 8 });
  const joined = join(dir, 'joined.nerv');
  const run = await nervkit(['join', head, tail, rest, '-o', joined]);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(readFileSync(joined), reference);
  const misordered = await nervkit(['join', head, rest, tail, '-o', join(dir, 'bad.nerv')]);
  t.is(misordered.code, EXIT_CODES.BAD_INPUT);
  t.deepEqual(misordered.messages, [
    `nervkit: ${rest} starts at frame 6, but ${head} ends at frame 3: frames 4..5 are missing or the segments are out of order`,
  ]);
  const off = await nervkit(['encode', clip, join(dir, 'x.nerv'), ...SETTINGS, '--frames-from', '1', '--key-interval', '2']);
  t.is(off.code, EXIT_CODES.BAD_ARGUMENT);
  t.deepEqual(off.messages, [
    'nervkit: --frames-from 1 is not on a key-group boundary: segments start at multiples of 4 frames (key interval 2 x group 2), e.g. 0 or 4',
  ]);
  t.false(existsSync(join(dir, 'bad.nerv')));
  t.false(readdirSync(dir).some((name) => name.includes('.tmp')));
});

test('encode --redis reports a Redis it cannot reach as an IO error', async (t) => {
  const run = await nervkit(['encode', clip, join(dir, 'x.nerv'), '--redis', 'redis://127.0.0.1:1']);
  t.is(run.code, EXIT_CODES.IO);
  t.is(run.messages.length, 1, run.stderr);
  t.regex(run.messages[0], /^nervkit: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: /);
});
