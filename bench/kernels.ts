// Kernel benchmark: for every kernel in src/gpu/kernels (and whole training / decode steps of the
// default model), ms and achieved GFLOP/s on the WebGPU adapter and for the CPU twin, each as a
// fraction of a tuned matmul on the same backend measured in the same run (docs/architecture.md).
// Prints a table and writes bench/results/kernels.json (kernels-quick.json with --quick); never
// fails on a time.
//   npx tsx bench/kernels.ts [--quick] [--filter conv3x3]
// Adding a kernel = pushing a BenchCase onto the list in benchCases (gpu/cpu build everything once).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext, type GpuProgram } from '../src/gpu/context.ts';
import { denseForward, denseBackwardInput, denseBackwardParams } from '../src/gpu/kernels/dense.ts';
import { matmulRoofline, medianGpuMs, type MatmulRoofline } from '../src/gpu/kernels/matmul.ts';
import { activationForward, activationBackward } from '../src/gpu/kernels/activation.ts';
import { mseLoss } from '../src/gpu/kernels/mse.ts';
import { adamStep, adamHyper } from '../src/gpu/kernels/adam.ts';
import { fakeQuantize, fakeQuantParams } from '../src/gpu/kernels/fakequant.ts';
import { conv3x3Forward, conv3x3BackwardInput, conv3x3BackwardParams, type Conv3x3Shape } from '../src/gpu/kernels/conv3x3.ts';
import { pixelShuffleForward, pixelShuffleBackward, type PixelShuffleShape } from '../src/gpu/kernels/pixel_shuffle.ts';
import { upsampleBilinearForward, upsampleBilinearBackward, type UpsampleShape } from '../src/gpu/kernels/upsample.ts';
import { fourierForward, fourierBackward, type FourierShape } from '../src/gpu/kernels/fourier.ts';
import { gridSampleForward, gridSampleBackward, type GridSampleShape } from '../src/gpu/kernels/grid.ts';
import { denseForwardCpu, denseBackwardCpu } from '../src/cpu/dense.ts';
import { activationForwardCpu, activationBackwardCpu } from '../src/cpu/activation.ts';
import { mseLossCpu } from '../src/cpu/mse.ts';
import { adamStepCpu } from '../src/cpu/adam.ts';
import { fakeQuantizeCpu } from '../src/cpu/fakequant.ts';
import { conv3x3ForwardCpu, conv3x3BackwardInputCpu, conv3x3BackwardParamsCpu } from '../src/cpu/conv3x3.ts';
import { pixelShuffleForwardCpu, pixelShuffleBackwardCpu } from '../src/cpu/pixel_shuffle.ts';
import { upsampleBilinearForwardCpu, upsampleBilinearBackwardCpu } from '../src/cpu/upsample.ts';
import { fourierForwardCpu, fourierBackwardCpu } from '../src/cpu/fourier.ts';
import { gridSampleForwardCpu, gridSampleBackwardCpu } from '../src/cpu/grid.ts';
import { GpuNetwork } from '../src/nn/network_gpu.ts';
import { forwardCpu } from '../src/nn/network_cpu.ts';
import { describeModel, featureChannels, initialParameters, macsPerPixel, type ModelDescription } from '../src/nn/model.ts';

export interface BenchCase {
  kernel: string;
  shape: string;
  /** Floating-point operations of one run (multiply-add = 2), or 0 for memory-bound kernels. */
  flops: number;
  /** Bytes one run must at least read and write (each tensor once); reported as GB/s where flops is 0. */
  bytes: number;
  /** Builds buffers and programs (compiles pipelines) once; the programs are then replayed. */
  gpu?: (ctx: GpuContext) => GpuProgram[];
  /** Builds inputs once and returns a function doing one run of the CPU twin. */
  cpu?: () => () => void;
}

/** Deterministic values in [-0.5, 0.5]; the kernels' speed does not depend on them. */
const rand = (n: number, seed = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin((i + seed * 7919) * 12.9898) * 0.5);
const F32 = 4;

function denseCases(rows: number, inC: number, outC: number, note = ''): BenchCase[] {
  const shape = { rows, inC, outC };
  const label = `${rows}x${inC}->${outC}${note}`;
  const flops = 2 * rows * inC * outC;
  const bytes = F32 * (rows * inC + inC * outC + rows * outC);
  const bufs = (ctx: GpuContext) => ({
    x: ctx.upload(rand(rows * inC)), w: ctx.upload(rand(inC * outC, 2)), b: ctx.upload(rand(outC, 3)),
    y: ctx.buffer(rows * outC), dy: ctx.upload(rand(rows * outC, 4)), dx: ctx.buffer(rows * inC),
    dw: ctx.buffer(inC * outC), db: ctx.buffer(outC),
  });
  const cpuInputs = () => ({ x: rand(rows * inC), w: rand(inC * outC, 2), b: rand(outC, 3), dy: rand(rows * outC, 4) });
  return [
    {
      kernel: 'dense forward', shape: label, flops, bytes,
      gpu: (ctx) => { const b = bufs(ctx); return [denseForward(ctx, shape, b)]; },
      cpu: () => { const d = cpuInputs(); return () => denseForwardCpu(d.x, d.w, d.b, shape); },
    },
    {
      kernel: 'dense backward input', shape: label, flops, bytes,
      gpu: (ctx) => { const b = bufs(ctx); return [denseBackwardInput(ctx, shape, b)]; },
    },
    {
      kernel: 'dense backward params', shape: label, flops, bytes,
      gpu: (ctx) => { const b = bufs(ctx); return [denseBackwardParams(ctx, shape, b)]; },
    },
    {
      // The CPU twin computes dx, dw and db in one loop, so it is compared with both GPU kernels.
      kernel: 'dense backward (input+params)', shape: label, flops: 2 * flops, bytes: bytes + F32 * rows * outC,
      gpu: (ctx) => { const b = bufs(ctx); return [denseBackwardInput(ctx, shape, b), denseBackwardParams(ctx, shape, b)]; },
      cpu: () => { const d = cpuInputs(); return () => denseBackwardCpu(d.x, d.w, d.dy, shape); },
    },
  ];
}

function conv3x3Cases(shape: Conv3x3Shape, note = ''): BenchCase[] {
  const { n, h, w, inC, outC } = shape;
  const pixels = n * h * w;
  const label = `${n}x${h}x${w} ${inC}->${outC}${note}`;
  const flops = 2 * pixels * 9 * inC * outC;
  const bytes = F32 * (pixels * inC + 9 * inC * outC + pixels * outC);
  const bufs = (ctx: GpuContext) => ({
    x: ctx.upload(rand(pixels * inC)), w: ctx.upload(rand(9 * inC * outC, 2)), b: ctx.upload(rand(outC, 3)),
    y: ctx.buffer(pixels * outC), dy: ctx.upload(rand(pixels * outC, 4)), dx: ctx.buffer(pixels * inC),
    dw: ctx.buffer(9 * inC * outC), db: ctx.buffer(outC),
  });
  const cpuInputs = () => ({ x: rand(pixels * inC), w: rand(9 * inC * outC, 2), b: rand(outC, 3), dy: rand(pixels * outC, 4) });
  return [
    {
      kernel: 'conv3x3 forward', shape: label, flops, bytes,
      gpu: (ctx) => [conv3x3Forward(ctx, shape, bufs(ctx))],
      cpu: () => { const d = cpuInputs(); return () => conv3x3ForwardCpu(shape, d.x, d.w, d.b); },
    },
    {
      kernel: 'conv3x3 backward input', shape: label, flops, bytes,
      gpu: (ctx) => [conv3x3BackwardInput(ctx, shape, bufs(ctx))],
      cpu: () => { const d = cpuInputs(); return () => conv3x3BackwardInputCpu(shape, d.dy, d.w); },
    },
    {
      kernel: 'conv3x3 backward params', shape: label, flops, bytes,
      gpu: (ctx) => [conv3x3BackwardParams(ctx, shape, bufs(ctx))],
      cpu: () => { const d = cpuInputs(); return () => conv3x3BackwardParamsCpu(shape, d.x, d.dy); },
    },
  ];
}

/** Memory-bound layout kernels: 0 FLOPs, bytes = input + output once. */
function resamplingCases(shuffle: PixelShuffleShape, upsample: UpsampleShape): BenchCase[] {
  const s = shuffle;
  const shuffleFloats = s.n * s.h * s.w * s.c * s.r * s.r;
  const shuffleLabel = `${s.n}x${s.h}x${s.w}x${s.c * s.r * s.r} r=${s.r}`;
  const u = upsample;
  const inFloats = u.n * u.h * u.w * u.c;
  const outFloats = inFloats * u.factor * u.factor;
  const upLabel = `${u.n}x${u.h}x${u.w}x${u.c} x${u.factor}`;
  return [
    {
      kernel: 'pixel shuffle forward', shape: shuffleLabel, flops: 0, bytes: F32 * 2 * shuffleFloats,
      gpu: (ctx) => [pixelShuffleForward(ctx, s, { x: ctx.upload(rand(shuffleFloats)), y: ctx.buffer(shuffleFloats) })],
      cpu: () => { const x = rand(shuffleFloats); return () => pixelShuffleForwardCpu(s, x); },
    },
    {
      kernel: 'pixel shuffle backward', shape: shuffleLabel, flops: 0, bytes: F32 * 2 * shuffleFloats,
      gpu: (ctx) => [pixelShuffleBackward(ctx, s, { dy: ctx.upload(rand(shuffleFloats)), dx: ctx.buffer(shuffleFloats) })],
      cpu: () => { const dy = rand(shuffleFloats); return () => pixelShuffleBackwardCpu(s, dy); },
    },
    {
      kernel: 'bilinear upsample forward', shape: upLabel, flops: 0, bytes: F32 * (inFloats + outFloats),
      gpu: (ctx) => [upsampleBilinearForward(ctx, u, { x: ctx.upload(rand(inFloats)), y: ctx.buffer(outFloats) })],
      cpu: () => { const x = rand(inFloats); return () => upsampleBilinearForwardCpu(u, x); },
    },
    {
      kernel: 'bilinear upsample backward', shape: upLabel, flops: 0, bytes: F32 * (inFloats + outFloats),
      gpu: (ctx) => [upsampleBilinearBackward(ctx, u, { dy: ctx.upload(rand(outFloats)), dx: ctx.buffer(inFloats) })],
      cpu: () => { const dy = rand(outFloats); return () => upsampleBilinearBackwardCpu(u, dy); },
    },
  ];
}

/** sin/cos features: transcendental-bound, so reported as 0 FLOPs (GB/s of x and the written slice). */
function fourierCases(shape: FourierShape): BenchCase[] {
  const { rows, dims, frequencies, outChannels } = shape;
  const label = `${rows}x${dims} K=${frequencies.length} ->${outChannels}`;
  const written = rows * 2 * dims * frequencies.length;
  return [
    {
      kernel: 'fourier forward', shape: label, flops: 0, bytes: F32 * (rows * dims + written),
      gpu: (ctx) => [fourierForward(ctx, shape, { x: ctx.upload(rand(rows * dims)), y: ctx.buffer(rows * outChannels) })],
      cpu: () => { const x = rand(rows * dims); return () => fourierForwardCpu(shape, x); },
    },
    {
      kernel: 'fourier backward', shape: label, flops: 0, bytes: F32 * (2 * rows * dims + written),
      gpu: (ctx) => [fourierBackward(ctx, shape, { x: ctx.upload(rand(rows * dims)), dy: ctx.upload(rand(rows * outChannels, 2)), dx: ctx.buffer(rows * dims) })],
      cpu: () => { const x = rand(rows * dims), dy = rand(rows * outChannels, 2); return () => fourierBackwardCpu(shape, x, dy); },
    },
  ];
}

/** Trilinear sampling: 8 taps x C multiply-adds per pixel when the grid has several time samples. */
function gridCases(shape: GridSampleShape): BenchCase[] {
  const { n, h, w, T, Hg, Wg, C, outChannels } = shape;
  const pixels = n * h * w;
  const gridFloats = T * Hg * Wg * C;
  const label = `${n}x${h}x${w} grid ${T}x${Hg}x${Wg}x${C} ->${outChannels}`;
  const flops = 2 * (T > 1 ? 8 : 4) * C * pixels;
  const bytes = F32 * (gridFloats + pixels * C);
  // Frames spread over the group, as the trainer's slots are.
  const times = Float32Array.from({ length: n }, (_, j) => (n === 1 ? 0 : (j * (T - 1)) / (n - 1)));
  return [
    {
      kernel: 'grid sample forward', shape: label, flops, bytes,
      gpu: (ctx) => [gridSampleForward(ctx, shape, { grid: ctx.upload(rand(gridFloats)), times: ctx.upload(times), y: ctx.buffer(pixels * outChannels) })],
      cpu: () => { const grid = rand(gridFloats); return () => gridSampleForwardCpu(shape, grid, times); },
    },
    {
      kernel: 'grid sample backward', shape: label, flops, bytes,
      gpu: (ctx) => [gridSampleBackward(ctx, shape, { dy: ctx.upload(rand(pixels * outChannels)), times: ctx.upload(times), dgrid: ctx.buffer(gridFloats) })],
      cpu: () => { const dy = rand(pixels * outChannels); return () => gridSampleBackwardCpu(shape, dy, times); },
    },
  ];
}

function elementwiseCases(count: number, mseFrame: { h: number; w: number }): BenchCase[] {
  const label = `${count}`;
  const mse = { frames: 4, paddedHeight: mseFrame.h, paddedWidth: mseFrame.w, channels: 3, validHeight: mseFrame.h - 6, validWidth: mseFrame.w };
  const mseCount = 4 * mseFrame.h * mseFrame.w * 3;
  return [
    {
      kernel: 'gelu forward', shape: label, flops: 0, bytes: F32 * 2 * count,
      gpu: (ctx) => [activationForward(ctx, { count, kind: 'gelu' }, { x: ctx.upload(rand(count)), y: ctx.buffer(count) })],
      cpu: () => { const x = rand(count); return () => activationForwardCpu(x, { count, kind: 'gelu' }); },
    },
    {
      kernel: 'silu backward', shape: label, flops: 0, bytes: F32 * 3 * count,
      gpu: (ctx) => [activationBackward(ctx, { count, kind: 'silu' }, { x: ctx.upload(rand(count)), dy: ctx.upload(rand(count, 2)), dx: ctx.buffer(count) })],
      cpu: () => { const x = rand(count), dy = rand(count, 2); return () => activationBackwardCpu(x, dy, { count, kind: 'silu' }); },
    },
    {
      kernel: 'mse loss', shape: `4x${mseFrame.h}x${mseFrame.w}x3`, flops: 0, bytes: F32 * 3 * mseCount,
      gpu: (ctx) => [mseLoss(ctx, mse, { pred: ctx.upload(rand(mseCount)), target: ctx.buffer(mseCount), grad: ctx.buffer(mseCount), loss: ctx.buffer(1) })],
      cpu: () => { const p = rand(mseCount), q = new Float32Array(mseCount); return () => mseLossCpu(p, q, mse); },
    },
    {
      kernel: 'adam', shape: label, flops: 0, bytes: F32 * 7 * count,
      gpu: (ctx) => [adamStep(ctx, { count }, { param: ctx.upload(rand(count)), grad: ctx.upload(rand(count, 2)), m: ctx.buffer(count), v: ctx.buffer(count), hyper: ctx.upload(adamHyper({ lr: 1e-3 }, 3)) })],
      cpu: () => { const p = rand(count), g = rand(count, 2), m = new Float32Array(count), v = new Float32Array(count), h = adamHyper({ lr: 1e-3 }, 3); return () => adamStepCpu(p, g, m, v, h); },
    },
    {
      kernel: 'fake quantize (noise)', shape: label, flops: 0, bytes: F32 * 2 * count,
      gpu: (ctx) => [fakeQuantize(ctx, { count }, { param: ctx.upload(rand(count)), out: ctx.buffer(count), quant: ctx.upload(fakeQuantParams(0.01, 'noise', 3)) })],
      cpu: () => { const p = rand(count), q = fakeQuantParams(0.01, 'noise', 3); return () => fakeQuantizeCpu(p, q); },
    },
  ];
}

/** Multiply-adds of one forward pass per pixel split into grid taps and the synthesis layers. */
function forwardMacs(model: ModelDescription): { grid: number; synthesis: number } {
  const grid = model.grids.reduce((sum, level) => sum + level.channels * (level.frames > 1 ? 8 : 4), 0);
  return { grid, synthesis: macsPerPixel(model) - grid };
}

/**
 * Whole steps of the real network. FLOPs: forward = 2 * macsPerPixel * pixels; training adds the
 * backward pass (grid taps once more, dense and conv layers twice: input and parameter gradients).
 * Activations, loss, Adam and fake quantization count as 0.
 */
function networkCases(model: ModelDescription, batch: number): BenchCase[] {
  const pixelsPerFrame = model.width * model.height;
  const macs = forwardMacs(model);
  const trainFlops = 2 * batch * pixelsPerFrame * (2 * macs.grid + 3 * macs.synthesis);
  const frameFlops = 2 * pixelsPerFrame * (macs.grid + macs.synthesis);
  const params = initialParameters(model, 1);
  const label = (n: number) => `${model.profile} ${model.width}x${model.height} g${model.groupSize} n=${n}`;
  const trainStep = (quantized: boolean) => (ctx: GpuContext): GpuProgram[] => {
    const net = new GpuNetwork(ctx, model, batch, { training: true });
    net.setParameters(params);
    // Real optimizer and quantizer settings, so the step computes finite numbers throughout.
    net.tensors.forEach((_, i) => {
      net.setHyper(i, adamHyper({ lr: 1e-3 }, 1));
      net.setQuant(i, fakeQuantParams(1 / 64, 'round'));
    });
    const frames = Array.from({ length: batch }, (_, j) => Math.round((j * (model.groupSize - 1)) / Math.max(1, batch - 1)));
    const slot = net.addSlot({ frames }, rand(batch * pixelsPerFrame * 3).map((v) => v + 0.5));
    return net.trainPrograms(slot, quantized);
  };
  return [
    { kernel: 'training step (default model)', shape: label(batch), flops: trainFlops, bytes: 0, gpu: trainStep(false) },
    { kernel: 'training step, quantized (default model)', shape: label(batch), flops: trainFlops, bytes: 0, gpu: trainStep(true) },
    {
      kernel: 'decode one frame', shape: label(1), flops: frameFlops, bytes: 0,
      gpu: (ctx) => {
        const net = new GpuNetwork(ctx, model, 1);
        net.setParameters(params);
        return net.forwardPrograms(net.addSlot({ frames: [model.groupSize >> 1] }));
      },
      cpu: () => () => forwardCpu(model, params, model.groupSize >> 1),
    },
  ];
}

/** The kernel list; --quick shrinks every shape (same kernels, same pipelines' structure). */
export function benchCases(quick: boolean): BenchCase[] {
  // Full size = the default model on 160x96 frames (describeModel(160, 96, 8), batch 2).
  const h = quick ? 24 : 96, w = quick ? 40 : 160;
  const model = describeModel(w, h, 8);
  const level0 = model.grids[0];
  const batch = 2;
  const rows = batch * h * w;
  return [
    ...denseCases(quick ? 1000 : 15360, 32, 32),
    ...denseCases(quick ? 1000 : 15360, 64, 64),
    ...denseCases(quick ? 4000 : 61440, 32, 3),
    ...denseCases(rows, featureChannels(model), model.hidden[0], ' (model fc0)'),
    ...denseCases(rows, model.hidden[0], model.hidden[1], ' (model fc1)'),
    ...conv3x3Cases({ n: batch, h, w, inC: model.hidden[model.hidden.length - 1], outC: 3 }, ' (model out)'),
    ...conv3x3Cases({ n: 1, h, w, inC: 32, outC: 32 }),
    ...gridCases({
      n: batch, h, w, T: level0.frames, Hg: Math.max(2, Math.round(h / level0.stride)), Wg: Math.max(2, Math.round(w / level0.stride)),
      C: level0.channels, outChannels: featureChannels(model), channelOffset: 0,
    }),
    ...resamplingCases({ n: batch, h: h / 2, w: w / 2, c: 8, r: 2 }, { n: batch, h: h / 2, w: w / 2, c: 8, factor: 2 }),
    ...fourierCases({ rows, dims: 2, frequencies: [1, 2, 4, 8, 16, 32, 64, 128], outChannels: 32, channelOffset: 0 }),
    ...elementwiseCases(quick ? 1000 * 32 : 15360 * 32, { h, w }),
    ...networkCases(model, batch),
  ];
}

/**
 * The CPU yardstick: C[M,N] = A[M,K] . B[K,N] in plain JS on one thread (the CPU twins are single
 * threaded too), 4 rows of A per pass over contiguous rows of B so each B element loaded feeds 4
 * multiply-adds.
 */
function matmulCpu(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number): void {
  c.fill(0);
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const c0 = i * N, c1 = c0 + N, c2 = c1 + N, c3 = c2 + N;
    for (let k = 0; k < K; k++) {
      const a0 = a[i * K + k], a1 = a[(i + 1) * K + k], a2 = a[(i + 2) * K + k], a3 = a[(i + 3) * K + k];
      const bk = k * N;
      for (let j = 0; j < N; j++) {
        const bv = b[bk + j];
        c[c0 + j] += a0 * bv;
        c[c1 + j] += a1 * bv;
        c[c2 + j] += a2 * bv;
        c[c3 + j] += a3 * bv;
      }
    }
  }
  for (; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const ai = a[i * K + k];
      for (let j = 0; j < N; j++) c[i * N + j] += ai * b[k * N + j];
    }
  }
}

function cpuMatmulRoofline(M: number, K: number, N: number, batches: number): MatmulRoofline {
  const a = rand(M * K), b = rand(K * N, 2), c = new Float32Array(M * N);
  const ms = timeCpu(() => matmulCpu(a, b, c, M, K, N), batches);
  return { M, K, N, ms, gflops: (2 * M * K * N) / (ms * 1e6) };
}


/** Warm-up until V8 has optimised the loops (at least 2 runs and 150 ms), then the median of `batches` runs. */
function timeCpu(run: () => void, batches: number): number {
  const warmUpStart = performance.now();
  for (let runs = 0; runs < 2 || performance.now() - warmUpStart < 150; runs++) run();
  const times: number[] = [];
  for (let i = 0; i < batches; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  return median(times);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

interface Measurement {
  ms: number;
  /** null for 0-FLOP (memory-bound) cases */
  gflops: number | null;
  /** gflops / the same backend's matmul GFLOP/s */
  ofMatmul: number | null;
  /** bytes / time, for memory-bound cases */
  gbps: number | null;
}

interface Row {
  kernel: string;
  shape: string;
  flops: number;
  bytes: number;
  webgpu: Measurement | null;
  cpu: Measurement | null;
  /** CPU ms / WebGPU ms (> 1: WebGPU faster) */
  webgpuSpeedup: number | null;
}

/** ofMatmul is filled in once both yardstick runs are done. */
function measurement(c: BenchCase, ms: number): Measurement {
  const gflops = c.flops > 0 ? c.flops / (ms * 1e6) : null;
  return {
    ms,
    gflops,
    ofMatmul: null,
    gbps: c.flops === 0 && c.bytes > 0 ? c.bytes / (ms * 1e6) : null,
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
    runtime: `Node ${process.version}, Dawn (webgpu npm)${icd ? `, VK_ICD_FILENAMES=${icd}` : ''}`,
  };
}

function printTable(rows: Row[]): void {
  const num = (v: number | null | undefined, digits: number) => (v === null || v === undefined ? '-' : v.toFixed(digits));
  // Memory-bound rows show GB/s in the throughput column instead of GFLOP/s.
  const rate = (m: Measurement | null) => (!m ? '-' : m.gflops !== null ? num(m.gflops, 2) : m.gbps !== null ? `${num(m.gbps, 2)} GB/s` : '-');
  const header = ['kernel', 'shape', 'WebGPU ms', 'WebGPU GFLOP/s', 'of matmul', 'CPU ms', 'CPU GFLOP/s', 'CPU of matmul', 'WebGPU/CPU speed'];
  const cells = rows.map((r) => [
    r.kernel, r.shape,
    num(r.webgpu?.ms, 2), rate(r.webgpu), num(r.webgpu?.ofMatmul, 2),
    num(r.cpu?.ms, 2), rate(r.cpu), num(r.cpu?.ofMatmul, 2),
    num(r.webgpuSpeedup, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(line(header));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const filterAt = args.indexOf('--filter');
  const filter = filterAt >= 0 ? args[filterAt + 1] : undefined;
  const repeats = quick ? 2 : 5;
  const batches = quick ? 3 : 5;
  const ctx = new GpuContext(await requestGpuDevice());
  const adapter = adapterDescription(ctx);
  const cpu = { model: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverageAtStart: loadavg() };
  console.log(`adapter: ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ') || 'no adapter info'}; CPU: ${cpu.model} x${cpu.cores}`);

  // Yardsticks before and after the cases; their mean is the 1.0 of "of matmul", the spread shows drift (load).
  const M = quick ? 2048 : 8192, K = 256, N = 256, cpuM = quick ? 256 : 1024;
  const yardsticks = async () => ({
    webgpu: await matmulRoofline(ctx, M, K, N, { repeats: 2, batches }),
    cpu: cpuMatmulRoofline(cpuM, K, N, batches),
  });
  const before = await yardsticks();
  console.log(`matmul yardsticks (start): WebGPU ${M}x${K}x${N} ${before.webgpu.gflops.toFixed(2)} GFLOP/s, CPU JS ${cpuM}x${K}x${N} ${before.cpu.gflops.toFixed(2)} GFLOP/s`);

  const rows: Row[] = [];
  for (const c of benchCases(quick)) {
    if (filter && !c.kernel.includes(filter)) continue;
    const started = performance.now();
    const webgpuMs = c.gpu ? await medianGpuMs(ctx, c.gpu(ctx), repeats, batches) : null;
    const cpuMs = c.cpu ? timeCpu(c.cpu(), batches) : null;
    rows.push({
      kernel: c.kernel, shape: c.shape, flops: c.flops, bytes: c.bytes,
      webgpu: webgpuMs === null ? null : measurement(c, webgpuMs),
      cpu: cpuMs === null ? null : measurement(c, cpuMs),
      webgpuSpeedup: webgpuMs !== null && cpuMs !== null ? cpuMs / webgpuMs : null,
    });
    if (!quick) console.error(`  ${c.kernel} ${c.shape}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const after = await yardsticks();
  const mean = (a: MatmulRoofline, b: MatmulRoofline) => ({
    ...a, ms: (a.ms + b.ms) / 2, gflops: (a.gflops + b.gflops) / 2, start: a.gflops, end: b.gflops,
  });
  const roofline = { webgpu: mean(before.webgpu, after.webgpu), cpu: mean(before.cpu, after.cpu) };
  // Ratios use the mean of both yardstick runs.
  for (const r of rows) {
    if (r.webgpu?.gflops != null) r.webgpu.ofMatmul = r.webgpu.gflops / roofline.webgpu.gflops;
    if (r.cpu?.gflops != null) r.cpu.ofMatmul = r.cpu.gflops / roofline.cpu.gflops;
  }
  console.log(
    `matmul yardsticks (mean of start and end): WebGPU ${roofline.webgpu.gflops.toFixed(2)} GFLOP/s (${roofline.webgpu.start.toFixed(2)} -> ${roofline.webgpu.end.toFixed(2)}), ` +
      `CPU ${roofline.cpu.gflops.toFixed(2)} GFLOP/s (${roofline.cpu.start.toFixed(2)} -> ${roofline.cpu.end.toFixed(2)})`,
  );
  printTable(rows);
  const steps = rows.filter((r) => r.kernel.startsWith('training step') || r.kernel === 'decode one frame');
  for (const r of steps) {
    const unit = r.kernel === 'decode one frame' ? 'frames/s' : 'steps/s';
    const parts = [r.webgpu && `WebGPU ${r.webgpu.ms.toFixed(1)} ms = ${(1000 / r.webgpu.ms).toFixed(2)} ${unit}`, r.cpu && `CPU ${r.cpu.ms.toFixed(1)} ms = ${(1000 / r.cpu.ms).toFixed(2)} ${unit}`];
    console.log(`${r.kernel} (${r.shape}): ${parts.filter(Boolean).join(', ')}`);
  }

  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', quick ? 'kernels-quick.json' : 'kernels.json');
  mkdirSync(dirname(out), { recursive: true });
  const json = { date: new Date().toISOString(), quick, filter: filter ?? null, adapter, cpu: { ...cpu, loadAverageAtEnd: loadavg() }, repeats, batches, roofline, rows };
  writeFileSync(out, JSON.stringify(json, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

// Run only as a script, so other benchmarks can import benchCases.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
