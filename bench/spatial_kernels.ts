// Times the conv3x3 and grid-sample kernels at the model's real sizes against the CPU reference.
// Usage: npx tsx bench/spatial_kernels.ts [--n 1] [--h 96] [--w 160] [--inC 32] [--outC 32] [--json out.json]
import { writeFileSync } from 'node:fs';
import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext, type GpuProgram } from '../src/gpu/context.ts';
import { conv3x3Forward, conv3x3BackwardInput, conv3x3BackwardParams, type Conv3x3Tuning } from '../src/gpu/kernels/conv3x3.ts';
import { gridSampleBackward, gridSampleForward } from '../src/gpu/kernels/grid.ts';
import { conv3x3ForwardCpu, conv3x3BackwardInputCpu, conv3x3BackwardParamsCpu } from '../src/cpu/conv3x3.ts';
import { gridSampleBackwardCpu } from '../src/cpu/grid.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const jsonIndex = args.indexOf('--json');
const tuning: Conv3x3Tuning = {};
if (args.includes('--tileX')) tuning.tileX = option('tileX', 8);
if (args.includes('--tileOc4')) tuning.tileOc4 = option('tileOc4', 4);
if (args.includes('--tileIc4')) tuning.tileIc4 = option('tileIc4', 2);

const ctx = new GpuContext(await requestGpuDevice());
const random = (length: number) => Float32Array.from({ length }, () => Math.random() * 2 - 1);

/** Median seconds per run of `programs`, each timing `repeats` back-to-back runs in one submit. */
async function timeGpu(programs: GpuProgram[], repeats = 5, trials = 3): Promise<number> {
  ctx.run(programs); // warm-up (pipeline compilation happens at creation, first run pages memory in)
  await ctx.finish();
  const times: number[] = [];
  for (let t = 0; t < trials; t++) {
    const start = performance.now();
    ctx.run(Array.from({ length: repeats }, () => programs).flat());
    await ctx.finish();
    times.push((performance.now() - start) / 1000 / repeats);
  }
  return times.sort((a, b) => a - b)[Math.floor(trials / 2)];
}

function timeCpu(f: () => unknown): number {
  const start = performance.now();
  f();
  return (performance.now() - start) / 1000;
}

const rows: Record<string, string | number>[] = [];
const shape = { n: option('n', 1), h: option('h', 96), w: option('w', 160), inC: option('inC', 32), outC: option('outC', 32) };
{
  const { n, h, w, inC, outC } = shape;
  const pixels = n * h * w;
  const flops = 2 * pixels * 9 * inC * outC;
  const data = { x: random(pixels * inC), w: random(9 * inC * outC), b: random(outC), dy: random(pixels * outC) };
  const x = ctx.upload(data.x), wt = ctx.upload(data.w), b = ctx.upload(data.b), dy = ctx.upload(data.dy);
  const y = ctx.buffer(pixels * outC), dx = ctx.buffer(pixels * inC), dw = ctx.buffer(9 * inC * outC), db = ctx.buffer(outC);
  const cases: [string, GpuProgram, () => unknown][] = [
    ['conv3x3Forward', conv3x3Forward(ctx, shape, { x, w: wt, b, y }, tuning), () => conv3x3ForwardCpu(shape, data.x, data.w, data.b)],
    ['conv3x3BackwardInput', conv3x3BackwardInput(ctx, shape, { dy, w: wt, dx }, tuning), () => conv3x3BackwardInputCpu(shape, data.dy, data.w)],
    ['conv3x3BackwardParams', conv3x3BackwardParams(ctx, shape, { x, dy, dw, db }, tuning), () => conv3x3BackwardParamsCpu(shape, data.x, data.dy)],
  ];
  for (const [name, program, cpu] of cases) {
    const gpu = await timeGpu([program]);
    const cpuSeconds = timeCpu(cpu);
    rows.push({ kernel: name, shape: JSON.stringify(shape), gpu_ms: +(gpu * 1e3).toFixed(2), gpu_gflops: +(flops / gpu / 1e9).toFixed(2), cpu_ms: +(cpuSeconds * 1e3).toFixed(1), cpu_gflops: +(flops / cpuSeconds / 1e9).toFixed(2) });
  }
}
{
  const g = { n: 4, h: 96, w: 160, T: 8, Hg: 24, Wg: 40, C: 2, outChannels: 8, channelOffset: 3 };
  const times = Float32Array.from({ length: g.n }, (_, j) => (j * (g.T - 1)) / (g.n - 1) * 0.93);
  const dyData = random(g.n * g.h * g.w * g.outChannels);
  const gridBuffer = ctx.upload(random(g.T * g.Hg * g.Wg * g.C)), timesBuffer = ctx.upload(times);
  const dy = ctx.upload(dyData), y = ctx.buffer(g.n * g.h * g.w * g.outChannels), dgrid = ctx.buffer(g.T * g.Hg * g.Wg * g.C);
  for (const [name, program, cpu] of [
    ['gridSampleForward', gridSampleForward(ctx, g, { grid: gridBuffer, times: timesBuffer, y }), undefined],
    ['gridSampleBackward', gridSampleBackward(ctx, g, { dy, times: timesBuffer, dgrid }), () => gridSampleBackwardCpu(g, dyData, times)],
  ] as const) {
    const gpu = await timeGpu([program]);
    rows.push({ kernel: name, shape: JSON.stringify(g), gpu_ms: +(gpu * 1e3).toFixed(2), cpu_ms: cpu ? +(timeCpu(cpu) * 1e3).toFixed(1) : '' });
  }
}
console.table(rows);
if (jsonIndex >= 0) writeFileSync(args[jsonIndex + 1], JSON.stringify(rows, null, 2));
