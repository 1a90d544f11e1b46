// CPU reference for pixel shuffle (depth to space), PyTorch channel order:
// y[n, y*r+dy, x*r+dx, c] = x[n, y, x, c*r*r + dy*r + dx].

export interface PixelShuffleShape {
  n: number;
  h: number;
  w: number;
  /** output channels */
  c: number;
  /** upscale factor */
  r: number;
}

export function pixelShuffleForwardCpu(shape: PixelShuffleShape, x: Float32Array): Float32Array {
  const { n, h, w, c, r } = shape;
  const y = new Float32Array(n * h * r * w * r * c);
  const inC = c * r * r;
  for (let b = 0; b < n; b++) {
    for (let py = 0; py < h * r; py++) {
      for (let px = 0; px < w * r; px++) {
        const src = ((b * h + Math.floor(py / r)) * w + Math.floor(px / r)) * inC + (py % r) * r + (px % r);
        const dst = ((b * h * r + py) * w * r + px) * c;
        for (let k = 0; k < c; k++) y[dst + k] = x[src + k * r * r];
      }
    }
  }
  return y;
}

/** The inverse permutation (space to depth): dx[n,y,x,k*r*r + dy*r + dx] = dy[n, y*r+dy, x*r+dx, k]. */
export function pixelShuffleBackwardCpu(shape: PixelShuffleShape, dy: Float32Array): Float32Array {
  const { n, h, w, c, r } = shape;
  const dx = new Float32Array(n * h * w * c * r * r);
  const inC = c * r * r;
  for (let b = 0; b < n; b++) {
    for (let py = 0; py < h * r; py++) {
      for (let px = 0; px < w * r; px++) {
        const dst = ((b * h + Math.floor(py / r)) * w + Math.floor(px / r)) * inC + (py % r) * r + (px % r);
        const src = ((b * h * r + py) * w * r + px) * c;
        for (let k = 0; k < c; k++) dx[dst + k * r * r] = dy[src + k];
      }
    }
  }
  return dx;
}
