import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { readFileSync } from 'node:fs';
const keepAlive = setInterval(() => {}, 1000);
const ctx = new GpuContext(await requestGpuDevice());
const code = readFileSync(process.env.F!, 'utf8');
const [rows, inC, outC] = [15360, 8, 8];
const x = ctx.buffer(rows*inC), w = ctx.buffer(inC*outC), b = ctx.buffer(outC), y = ctx.buffer(rows*outC);
const mode = process.env.MODE;
let pipeline: GPUComputePipeline;
if (mode === 'ctx') {
  (ctx as any).pipelines; 
  const { SHADERS } = await import('../src/gpu/shaders.gen.ts');
  (SHADERS as any).tmp = code;
  pipeline = ctx.pipeline('tmp', {});
} else {
  const module = ctx.device.createShaderModule({ code });
  pipeline = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
}
ctx.run([ctx.dispatch(pipeline, [x, w, b, y], [Number(process.env.WG), 1])]);
console.log(await ctx.read(y, 2));
clearInterval(keepAlive);
