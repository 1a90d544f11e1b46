// Time to quality: encodes a clip with nervkit's default settings at growing training budgets and
// records, for each, the encode's wall-clock time and the decoded PSNR (RGB and YUV 6:1:1) of the
// real file, plus the PSNR curve training reports along the way. From the measured points it gives
// the time to reach a target RGB PSNR (default 32.0 dB, what the HNeRV reference reached on this
// clip in 18 minutes of PyTorch CPU training), interpolated between the two encodes around it, or
// says it was not reached. Each finished encode is cached (bench/out/time-to-psnr/), so a long run resumes.
//   NERVKIT_CLIPS=DIR npx tsx bench/time-to-psnr.ts            # vtest.avi, 32 frames at 320x192
//   npx tsx bench/time-to-psnr.ts CLIP [--frames 32] [--size 320x192] [--steps 100,300,1000] [--target 32] [--lambda L]
// Prints a table and writes bench/results/time-to-psnr.json.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GpuContext } from '../src/gpu/context.ts';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { encodeFrames, ENCODE_DEFAULTS, PRESETS } from '../src/encode/encode.ts';
import { openInputOrSample } from '../src/cli/sample.ts';
import { frameSize } from '../src/cli/main.ts';
import type { RgbFrame } from '../src/video/frame.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    frames: { type: 'string', default: '32' },
    size: { type: 'string', default: '320x192' },
    steps: { type: 'string' },
    target: { type: 'string', default: '32' },
    lambda: { type: 'string' },
  },
});
const clipsDir = process.env.NERVKIT_CLIPS;
const input = positionals[0] ?? (clipsDir ? join(clipsDir, 'vtest.avi') : undefined);
const preset = PRESETS[ENCODE_DEFAULTS.preset];
// Key-group steps per encode; predicted groups get the preset's share of them.
const budgets = (args.steps ?? `${preset.keySteps / 10},${preset.keySteps / 3},${preset.keySteps}`).split(',').map(Number);
const target = Number(args.target);
const lambda = args.lambda ? Number(args.lambda) : ENCODE_DEFAULTS.lambda;
const source = await openInputOrSample(input, { maxFrames: Number(args.frames), scale: input ? frameSize(args.size) : undefined });
const frames: RgbFrame[] = [];
for await (const frame of source.frames()) frames.push(frame);
await source.close();
const { width, height } = frames[0];
const clipKey = createHash('sha256');
for (const f of frames) clipKey.update(new Uint8Array(f.data.buffer));
const clipDigest = clipKey.digest('hex').slice(0, 12);
const cacheDir = join(import.meta.dirname, 'out', 'time-to-psnr');
mkdirSync(cacheDir, { recursive: true });

const ctx = new GpuContext(await requestGpuDevice());
// Compile every pipeline first: compilation is a one-off, not a cost of the training budget.
await encodeFrames(ctx, frames.slice(0, 2), { groupSize: 2, steps: 2, laterSteps: 2, lambda });

const rows = [];
for (const steps of budgets) {
  const laterSteps = Math.max(1, Math.round((steps * preset.laterSteps) / preset.keySteps));
  const cached = join(cacheDir, `${clipDigest}-${width}x${height}x${frames.length}-${steps}-${laterSteps}-${lambda}.json`);
  if (existsSync(cached)) {
    rows.push(JSON.parse(readFileSync(cached, 'utf8')));
    console.log(`${steps} steps: cached`);
    continue;
  }
  const curve: [number, number][] = [];
  const started = performance.now();
  const result = await encodeFrames(ctx, frames, {
    steps,
    laterSteps,
    lambda,
    onProgress: (e) => {
      if (e.phase === 'train') curve.push([(performance.now() - started) / 1000, e.psnr]);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const row = {
    steps,
    laterSteps,
    seconds,
    bytes: result.bytes.length,
    bpp: result.bpp,
    psnrRgb: result.psnrRgb,
    psnrYuv: result.psnrYuv?.weighted ?? null,
    trainingCurve: curve,
  };
  writeFileSync(cached, JSON.stringify(row));
  rows.push(row);
  console.log(
    `${steps}/${laterSteps} steps: ${seconds.toFixed(0)} s, RGB ${row.psnrRgb.toFixed(2)} dB, YUV ${row.psnrYuv?.toFixed(2) ?? '-'} dB, ${row.bpp.toFixed(3)} bpp`,
  );
}

rows.sort((a, b) => a.seconds - b.seconds);
let timeToTarget: number | null = null;
for (let i = 0; i < rows.length; i++) {
  if (rows[i].psnrRgb < target) continue;
  const before = rows[i - 1];
  timeToTarget = before
    ? before.seconds + ((target - before.psnrRgb) * (rows[i].seconds - before.seconds)) / (rows[i].psnrRgb - before.psnrRgb)
    : rows[i].seconds;
  break;
}
console.log(
  timeToTarget === null
    ? `${target} dB RGB was not reached: best ${Math.max(...rows.map((r) => r.psnrRgb)).toFixed(2)} dB after ${Math.max(...rows.map((r) => r.seconds)).toFixed(0)} s`
    : `time to ${target} dB RGB: about ${(timeToTarget / 60).toFixed(1)} minutes (interpolated between measured encodes)`,
);
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'time-to-psnr.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      cpu: cpus()[0].model,
      cores: cpus().length,
      adapter: ctx.device.adapterInfo?.description ?? null,
      input: input ?? 'built-in sample',
      width,
      height,
      frames: frames.length,
      lambda,
      target,
      timeToTargetSeconds: timeToTarget,
      rows,
    },
    null,
    2,
  ),
);
