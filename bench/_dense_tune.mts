import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { denseForward, matmul } from '../src/gpu/kernels/dense.ts';
import { matmulRoofline } from '../src/gpu/kernels/matmul.ts';
import { denseForwardCpu } from '../src/cpu/dense.ts';

const ctx = new GpuContext(await requestGpuDevice());
const args = process.argv.slice(2);
async function timeIt(progs: any[], reps = 10) {
  ctx.run(progs); await ctx.read(y, 1);
  const t0 = performance.now(); 
  const batch = []; for (let i = 0; i < reps; i++) batch.push(...progs);
  ctx.run(batch); await ctx.read(y, 1);
  return (performance.now() - t0) / reps;
}
const rows = 15360, inC = 32, outC = 32;
const x = ctx.buffer(rows*inC), w = ctx.upload(new Float32Array(inC*outC).fill(0.01)), b = ctx.buffer(outC), y = ctx.buffer(rows*outC);
const flops = 2*rows*inC*outC;
for (const spec of args.length ? args : ['default']) {
  let opts: any = {};
  if (spec !== 'default') { const [r, g, u] = spec.split('x'); opts = { tile: { rows: +r, colGroups: +g }, uniformWeights: u !== 's' }; }
  const t0 = performance.now(); 
  const p = denseForward(ctx, { rows, inC, outC }, { x, w, b, y }, opts);
  console.log("built"); const ms = await timeIt([p]);
  console.log(`dense ${spec}: ${ms.toFixed(2)} ms ${(flops/ms/1e6).toFixed(2)} GFLOP/s (compile+first ${(performance.now()-t0).toFixed(0)} ms total)`);
}
const xs = new Float32Array(rows*inC).fill(0.5), ws = new Float32Array(inC*outC).fill(0.01), bs = new Float32Array(outC);
const c0 = performance.now(); for (let i = 0; i < 5; i++) denseForwardCpu(xs, ws, bs, { rows, inC, outC }); const cms = (performance.now()-c0)/5;
console.log(`cpu dense: ${cms.toFixed(2)} ms ${(flops/cms/1e6).toFixed(2)} GFLOP/s`);
process.exit(0);
