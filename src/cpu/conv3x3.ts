// CPU reference for the 3x3 convolution (stride 1, zero "same" padding, NHWC; weights [ky][kx][in][out]).

export interface Conv3x3Shape {
  n: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
}

/** y[n,y,x,o] = b[o] + sum_{ky,kx,i} x[n, y+ky-1, x+kx-1, i] * w[ky,kx,i,o]. */
export function conv3x3ForwardCpu(shape: Conv3x3Shape, x: Float32Array, weights: Float32Array, bias: Float32Array): Float32Array {
  const { n, h, w, inC, outC } = shape;
  const y = new Float32Array(n * h * w * outC);
  const acc = new Float64Array(outC);
  for (let b = 0; b < n; b++) {
    for (let py = 0; py < h; py++) {
      for (let px = 0; px < w; px++) {
        for (let o = 0; o < outC; o++) acc[o] = bias[o];
        for (let ky = 0; ky < 3; ky++) {
          const sy = py + ky - 1;
          if (sy < 0 || sy >= h) continue;
          for (let kx = 0; kx < 3; kx++) {
            const sx = px + kx - 1;
            if (sx < 0 || sx >= w) continue;
            const xBase = ((b * h + sy) * w + sx) * inC;
            const wBase = (ky * 3 + kx) * inC * outC;
            for (let i = 0; i < inC; i++) {
              const xv = x[xBase + i];
              const wRow = wBase + i * outC;
              for (let o = 0; o < outC; o++) acc[o] += xv * weights[wRow + o];
            }
          }
        }
        const yBase = ((b * h + py) * w + px) * outC;
        for (let o = 0; o < outC; o++) y[yBase + o] = acc[o];
      }
    }
  }
  return y;
}

/** dx[n,sy,sx,i] = sum over the outputs that read x[n,sy,sx,i] of dy * w. */
export function conv3x3BackwardInputCpu(shape: Conv3x3Shape, dy: Float32Array, weights: Float32Array): Float32Array {
  const { n, h, w, inC, outC } = shape;
  const dx = new Float64Array(n * h * w * inC);
  for (let b = 0; b < n; b++) {
    for (let py = 0; py < h; py++) {
      for (let px = 0; px < w; px++) {
        const dyBase = ((b * h + py) * w + px) * outC;
        for (let ky = 0; ky < 3; ky++) {
          const sy = py + ky - 1;
          if (sy < 0 || sy >= h) continue;
          for (let kx = 0; kx < 3; kx++) {
            const sx = px + kx - 1;
            if (sx < 0 || sx >= w) continue;
            const dxBase = ((b * h + sy) * w + sx) * inC;
            const wBase = (ky * 3 + kx) * inC * outC;
            for (let i = 0; i < inC; i++) {
              let sum = 0;
              const wRow = wBase + i * outC;
              for (let o = 0; o < outC; o++) sum += dy[dyBase + o] * weights[wRow + o];
              dx[dxBase + i] += sum;
            }
          }
        }
      }
    }
  }
  return Float32Array.from(dx);
}

/** Gradients of the weights [3,3,inC,outC] and bias [outC], summed over every pixel of the batch. */
export function conv3x3BackwardParamsCpu(shape: Conv3x3Shape, x: Float32Array, dy: Float32Array): { dw: Float32Array; db: Float32Array } {
  const { n, h, w, inC, outC } = shape;
  const dw = new Float64Array(9 * inC * outC);
  const db = new Float64Array(outC);
  for (let b = 0; b < n; b++) {
    for (let py = 0; py < h; py++) {
      for (let px = 0; px < w; px++) {
        const dyBase = ((b * h + py) * w + px) * outC;
        for (let o = 0; o < outC; o++) db[o] += dy[dyBase + o];
        for (let ky = 0; ky < 3; ky++) {
          const sy = py + ky - 1;
          if (sy < 0 || sy >= h) continue;
          for (let kx = 0; kx < 3; kx++) {
            const sx = px + kx - 1;
            if (sx < 0 || sx >= w) continue;
            const xBase = ((b * h + sy) * w + sx) * inC;
            const wBase = (ky * 3 + kx) * inC * outC;
            for (let i = 0; i < inC; i++) {
              const xv = x[xBase + i];
              const wRow = wBase + i * outC;
              for (let o = 0; o < outC; o++) dw[wRow + o] += xv * dy[dyBase + o];
            }
          }
        }
      }
    }
  }
  return { dw: Float32Array.from(dw), db: Float32Array.from(db) };
}
