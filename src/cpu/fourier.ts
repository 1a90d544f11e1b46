// CPU reference for Fourier-feature encoding: for each input dim d and frequency f_k, channels
// channelOffset + 2(d K + k) and + 1 of y [rows, outChannels] get sin(2 pi f_k x) and cos(2 pi f_k x).

export interface FourierShape {
  rows: number;
  dims: number;
  /** frequencies f_k (rounded to f32, as the shader embeds them) */
  frequencies: readonly number[];
  outChannels: number;
  channelOffset: number;
}

/**
 * The phase 2 pi frac(f x) in f32, as the shader computes it: reducing f x to [0, 1) before the sine
 * keeps high frequencies accurate on GPUs whose sin/cos lose precision for large arguments.
 */
export function fourierPhase(frequency: number, x: number): number {
  const t = Math.fround(Math.fround(frequency) * Math.fround(x));
  return Math.fround(Math.fround(2 * Math.PI) * Math.fround(t - Math.floor(t)));
}

/** Returns a copy of `y` (or zeros) with the encoding written into its channel slice; other channels kept. */
export function fourierForwardCpu(shape: FourierShape, x: Float32Array, y?: Float32Array): Float32Array {
  const { rows, dims, frequencies, outChannels, channelOffset } = shape;
  const out = y ? Float32Array.from(y) : new Float32Array(rows * outChannels);
  for (let r = 0; r < rows; r++) {
    let channel = r * outChannels + channelOffset;
    for (let d = 0; d < dims; d++) {
      for (const f of frequencies) {
        const phase = fourierPhase(f, x[r * dims + d]);
        out[channel++] = Math.sin(phase);
        out[channel++] = Math.cos(phase);
      }
    }
  }
  return out;
}

/** dx[r,d] = sum_k 2 pi f_k (cos * dy_sin - sin * dy_cos), dy read from the same channel slice. */
export function fourierBackwardCpu(shape: FourierShape, x: Float32Array, dy: Float32Array): Float32Array {
  const { rows, dims, frequencies, outChannels, channelOffset } = shape;
  const dx = new Float32Array(rows * dims);
  for (let r = 0; r < rows; r++) {
    let channel = r * outChannels + channelOffset;
    for (let d = 0; d < dims; d++) {
      let sum = 0;
      for (const f of frequencies) {
        const phase = fourierPhase(f, x[r * dims + d]);
        const scale = 2 * Math.PI * Math.fround(f);
        sum += scale * (Math.cos(phase) * dy[channel] - Math.sin(phase) * dy[channel + 1]);
        channel += 2;
      }
      dx[r * dims + d] = sum;
    }
  }
  return dx;
}
