// Ablation of the model's design choices at (about) equal encode time: each variant encodes the same
// clip through the real encoder (real file bytes, decoded PSNR), with its step count set so that its
// training takes the same time as the default's. Variants: the rate term off, no context model (one
// Laplace for every latent, given only the anchor/first-frame flags), no temporal context, no parent
// in the previous frame, a sequential (raster) context instead of the checkerboard, RGB instead of
// Y'CbCr 4:2:0, shallower pyramids, the network learning rate before it was raised, and larger
// context models (wider hidden layers, more taps). Prints a table, writes
// bench/results/ablation[-TAG].json; finished variants are cached under bench/out/ablation/ so an
// interrupted run resumes.
//   npx tsx bench/ablation.ts [CLIP] [--size WxH] [--frames 16] [--steps 400] [--lambda 0.002] [--only a,b] [--tag T]
// Without CLIP it uses the built-in sample (examples/sample).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GpuContext } from '../src/gpu/context.ts';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { PROFILES, DEFAULT_PROFILE, describeModel, initialParameters, latentsPerFrame, macsPerPixel, type ContextTap, type Profile } from '../src/nn/model.ts';
import { GroupGraph } from '../src/nn/graph_gpu.ts';
import { DEFAULT_SCHEDULE, trainGroup } from '../src/train/trainer.ts';
import { encodeFrames, type EncodeOptions } from '../src/encode/encode.ts';
import { frameTargets } from '../src/encode/targets.ts';
import { describeNerv } from '../src/format/nerv.ts';
import { openInputOrSample } from '../src/cli/sample.ts';
import { frameSize } from '../src/cli/main.ts';
import type { RgbFrame } from '../src/video/frame.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    size: { type: 'string' },
    frames: { type: 'string', default: '16' },
    steps: { type: 'string', default: '400' },
    lambda: { type: 'string', default: '0.002' },
    only: { type: 'string' },
    tag: { type: 'string' },
  },
});

const base = PROFILES[DEFAULT_PROFILE];
const raster: ContextTap[] = [
  { from: 'current', dy: -1, dx: -1 },
  { from: 'current', dy: -1, dx: 0 },
  { from: 'current', dy: -1, dx: 1 },
  { from: 'current', dy: 0, dx: -1 },
  ...base.arm.taps.filter((t) => t.from !== 'current'),
];
interface Variant {
  name: string;
  what: string;
  profile?: Partial<Profile>;
  options?: Partial<EncodeOptions>;
  rgb?: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'default', what: `profile ${DEFAULT_PROFILE}` },
  { name: 'no-rate', what: 'rate term off (lambda 1e-9): the context model is not trained', options: { lambda: 1e-9 } },
  { name: 'no-context', what: 'no taps: one Laplace for every latent', profile: { arm: { ...base.arm, taps: [] } } },
  {
    name: 'no-temporal',
    what: 'no previous-frame taps',
    profile: { arm: { ...base.arm, taps: base.arm.taps.filter((t) => t.from !== 'previous' && t.from !== 'previous-parent') } },
  },
  {
    name: 'no-previous-parent',
    what: "without the parent in the previous frame (the default's context before 2026-12-02)",
    profile: { arm: { ...base.arm, taps: base.arm.taps.filter((t) => t.from !== 'previous-parent') } },
  },
  {
    name: 'raster',
    what: 'sequential context (causal raster taps) instead of the checkerboard',
    profile: { arm: { ...base.arm, taps: raster, schedule: 'raster' } },
  },
  { name: 'rgb', what: "codes RGB instead of Y'CbCr 4:2:0", rgb: true },
  { name: 'levels4', what: '4 latent levels (stride 2 to 16)', profile: { levels: 4 } },
  { name: 'stride1', what: '7 levels from stride 1 (a full-resolution level; the default before 2026-12-02)', profile: { levels: 7, firstStride: 1 } },
  { name: 'arm-16', what: 'context model hidden 16-16 (default 8-8)', profile: { arm: { ...base.arm, hidden: [16, 16] } } },
  {
    name: 'taps-wide',
    what: "context model over 18 taps: 4 current, the previous frame's 3x3, the parent and its 4 neighbours",
    profile: {
      arm: {
        ...base.arm,
        taps: [
          ...base.arm.taps.filter((t) => t.from === 'current'),
          ...[-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => ({ from: 'previous' as const, dy, dx }))),
          ...[
            [-1, 0],
            [0, -1],
            [0, 0],
            [0, 1],
            [1, 0],
          ].map(([dy, dx]) => ({ from: 'parent' as const, dy, dx })),
        ],
      },
    },
  },
  { name: 'networks-lr-0.01', what: 'network learning rate 0.01 (the default before 2026-12-02; now 0.02)', options: { learningRates: { networks: 0.01 } } },
];

const only = args.only?.split(',');
const variants = VARIANTS.filter((v) => !only || only.includes(v.name));
const source = await openInputOrSample(positionals[0], { maxFrames: Number(args.frames), scale: args.size ? frameSize(args.size) : undefined });
const frames: RgbFrame[] = [];
for await (const frame of source.frames()) frames.push(frame);
await source.close();
const { width, height } = frames[0];
const keySteps = Number(args.steps);
const lambda = Number(args.lambda);

// Cache key: the clip, the settings and the sources that decide the result.
const sourceHash = createHash('sha256');
for (const dir of ['src', 'shaders']) {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const file of walk(join(ROOT, dir)).sort()) sourceHash.update(readFileSync(file));
}
const clipHash = createHash('sha256');
for (const f of frames) clipHash.update(new Uint8Array(f.data.buffer));
const codeDigest = sourceHash.digest('hex');
const clipDigest = clipHash.digest('hex');
const cacheDir = join(ROOT, 'bench', 'out', 'ablation');
mkdirSync(cacheDir, { recursive: true });

const ctx = new GpuContext(await requestGpuDevice());

/** Seconds per training step of a variant's key group (after compiling its pipelines). */
async function secondsPerStep(variant: Variant, input: RgbFrame[]): Promise<number> {
  const name = register(variant);
  const model = describeModel(width, height, Math.min(8, input.length), { profile: name, colour: variant.rgb ? 'rgb' : 'yuv420' });
  const group = input.slice(0, model.groupSize);
  const graph = new GroupGraph(ctx, model, group.length, group.length);
  graph.setParameters(initialParameters(model, 1));
  graph.setContextFrame(undefined);
  graph.setLatents(new Float32Array(group.length * latentsPerFrame(model)));
  graph.setTargets(frameTargets(model, group));
  const schedule = { ...DEFAULT_SCHEDULE, steps: 3, lambda, seed: 1, evalEvery: 3 };
  await trainGroup(graph, schedule);
  // The fastest of three timings: a single one on this shared machine varied by 20% between
  // variants whose steps cost the same.
  let fastest = Infinity;
  for (let k = 0; k < 3; k++) {
    const started = performance.now();
    await trainGroup(graph, { ...schedule, steps: 20, evalEvery: 20 });
    fastest = Math.min(fastest, (performance.now() - started) / 1000 / 20);
  }
  return fastest;
}

function register(variant: Variant): string {
  const name = `ablation-${variant.name}`;
  PROFILES[name] = { ...base, ...variant.profile, name };
  return name;
}

const rows = [];
let reference: number | undefined;
for (const variant of variants) {
  const input = variant.rgb ? frames.map((f) => ({ width: f.width, height: f.height, data: f.data })) : frames;
  const key = createHash('sha256')
    .update(JSON.stringify({ variant, keySteps, lambda, width, height, n: frames.length }))
    .update(codeDigest)
    .update(clipDigest)
    .digest('hex')
    .slice(0, 16);
  const cached = join(cacheDir, `${variant.name}-${key}.json`);
  if (existsSync(cached)) {
    const row = JSON.parse(readFileSync(cached, 'utf8'));
    rows.push(row);
    reference ??= row.secondsPerStep;
    console.log(`${variant.name}: cached (${cached})`);
    continue;
  }
  const perStep = await secondsPerStep(variant, input);
  reference ??= perStep;
  // Equal training time: a variant whose step costs more gets fewer steps.
  const steps = Math.max(20, Math.round((keySteps * reference) / perStep));
  const name = register(variant);
  const started = performance.now();
  const result = await encodeFrames(ctx, input, {
    profile: name,
    lambda,
    steps,
    laterSteps: Math.max(10, Math.round(steps * 0.375)),
    ...variant.options,
  });
  const seconds = (performance.now() - started) / 1000;
  const parts = describeNerv(result.bytes);
  const networks = Object.values(parts.tensors).reduce((a, b) => a + b, 0);
  const row = {
    variant: variant.name,
    what: variant.what,
    steps,
    secondsPerStep: perStep,
    seconds,
    bytes: result.bytes.length,
    bpp: result.bpp,
    psnrYuv: result.psnrYuv?.weighted ?? null,
    psnrRgb: result.psnrRgb,
    latentBytes: parts.latents,
    networkBytes: networks,
    headerBytes: parts.header + parts.index + parts.chunkOverhead,
    macsPerPixel: macsPerPixel(result.model),
  };
  writeFileSync(cached, JSON.stringify(row, null, 2));
  rows.push(row);
  console.log(
    `${variant.name}: ${row.bytes} bytes (${row.bpp.toFixed(4)} bpp: latents ${row.latentBytes}, networks ${row.networkBytes}, header ${row.headerBytes}), ` +
      `YUV ${row.psnrYuv?.toFixed(2) ?? '-'} dB, RGB ${row.psnrRgb.toFixed(2)} dB, ${steps} steps in ${seconds.toFixed(0)} s`,
  );
}

const fmt = (v: number | null, d: number) => (v === null ? '-' : v.toFixed(d));
console.log(`\n${frames.length} frames ${width}x${height}, lambda ${lambda}, ${keySteps} key-group steps for the default (others: the same training time)`);
console.log('variant        bytes   bpp      latents  networks header  YUV dB  RGB dB  steps  MACs/px');
for (const r of rows) {
  console.log(
    `${r.variant.padEnd(12)} ${String(r.bytes).padStart(7)} ${fmt(r.bpp, 4).padStart(7)} ${String(r.latentBytes).padStart(8)} ${String(r.networkBytes).padStart(8)} ${String(r.headerBytes).padStart(6)} ${fmt(r.psnrYuv, 2).padStart(7)} ${fmt(r.psnrRgb, 2).padStart(7)} ${String(r.steps).padStart(6)} ${String(r.macsPerPixel).padStart(8)}`,
  );
}
const results = join(ROOT, 'bench', 'results');
mkdirSync(results, { recursive: true });
const file = join(results, `ablation${args.tag ? `-${args.tag}` : ''}.json`);
writeFileSync(
  file,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      cpu: cpus()[0].model,
      input: positionals[0] ?? 'built-in sample',
      width,
      height,
      frames: frames.length,
      lambda,
      keySteps,
      rows,
    },
    null,
    2,
  ),
);
console.log(`wrote ${file}`);
