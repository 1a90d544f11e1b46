// Kernel benchmark: ms and GFLOP/s per kernel on the WebGPU adapter and for the CPU reference, as
// a fraction of a tuned matmul measured in the same run (DESIGN.md section 8). Prints a table and
// writes bench/results/kernels.json; never fails on a time.
//   npx tsx bench/kernels.ts [--quick] [--filter dense]
// Adding a kernel = pushing a BenchCase onto CASES (setup builds buffers and programs once).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext, type GpuProgram } from '../src/gpu/context.ts';
import { denseForward, denseBackwardInput, denseBackwardParams } from '../src/gpu/kernels/dense.ts';
import { matmulRoofline } from '../src/gpu/kernels/matmul.ts';
import { activationForward, activationBackward } from '../src/gpu/kernels/activation.ts';
import { mseLoss } from '../src/gpu/kernels/mse.ts';
import { adamStep, adamHyper } from '../src/gpu/kernels/adam.ts';
import { fakeQuantize, fakeQuantParams } from '../src/gpu/kernels/fakequant.ts';
import { denseForwardCpu, denseBackwardCpu } from '../src/cpu/dense.ts';
import { activationForwardCpu } from '../src/cpu/activation.ts';
import { mseLossCpu } from '../src/cpu/mse.ts';
import { adamStepCpu } from '../src/cpu/adam.ts';
import { fakeQuantizeCpu } from '../src/cpu/fakequant.ts';

export interface BenchCase {
  kernel: string;
  shape: string;
  /** Floating-point operations of one run (multiply-add = 2), or 0 when FLOPs mean little (elementwise). */
  flops: number;
  /** Builds buffers and programs (compiles pipelines) once. */
  gpu?: (ctx: GpuContext) => GpuProgram[];
  /** Returns a function doing one run of the CPU reference. */
  cpu?: () => () => void;
}

const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);

function denseCases(rows: number, inC: number, outC: number): BenchCase[] {
  const shape = { rows, inC, outC };
  const label = `${rows}x${inC}->${outC}`;
  const flops = 2 * rows * inC * outC;
  const bufs = (ctx: GpuContext) => ({
    x: ctx.upload(rand(rows * inC)), w: ctx.upload(rand(inC * outC)), b: ctx.upload(rand(outC)),
    y: ctx.buffer(rows * outC), dy: ctx.upload(rand(rows * outC)), dx: ctx.buffer(rows * inC),
    dw: ctx.buffer(inC * outC), db: ctx.buffer(outC),
  });
  return [
    {
      kernel: 'dense forward', shape: label, flops,
      gpu: (ctx) => { const b = bufs(ctx); return [denseForward(ctx, shape, b)]; },
      cpu: () => { const x = rand(rows * inC), w = rand(inC * outC), b = rand(outC); return () => denseForwardCpu(x, w, b, shape); },
    },
    {
      kernel: 'dense backward input', shape: label, flops,
      gpu: (ctx) => { const b = bufs(ctx); return [denseBackwardInput(ctx, shape, b)]; },
    },
    {
      kernel: 'dense backward params', shape: label, flops,
      gpu: (ctx) => { const b = bufs(ctx); return [denseBackwardParams(ctx, shape, b)]; },
    },
    {
      kernel: 'dense backward (cpu: all three)', shape: label, flops: 2 * flops,
      cpu: () => { const x = rand(rows * inC), w = rand(inC * outC), dy = rand(rows * outC); return () => denseBackwardCpu(x, w, dy, shape); },
    },
  ];
}

function elementwiseCases(count: number): BenchCase[] {
  const label = `${count}`;
  const mse = { frames: 4, paddedHeight: 96, paddedWidth: 160, channels: 3, validHeight: 90, validWidth: 160 };
  const mseCount = 4 * 96 * 160 * 3;
  return [
    {
      kernel: 'gelu forward', shape: label, flops: 0,
      gpu: (ctx) => [activationForward(ctx, { count, kind: 'gelu' }, { x: ctx.upload(rand(count)), y: ctx.buffer(count) })],
      cpu: () => { const x = rand(count); return () => activationForwardCpu(x, { count, kind: 'gelu' }); },
    },
    {
      kernel: 'silu backward', shape: label, flops: 0,
      gpu: (ctx) => [activationBackward(ctx, { count, kind: 'silu' }, { x: ctx.upload(rand(count)), dy: ctx.upload(rand(count)), dx: ctx.buffer(count) })],
    },
    {
      kernel: 'mse loss', shape: '4x96x160x3', flops: 0,
      gpu: (ctx) => [mseLoss(ctx, mse, { pred: ctx.upload(rand(mseCount)), target: ctx.buffer(mseCount), grad: ctx.buffer(mseCount), loss: ctx.buffer(1) })],
      cpu: () => { const p = rand(mseCount), q = new Float32Array(mseCount); return () => mseLossCpu(p, q, mse); },
    },
    {
      kernel: 'adam', shape: label, flops: 0,
      gpu: (ctx) => [adamStep(ctx, { count }, { param: ctx.upload(rand(count)), grad: ctx.upload(rand(count)), m: ctx.buffer(count), v: ctx.buffer(count), hyper: ctx.upload(adamHyper({ lr: 1e-3 }, 3)) })],
      cpu: () => { const p = rand(count), g = rand(count), m = new Float32Array(count), v = new Float32Array(count), h = adamHyper({ lr: 1e-3 }, 3); return () => adamStepCpu(p, g, m, v, h); },
    },
    {
      kernel: 'fake quantize (noise)', shape: label, flops: 0,
      gpu: (ctx) => [fakeQuantize(ctx, { count }, { param: ctx.upload(rand(count)), out: ctx.buffer(count), quant: ctx.upload(fakeQuantParams(0.01, 'noise', 3)) })],
      cpu: () => { const p = rand(count), q = fakeQuantParams(0.01, 'noise', 3); return () => fakeQuantizeCpu(p, q); },
    },
  ];
}

export const CASES: BenchCase[] = [
  ...denseCases(15360, 32, 32),
  ...denseCases(15360, 64, 64),
  ...denseCases(61440, 32, 3),
  ...elementwiseCases(15360 * 32),
];

interface Row { backend: 'webgpu' | 'cpu'; kernel: string; shape: string; ms: number; gflops: number | null; ofMatmul: number | null }

/** Median ms of one run: `repeats` runs per submit (or call), `batches` batches after a warm-up. */
async function timeGpu(ctx: GpuContext, programs: GpuProgram[], repeats: number, batches: number): Promise<number> {
  const batch = Array.from({ length: repeats }, () => programs).flat();
  ctx.run(batch);
  await ctx.finish();
  const times: number[] = [];
  for (let i = 0; i < batches; i++) {
    const start = performance.now();
    ctx.run(batch);
    await ctx.finish();
    times.push((performance.now() - start) / repeats);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

function timeCpu(run: () => void, batches: number): number {
  run();
  const times: number[] = [];
  for (let i = 0; i < batches; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const filterAt = args.indexOf('--filter');
  const filter = filterAt >= 0 ? args[filterAt + 1] : undefined;
  const repeats = quick ? 2 : 5;
  const batches = quick ? 3 : 5;
  const ctx = new GpuContext(await requestGpuDevice());
  const roofline = await matmulRoofline(ctx, 8192, 256, 256, { repeats: 2, batches });
  console.log(`tuned matmul 8192x256x256: ${roofline.ms.toFixed(1)} ms, ${roofline.gflops.toFixed(2)} GFLOP/s (the 1.0 of "of matmul")`);
  const rows: Row[] = [];
  const gflopsOf = (c: BenchCase, ms: number) => (c.flops > 0 ? c.flops / (ms * 1e6) : null);
  for (const c of CASES) {
    if (filter && !c.kernel.includes(filter)) continue;
    if (c.gpu) {
      const ms = await timeGpu(ctx, c.gpu(ctx), repeats, batches);
      const gflops = gflopsOf(c, ms);
      rows.push({ backend: 'webgpu', kernel: c.kernel, shape: c.shape, ms, gflops, ofMatmul: gflops === null ? null : gflops / roofline.gflops });
    }
    if (c.cpu) {
      const ms = timeCpu(c.cpu(), batches);
      const gflops = gflopsOf(c, ms);
      rows.push({ backend: 'cpu', kernel: c.kernel, shape: c.shape, ms, gflops, ofMatmul: gflops === null ? null : gflops / roofline.gflops });
    }
  }
  const fmt = (v: number | null, digits: number) => (v === null ? '-' : v.toFixed(digits));
  console.log(['backend', 'kernel', 'shape', 'ms', 'GFLOP/s', 'of matmul'].join('\t'));
  for (const r of rows) console.log([r.backend, r.kernel, r.shape, r.ms.toFixed(2), fmt(r.gflops, 2), fmt(r.ofMatmul, 2)].join('\t'));
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'kernels.json');
  mkdirSync(dirname(out), { recursive: true });
  const adapter = 'Dawn (webgpu npm) on ' + (process.env.VK_ICD_FILENAMES?.includes('swiftshader') ? 'SwiftShader' : 'the default Vulkan driver');
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), adapter, roofline, rows }, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

await main();
