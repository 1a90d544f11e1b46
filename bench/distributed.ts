// Distributed encode on one machine: wall time of a 4-segment encode through BullMQ with 1 and with
// 2 workers (each --concurrency 1), the speed-up, and the queue's overhead per segment. Starts its own
// redis-server and workers (warmed up first: pipelines compile once per job process). The input is
// the built-in sample (its first 8 frames, 128x80) unless --input names a file. Prints a table and
// writes bench/results/distributed[-TAG].json.
//   npx tsx bench/distributed.ts [--input FILE] [--frames 8] [--steps 30] [--tag T]
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, startNervkit, type Running } from '../test/helpers/nervkit.ts';
import { startRedis } from '../test/helpers/redis.ts';

const { values: args } = parseArgs({
  options: {
    input: { type: 'string' },
    frames: { type: 'string', default: '8' },
    steps: { type: 'string', default: '30' },
    tag: { type: 'string' },
  },
});
// Groups of 2 frames, a key group every group: 8 frames make 4 segments.
const settings = ['--frames', args.frames!, '--steps', args.steps!, '--later-steps', args.steps!, '--group', '2', '--key-interval', '1'];

interface Timing {
  index: number;
  worker: string;
  enqueuedAt: number;
  startedAt: number;
  finishedAt: number;
  receivedAt: number;
}
interface Summary {
  bytes: number;
  psnr: number;
  groups: { seconds: number }[];
  distributed?: { lambda: number; segments: Timing[]; joinMs: number };
}

/** Runs the bin entry to completion; its stdout and the wall time in seconds. */
function nervkit(argv: string[]): Promise<{ stdout: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('close', (code) =>
      code === 0 ? resolve({ stdout, seconds: (performance.now() - started) / 1000 }) : reject(new Error(`nervkit ${argv[0]} exited with ${code}: ${stderr}`)),
    );
  });
}

async function encode(input: string, redis: string | undefined, output: string, extra: string[] = []): Promise<{ seconds: number; summary: Summary }> {
  const { stdout, seconds } = await nervkit(['encode', input, output, '-y', ...settings, ...extra, ...(redis ? ['--redis', redis] : []), '--json']);
  return { seconds, summary: JSON.parse(stdout) };
}

/** Per segment: queue pickup (enqueue, or the worker's previous job, to start), result delivery (finish to received), time in the job outside training. */
function overheads(summary: Summary) {
  const { segments, joinMs } = summary.distributed!;
  const byWorker = new Map<string, Timing[]>();
  for (const s of segments) byWorker.set(s.worker, [...(byWorker.get(s.worker) ?? []), s]);
  const rows = segments.map((s) => {
    const previous = byWorker
      .get(s.worker)!
      .filter((o) => o.finishedAt <= s.startedAt)
      .map((o) => o.finishedAt);
    const free = Math.max(s.enqueuedAt, ...previous);
    return { index: s.index, worker: s.worker, pickupMs: s.startedAt - free, deliveryMs: s.receivedAt - s.finishedAt, jobMs: s.finishedAt - s.startedAt };
  });
  const trainMs = summary.groups.reduce((sum, g) => sum + g.seconds * 1000, 0);
  const mean = (key: 'pickupMs' | 'deliveryMs') => rows.reduce((a, r) => a + r[key], 0) / rows.length;
  return {
    rows,
    pickupMs: mean('pickupMs'),
    deliveryMs: mean('deliveryMs'),
    joinMsPerSegment: joinMs / rows.length,
    // Opening the input, decoding (and skipping) frames, entropy coding, IPC to the job's process, base64: the job's time outside encodeFrames' groups.
    inJobMsPerSegment: (rows.reduce((a, r) => a + r.jobMs, 0) - trainMs) / rows.length,
  };
}

const redis = await startRedis();
const dir = await mkdtemp(join(tmpdir(), 'nervkit-bench-dist-'));
const workers: Running[] = [];
const results = [];
try {
  // Workers read the input by path: the sample is written out as a Y4M file.
  const input = args.input ?? join(dir, 'sample.y4m');
  if (!args.input) await nervkit(['sample', input, '--frames', args.frames!]);
  const local = await encode(input, undefined, join(dir, 'local.nerv'));
  console.log(`single machine, no queue: ${local.seconds.toFixed(1)} s`);
  for (const count of [1, 2]) {
    while (workers.length < count) {
      const worker = startNervkit(['worker', '--redis', redis.url, '--concurrency', '1', '--name', `w${workers.length + 1}`]);
      await worker.line(/ready: queue/);
      workers.push(worker);
    }
    // Warm-up: every worker's job process compiles its GPU pipelines once (tens of seconds on SwiftShader).
    await encode(input, redis.url, join(dir, 'warm.nerv'), ['--steps', '2', '--later-steps', '2']);
    const measured = await encode(input, redis.url, join(dir, `w${count}.nerv`));
    results.push({ workers: count, seconds: measured.seconds, ...overheads(measured.summary), summary: measured.summary });
    console.log(`${count} worker${count > 1 ? 's' : ''}: ${measured.seconds.toFixed(1)} s`);
  }
  const [one, two] = results;
  console.log('\n| workers | wall s | speed-up | pickup ms/segment | delivery ms/segment | join ms/segment | job time outside training ms/segment |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    console.log(
      `| ${r.workers} | ${r.seconds.toFixed(1)} | ${(one.seconds / r.seconds).toFixed(2)}x | ${r.pickupMs.toFixed(0)} | ${r.deliveryMs.toFixed(0)} | ${r.joinMsPerSegment.toFixed(1)} | ${r.inJobMsPerSegment.toFixed(0)} |`,
    );
  }
  console.log(
    `\nsingle machine without a queue: ${local.seconds.toFixed(1)} s (pipelines compiled in that run); load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${cpus().length} cores`,
  );
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `distributed${args.tag ? `-${args.tag}` : ''}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        cpu: cpus()[0].model,
        cores: cpus().length,
        loadavg: loadavg(),
        settings,
        input: args.input ?? 'built-in sample',
        localSeconds: local.seconds,
        speedup: one.seconds / two.seconds,
        results,
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${file}`);
} finally {
  for (const worker of workers) worker.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
