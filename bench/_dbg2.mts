import { requestGpuDevice } from '../src/gpu/device.ts';
import { GpuContext, divUp } from '../src/gpu/context.ts';
const keepAlive = setInterval(() => {}, 1000);
const ctx = new GpuContext(await requestGpuDevice());
const count = Number(process.argv[2]);
const buffer = ctx.buffer(count);
ctx.run([ctx.dispatch(ctx.pipeline('fill', { COUNT: count, VALUE: '2.5' }), [buffer], [divUp(count, 64)])]);
console.log(await ctx.read(buffer, 2));
clearInterval(keepAlive);
