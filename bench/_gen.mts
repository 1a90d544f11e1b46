import { specializeShader } from '../src/gpu/context.ts';
import { denseForward } from '../src/gpu/kernels/dense.ts';
const [rows, inC, outC] = process.argv.slice(2).map(Number);
const fake: any = { device: { limits: { maxUniformBufferBindingSize: 65536 } }, pipeline(name: string, defines: any) { console.log(specializeShader(name, defines)); process.exit(0); } };
const buf = (n: number) => ({ size: n * 4 }) as any;
denseForward(fake, { rows, inC, outC }, { x: buf(rows * inC), w: buf(inC * outC), b: buf(outC), y: buf(rows * outC) }, { uniformWeights: process.env.U !== '0' });
