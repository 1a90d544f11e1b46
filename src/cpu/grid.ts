// CPU reference for the learned feature grid (C3/Cool-chic-style latent over x, y and time):
// grid [T, Hg, Wg, C] sampled trilinearly at every pixel of frame j at time coordinate times[j],
// written into channels [channelOffset, channelOffset + C) of y [n, h, w, outChannels].

export interface GridSampleShape {
  n: number;
  h: number;
  w: number;
  T: number;
  Hg: number;
  Wg: number;
  C: number;
  outChannels: number;
  channelOffset: number;
}

export interface LinearTap {
  i0: number;
  i1: number;
  /** weight of i1; i0 gets 1 - f (both may be the same clamped cell) */
  f: number;
}

/**
 * align_corners=false mapping of pixel p of `size` onto a grid axis of `gridSize` cells, computed in f32
 * exactly as the shader does: g = (2p + 1) * gridSize / (2 size) - 0.5, clamped to [0, gridSize - 1].
 */
export function gridAxisTap(p: number, size: number, gridSize: number): LinearTap {
  const g = Math.fround(Math.fround(((2 * p + 1) * gridSize) / (2 * size)) - 0.5);
  const clamped = Math.min(Math.max(g, 0), gridSize - 1);
  const i0 = Math.floor(clamped);
  return { i0, i1: Math.min(i0 + 1, gridSize - 1), f: Math.fround(clamped - i0) };
}

/** Linear interpolation between the floor and ceiling of t clamped to [0, T - 1]. */
export function gridTimeTap(t: number, T: number): LinearTap {
  const clamped = Math.min(Math.max(Math.fround(t), 0), T - 1);
  const i0 = Math.min(Math.floor(clamped), T - 1);
  return { i0, i1: Math.min(i0 + 1, T - 1), f: Math.fround(clamped - i0) };
}

/** Returns a copy of `y` (or a zero tensor) with the grid samples written into the channel slice. */
export function gridSampleForwardCpu(shape: GridSampleShape, grid: Float32Array, times: Float32Array, y?: Float32Array): Float32Array {
  const { n, h, w, Hg, Wg, C, outChannels, channelOffset } = shape;
  const out = y ? Float32Array.from(y) : new Float32Array(n * h * w * outChannels);
  const xTaps = Array.from({ length: w }, (_, x) => gridAxisTap(x, w, Wg));
  for (let j = 0; j < n; j++) {
    const tt = gridTimeTap(times[j], shape.T);
    for (let py = 0; py < h; py++) {
      const ty = gridAxisTap(py, h, Hg);
      for (let px = 0; px < w; px++) {
        const tx = xTaps[px];
        const base = ((j * h + py) * w + px) * outChannels + channelOffset;
        for (let c = 0; c < C; c++) {
          let sum = 0;
          for (const [t, wt] of [[tt.i0, 1 - tt.f], [tt.i1, tt.f]]) {
            for (const [gy, wy] of [[ty.i0, 1 - ty.f], [ty.i1, ty.f]]) {
              const row = (t * Hg + gy) * Wg;
              sum += wt * wy * ((1 - tx.f) * grid[(row + tx.i0) * C + c] + tx.f * grid[(row + tx.i1) * C + c]);
            }
          }
          out[base + c] = sum;
        }
      }
    }
  }
  return out;
}

/** dgrid [T, Hg, Wg, C]: every pixel scatters dy (from the channel slice) to its 8 interpolation corners. */
export function gridSampleBackwardCpu(shape: GridSampleShape, dy: Float32Array, times: Float32Array): Float32Array {
  const { n, h, w, T, Hg, Wg, C, outChannels, channelOffset } = shape;
  const dgrid = new Float64Array(T * Hg * Wg * C);
  const xTaps = Array.from({ length: w }, (_, x) => gridAxisTap(x, w, Wg));
  for (let j = 0; j < n; j++) {
    const tt = gridTimeTap(times[j], T);
    for (let py = 0; py < h; py++) {
      const ty = gridAxisTap(py, h, Hg);
      for (let px = 0; px < w; px++) {
        const tx = xTaps[px];
        const base = ((j * h + py) * w + px) * outChannels + channelOffset;
        for (const [t, wt] of [[tt.i0, 1 - tt.f], [tt.i1, tt.f]]) {
          for (const [gy, wy] of [[ty.i0, 1 - ty.f], [ty.i1, ty.f]]) {
            for (const [gx, wx] of [[tx.i0, 1 - tx.f], [tx.i1, tx.f]]) {
              const cell = ((t * Hg + gy) * Wg + gx) * C;
              const weight = wt * wy * wx;
              for (let c = 0; c < C; c++) dgrid[cell + c] += weight * dy[base + c];
            }
          }
        }
      }
    }
  }
  return Float32Array.from(dgrid);
}
