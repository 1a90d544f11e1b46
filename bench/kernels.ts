// Training-step benchmark of the latent-pyramid model (docs/model.md): one step of GroupGraph
// timed whole (back-to-back steps, one submit each, as the trainer runs them) and piece by piece
// (GPU timestamps around each dispatch group where the adapter has 'timestamp-query', else wall time
// of isolated submits), against the tuned matmul measured in the same run, with model FLOPs counted
// as forward MACs x 3 (forward, input and parameter gradients) x 2 FLOP per MAC. Also the decode side:
// one frame through SynthesisRenderer on WebGPU and through synthesizeCpu. Prints a table, writes
// JSON to bench/results/ and never fails on a time.
//   npx tsx bench/kernels.ts --step [--size 160x96] [--frames 8] [--kernels generic,fused] [--decode 320x192] [--out FILE] [--quick]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext, type GpuProgram } from '../src/gpu/context.ts';
import { matmulRoofline, type MatmulRoofline } from '../src/gpu/kernels/matmul.ts';
import { adamHyper } from '../src/gpu/kernels/adam.ts';
import { targetFloatsPerFrame } from '../src/gpu/kernels/latents.ts';
import { GroupGraph, SynthesisRenderer, type GroupGraphOptions, type StepProgram, type StepStage } from '../src/nn/graph_gpu.ts';
import { synthesizeCpu } from '../src/nn/network_cpu.ts';
import { decodeCost, describeModel, initialParameters, latentsPerFrame, type ModelDescription } from '../src/nn/model.ts';

const { values } = parseArgs({
  options: {
    step: { type: 'boolean', default: false },
    size: { type: 'string', default: '160x96' },
    frames: { type: 'string', default: '8' },
    kernels: { type: 'string', default: 'generic,fused' },
    decode: { type: 'string', default: '320x192' },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});

const STAGES: StepStage[] = ['quantize', 'synthesis forward', 'loss', 'context model', 'synthesis backward', 'latent gradient', 'adam (networks)'];

/** Deterministic values in [-scale, scale]; speed does not depend on them. */
const rand = (n: number, seed: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin((i + seed * 7919) * 12.9898) * scale);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const parseSize = (s: string) => {
  const [w, h] = s.split('x').map(Number);
  if (!(w > 1 && h > 1)) throw new Error(`bad size ${s} (want WxH)`);
  return { width: w, height: h };
};

/**
 * Model FLOPs of one step per stage: forward MACs x 2 FLOP, backward twice that (input and
 * parameter gradients) for the networks, once more for the upsampling (latents have no parameters).
 * The step total uses the issue's rule, forward MACs x 3 x 2, so the upsampling counts 3x there.
 */
function stageFlops(model: ModelDescription, pixels: number): { stages: Record<StepStage, number>; step: number } {
  const cost = decodeCost(model);
  const stages = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<StepStage, number>;
  stages['synthesis forward'] = 2 * pixels * (cost.upsampling + cost.synthesis);
  stages['synthesis backward'] = 4 * pixels * cost.synthesis;
  stages['latent gradient'] = 2 * pixels * cost.upsampling;
  stages['context model'] = 6 * pixels * cost.entropyModel;
  return { stages, step: 6 * pixels * cost.total };
}

function buildGraph(ctx: GpuContext, model: ModelDescription, frames: number, options: GroupGraphOptions): GroupGraph {
  const graph = new GroupGraph(ctx, model, frames, frames, options);
  const perFrame = latentsPerFrame(model);
  graph.setParameters(initialParameters(model, 1));
  graph.setLatents(rand(frames * perFrame, 3, 2));
  graph.setTargets(rand(frames * targetFloatsPerFrame(model), 5, 0.5).map((v) => v + 0.5));
  graph.setContextFrame(undefined);
  graph.setLambda(0.002);
  graph.setQuantize({ mode: 'soft', temperature: 0.3, noise: 0.2, seed: 1 });
  graph.tensorHyper.forEach((h) => ctx.write(h, adamHyper({ lr: 1e-3 }, 1)));
  ctx.write(graph.latentHyper, adamHyper({ lr: 1e-2 }, 1));
  return graph;
}

/** Median ms of one step, measured over batches of `repeats` steps submitted back to back. */
async function wholeStepMs(ctx: GpuContext, run: () => void, repeats: number, batches: number): Promise<number> {
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let r = 0; r < repeats; r++) run();
    await ctx.finish();
    times.push((performance.now() - start) / repeats);
  }
  return median(times);
}

/** Per-program ms: each program in its own compute pass with timestamps, all in one submit; median over runs. */
async function timestampMs(ctx: GpuContext, programs: GpuProgram[], runs: number): Promise<number[]> {
  const { device } = ctx;
  const count = programs.length * 2;
  const querySet = device.createQuerySet({ type: 'timestamp', count });
  const resolveBuffer = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const samples: number[][] = programs.map(() => []);
  for (let r = 0; r < runs; r++) {
    const encoder = device.createCommandEncoder();
    for (const program of programs) program.prepare?.(encoder);
    programs.forEach((program, i) => {
      const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      program.record(pass);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, count, resolveBuffer, 0);
    const staging = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(resolveBuffer, 0, staging, 0, count * 8);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const ticks = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    programs.forEach((_, i) => samples[i].push(Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6));
  }
  querySet.destroy();
  resolveBuffer.destroy();
  return samples.map(median);
}

/** Per-program ms without timestamps: each program alone in a submit, `repeats` times, waited for. */
async function isolatedMs(ctx: GpuContext, programs: GpuProgram[], repeats: number, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (const program of programs) {
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const start = performance.now();
      for (let k = 0; k < repeats; k++) ctx.run([program]);
      await ctx.finish();
      times.push((performance.now() - start) / repeats);
    }
    out.push(median(times));
  }
  return out;
}

interface KernelRow {
  stage: StepStage;
  kernel: string;
  dispatches: number;
  ms: number;
}

interface StageRow {
  stage: StepStage;
  ms: number;
  share: number;
  flops: number;
  gflops: number | null;
  ofMatmul: number | null;
}

interface CompositionResult {
  kernels: string;
  /** What GroupGraph chose (the fused composition falls back to generic kernels for shapes it does not cover). */
  composition: string;
  dispatches: number;
  step: { ms: number; gflops: number; ofMatmul: number; sumOfPiecesMs: number; timing: string };
  stages: StageRow[];
  kernelRows: KernelRow[];
}

async function profileComposition(
  ctx: GpuContext,
  model: ModelDescription,
  frames: number,
  kernels: GroupGraphOptions['kernels'],
  timestamps: boolean,
  quick: boolean,
  matmulGflops: () => number,
): Promise<Omit<CompositionResult, 'step'> & { stepMs: number; sumMs: number; flops: ReturnType<typeof stageFlops> }> {
  const pixels = frames * model.width * model.height;
  const graph = buildGraph(ctx, model, frames, { kernels });
  const programs: readonly StepProgram[] = graph.stepPrograms(0, 'train');
  // Warm-up: compiles every pipeline and settles the allocator.
  for (let i = 0; i < 2; i++) graph.step(0, 'soft');
  await ctx.finish();
  const stepMs = await wholeStepMs(ctx, () => graph.step(0, 'soft'), quick ? 2 : 4, quick ? 3 : 5);
  const list = programs.map((p) => p.program);
  const pieces = timestamps ? await timestampMs(ctx, list, quick ? 3 : 7) : await isolatedMs(ctx, list, quick ? 1 : 2, quick ? 3 : 5);
  const flops = stageFlops(model, pixels);
  const kernelRows: KernelRow[] = [];
  programs.forEach((p, i) => {
    const row = kernelRows.find((r) => r.stage === p.stage && r.kernel === p.kernel);
    if (row) {
      row.dispatches++;
      row.ms += pieces[i];
    } else kernelRows.push({ stage: p.stage, kernel: p.kernel, dispatches: 1, ms: pieces[i] });
  });
  const sumMs = pieces.reduce((a, b) => a + b, 0);
  const stages: StageRow[] = STAGES.map((stage) => {
    const ms = kernelRows.filter((r) => r.stage === stage).reduce((a, r) => a + r.ms, 0);
    const f = flops.stages[stage];
    const gflops = f > 0 && ms > 0 ? f / (ms * 1e6) : null;
    return { stage, ms, share: ms / sumMs, flops: f, gflops, ofMatmul: gflops === null ? null : gflops / matmulGflops() };
  });
  return { kernels: kernels ?? 'auto', composition: graph.composition, dispatches: programs.length, stages, kernelRows, stepMs, sumMs, flops };
}

async function decodeTimes(ctx: GpuContext, size: { width: number; height: number }, compositions: GroupGraphOptions['kernels'][], quick: boolean) {
  const model = describeModel(size.width, size.height, 8);
  const params = initialParameters(model, 1);
  const latents = rand(latentsPerFrame(model), 7, 3).map(Math.round);
  const runs = quick ? 3 : 9;
  const webgpu: Record<string, { ms: number; fps: number }> = {};
  for (const kernels of compositions) {
    const renderer = new SynthesisRenderer(ctx, model, { kernels });
    renderer.setParameters(params);
    await renderer.renderToCpu(latents); // compiles
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      renderer.render(latents);
      await ctx.finish();
      times.push(performance.now() - start);
    }
    webgpu[kernels ?? 'auto'] = { ms: median(times), fps: 1000 / median(times) };
  }
  synthesizeCpu(model, params, latents); // lets V8 optimise first
  const cpu: number[] = [];
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const start = performance.now();
    synthesizeCpu(model, params, latents);
    cpu.push(performance.now() - start);
  }
  return {
    size: `${size.width}x${size.height}`,
    /** One frame's upsampling + synthesis, latents uploaded and the result waited for (the entropy decoder is not part of this). */
    webgpu,
    cpu: { ms: median(cpu), fps: 1000 / median(cpu) },
    flops: 2 * (decodeCost(model).upsampling + decodeCost(model).synthesis) * size.width * size.height,
  };
}

function adapterDescription(ctx: GpuContext) {
  const info = (ctx.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const icd = process.env.VK_ICD_FILENAMES;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    runtime: `Node ${process.version}, Dawn (webgpu npm)${icd ? `, VK_ICD_FILENAMES=${icd}` : ''}${process.env.NERVKIT_ROBUSTNESS === '1' ? ', robustness on' : ''}`,
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

const fixed = (v: number | null | undefined, digits: number) => (v === null || v === undefined ? '-' : v.toFixed(digits));

async function main(): Promise<void> {
  if (!values.step) console.log('(the step profile is the only mode; --step is implied)');
  const quick = values.quick;
  const size = parseSize(quick ? '48x32' : values.size);
  const frames = quick ? 2 : Number(values.frames);
  const decodeSize = parseSize(quick ? '96x64' : values.decode);
  const compositions = values.kernels.split(',').map((k) => k.trim()) as GroupGraphOptions['kernels'][];
  const device = await requestGpuDevice({ features: ['timestamp-query'] });
  const ctx = new GpuContext(device);
  const timestamps = device.features.has('timestamp-query');
  const adapter = adapterDescription(ctx);
  const cpu = { model: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverageAtStart: loadavg() };
  console.log(
    `adapter: ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ')}; CPU: ${cpu.model} x${cpu.cores}; load ${cpu.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const model = describeModel(size.width, size.height, frames);
  const pixels = frames * size.width * size.height;
  const cost = decodeCost(model);
  console.log(
    `model ${model.profile} ${size.width}x${size.height}, ${frames} frames (${pixels} pixels, ${frames * latentsPerFrame(model)} latents): ` +
      `${cost.total.toFixed(1)} MACs/pixel (upsampling ${cost.upsampling}, synthesis ${cost.synthesis}, context model ${cost.entropyModel.toFixed(1)})`,
  );

  const M = quick ? 2048 : 8192;
  const yardstick = () => matmulRoofline(ctx, M, 256, 256, { repeats: 2, batches: quick ? 3 : 5 });
  const start = await yardstick();
  console.log(`matmul ${M}x256x256 (start): ${start.gflops.toFixed(2)} GFLOP/s`);
  // Ratios use the mean of the start and end yardsticks; until the end one exists, the start one.
  let roofline: MatmulRoofline & { start?: number; end?: number } = start;
  const raw = [];
  for (const kernels of compositions) {
    const began = performance.now();
    raw.push(await profileComposition(ctx, model, frames, kernels, timestamps, quick, () => roofline.gflops));
    console.error(`  ${kernels}: ${((performance.now() - began) / 1000).toFixed(1)} s`);
  }
  const end = await yardstick();
  roofline = { ...start, ms: (start.ms + end.ms) / 2, gflops: (start.gflops + end.gflops) / 2, start: start.gflops, end: end.gflops };
  console.log(`matmul ${M}x256x256 (end): ${end.gflops.toFixed(2)} GFLOP/s; mean ${roofline.gflops.toFixed(2)}`);

  const results: CompositionResult[] = raw.map((r) => {
    const gflops = r.flops.step / (r.stepMs * 1e6);
    for (const s of r.stages) s.ofMatmul = s.gflops === null ? null : s.gflops / roofline.gflops;
    return {
      kernels: r.kernels,
      composition: r.composition,
      dispatches: r.dispatches,
      step: { ms: r.stepMs, gflops, ofMatmul: gflops / roofline.gflops, sumOfPiecesMs: r.sumMs, timing: timestamps ? 'timestamp-query' : 'isolated submits' },
      stages: r.stages,
      kernelRows: r.kernelRows,
    };
  });

  const header = ['stage', ...results.flatMap((r) => [`${r.kernels} ms`, 'share', 'of matmul'])];
  const rows = STAGES.map((stage) => [
    stage,
    ...results.flatMap((r) => {
      const s = r.stages.find((x) => x.stage === stage)!;
      return [fixed(s.ms, 1), `${(100 * s.share).toFixed(0)}%`, fixed(s.ofMatmul, 2)];
    }),
  ]);
  rows.push(['sum of pieces', ...results.flatMap((r) => [fixed(r.step.sumOfPiecesMs, 1), '', ''])]);
  rows.push(['whole step', ...results.flatMap((r) => [fixed(r.step.ms, 1), `${r.dispatches} disp.`, fixed(r.step.ofMatmul, 2)])]);
  console.log(
    `\npieces timed by ${timestamps ? 'GPU timestamps (one pass per dispatch group)' : 'isolated submits'}; whole step = back-to-back steps, one submit each`,
  );
  console.log(table(header, rows));
  for (const r of results) {
    console.log(
      `\n${r.kernels} (${r.composition}): whole step ${r.step.ms.toFixed(1)} ms = ${r.step.gflops.toFixed(3)} GFLOP/s = ${(100 * r.step.ofMatmul).toFixed(1)}% of matmul (${roofline.gflops.toFixed(2)} GFLOP/s)`,
    );
    console.log(
      table(
        ['kernel', 'stage', 'dispatches', 'ms', 'share'],
        r.kernelRows.map((k) => [k.kernel, k.stage, String(k.dispatches), fixed(k.ms, 2), `${((100 * k.ms) / r.step.sumOfPiecesMs).toFixed(1)}%`]),
      ),
    );
  }

  const decode = await decodeTimes(ctx, decodeSize, compositions, quick);
  const perFrame = (m: { ms: number; fps: number }) => `${m.ms.toFixed(1)} ms/frame (${m.fps.toFixed(1)} fps)`;
  const gpuParts = Object.entries(decode.webgpu).map(([k, m]) => `WebGPU ${k} ${perFrame(m)}`);
  console.log(`\ndecode ${decode.size} (upsampling + synthesis): ${gpuParts.join(', ')}, CPU (synthesizeCpu) ${perFrame(decode.cpu)}`);

  const json = {
    date: new Date().toISOString(),
    command: `npx tsx bench/kernels.ts ${process.argv.slice(2).join(' ')}`.trim(),
    quick,
    adapter,
    cpu: { ...cpu, loadAverageAtEnd: loadavg() },
    model: { profile: model.profile, width: size.width, height: size.height, frames, pixels, latents: frames * latentsPerFrame(model), macsPerPixel: cost },
    flopsPerStep: stageFlops(model, pixels).step,
    roofline,
    compositions: results,
    decode,
  };
  const out = values.out ? resolve(values.out) : join(dirname(fileURLToPath(import.meta.url)), 'results', quick ? 'step-quick.json' : 'step.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(json, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

await main();
