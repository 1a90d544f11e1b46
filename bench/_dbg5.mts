import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { denseForward } from '../src/gpu/kernels/dense.ts';

const ctx = new GpuContext(await requestGpuDevice());
const [rows, inC, outC] = process.argv.slice(2).map(Number);
const x = ctx.buffer(rows*inC), w = ctx.buffer(inC*outC), b = ctx.buffer(outC), y = ctx.buffer(rows*outC);
ctx.run([denseForward(ctx, { rows, inC, outC }, { x, w, b, y }, { uniformWeights: process.env.U !== "0" })]);
console.log(await ctx.read(y, 2));

