import { NervError } from '../errors.ts';

/** "lowbias32" (Chris Wellons), bit-identical to the WGSL version in shaders/fakequant.wgsl. */
export function lowbias32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The noise unit u in [0, 1) for element `index`: top 24 bits of the hash, exact in f32. */
export function fakeQuantNoise(index: number, seed: number): number {
  const seedHash = lowbias32((seed + 0x9e3779b9) >>> 0);
  return (lowbias32((index ^ seedHash) >>> 0) >>> 8) / 16777216;
}

/** CPU twin of fakeQuantize; quant = [step, mode, seed, 0] as built by fakeQuantParams. */
export function fakeQuantizeCpu(param: Float32Array, quant: Float32Array): Float32Array {
  if (quant.length < 4) throw new NervError('BAD_ARGUMENT', 'fakeQuantizeCpu: quant needs 4 values');
  const step = Math.fround(quant[0]);
  const out = Float32Array.from(param);
  if (!(step > 0)) return out;
  if (quant[1] < 0.5) {
    for (let i = 0; i < param.length; i++) {
      const q = Math.fround(param[i] / step);
      out[i] = Math.fround(Math.sign(q) * Math.round(Math.abs(q)) * step);
    }
  } else {
    const seed = Math.trunc(quant[2]) >>> 0;
    for (let i = 0; i < param.length; i++) {
      out[i] = Math.fround(param[i] + Math.fround(step * (fakeQuantNoise(i, seed) - 0.5)));
    }
  }
  return out;
}
