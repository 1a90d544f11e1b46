// CPU reference for bilinear upsampling by an integer factor, align_corners=false (PyTorch semantics):
// source coordinate (dst + 0.5) / s - 0.5 clamped to [0, size - 1], taps floor and floor + 1 (clamped).

export interface UpsampleShape {
  n: number;
  h: number;
  w: number;
  c: number;
  factor: number;
}

export interface UpsampleTap {
  i0: number;
  i1: number;
  /** weight of i1; i0 gets 1 - f */
  f: number;
}

/** The source taps of output index `o`, in f32 as the shader computes them: (2o + 1) / (2s) - 0.5. */
export function upsampleTap(o: number, factor: number, size: number): UpsampleTap {
  const source = Math.fround(Math.fround((2 * o + 1) / (2 * factor)) - 0.5);
  const clamped = Math.min(Math.max(source, 0), size - 1);
  const i0 = Math.floor(clamped);
  return { i0, i1: Math.min(i0 + 1, size - 1), f: Math.fround(clamped - i0) };
}

export function upsampleBilinearForwardCpu(shape: UpsampleShape, x: Float32Array): Float32Array {
  const { n, h, w, c, factor } = shape;
  const outH = h * factor, outW = w * factor;
  const y = new Float32Array(n * outH * outW * c);
  const xTaps = Array.from({ length: outW }, (_, o) => upsampleTap(o, factor, w));
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const ty = upsampleTap(oy, factor, h);
      const row0 = (b * h + ty.i0) * w, row1 = (b * h + ty.i1) * w;
      for (let ox = 0; ox < outW; ox++) {
        const tx = xTaps[ox];
        const dst = ((b * outH + oy) * outW + ox) * c;
        for (let k = 0; k < c; k++) {
          const top = (1 - tx.f) * x[(row0 + tx.i0) * c + k] + tx.f * x[(row0 + tx.i1) * c + k];
          const bottom = (1 - tx.f) * x[(row1 + tx.i0) * c + k] + tx.f * x[(row1 + tx.i1) * c + k];
          y[dst + k] = (1 - ty.f) * top + ty.f * bottom;
        }
      }
    }
  }
  return y;
}

/** dx [n,h,w,c]: each output pixel scatters dy to its four taps (twice to one cell at clamped borders). */
export function upsampleBilinearBackwardCpu(shape: UpsampleShape, dy: Float32Array): Float32Array {
  const { n, h, w, c, factor } = shape;
  const outH = h * factor, outW = w * factor;
  const dx = new Float64Array(n * h * w * c);
  const xTaps = Array.from({ length: outW }, (_, o) => upsampleTap(o, factor, w));
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const ty = upsampleTap(oy, factor, h);
      for (let ox = 0; ox < outW; ox++) {
        const tx = xTaps[ox];
        const src = ((b * outH + oy) * outW + ox) * c;
        for (const [iy, wy] of [[ty.i0, 1 - ty.f], [ty.i1, ty.f]]) {
          for (const [ix, wx] of [[tx.i0, 1 - tx.f], [tx.i1, tx.f]]) {
            const dst = ((b * h + iy) * w + ix) * c;
            for (let k = 0; k < c; k++) dx[dst + k] += wy * wx * dy[src + k];
          }
        }
      }
    }
  }
  return Float32Array.from(dx);
}
