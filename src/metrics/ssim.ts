// Core SSIM metrics on luma (no node:* imports).
//
// All of them work on the 8-bit Y plane the Y4M writer would store (BT.601 limited range unless
// told otherwise), with data range 255, K1 = 0.01, K2 = 0.03:
// - ssim: Wang et al. 2004, 11x11 Gaussian window (sigma 1.5), "valid" positions only (no padding),
//   mean of the SSIM map. This is the definition MS-SSIM builds on and what learned-codec papers
//   report. Frames smaller than 11 pixels shrink the window to the largest odd size that fits.
// - ssimFfmpeg: ffmpeg's `ssim` filter (from x264): unweighted 8x8 windows on a 4-pixel grid. It
//   reproduces ffmpeg's Y value; it reads a little higher than the Gaussian version on noisy content.
// - msSsim: Wang et al. 2003, 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 average
//   pooling between scales (an odd last row / column is dropped); contrast-structure terms are
//   clamped at 0 (as pytorch_msssim does) so the product stays real. A scale is only used while the
//   downsampled frame still holds an 11x11 window, so frames under 176 pixels on their short side use
//   fewer scales, with the remaining weights rescaled to sum to 1 (a 64x48 frame uses 3).
import { BadArgumentError } from '../errors.ts';
import { rgbToLuma8 } from '../video/color.ts';
import { assertSameSize, type ColorSpace, type RgbFrame } from '../video/frame.ts';

export interface SsimOptions {
  /** Matrix for the luma plane; default bt601. */
  colorSpace?: ColorSpace;
}

const K1 = 0.01;
const K2 = 0.03;
const PEAK = 255;
const C1 = (K1 * PEAK) ** 2;
const C2 = (K2 * PEAK) ** 2;
const WINDOW = 11;
const SIGMA = 1.5;
export const MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] as const;

/** A luma plane as floats, row-major. */
interface Plane {
  width: number;
  height: number;
  data: Float64Array;
}

function lumaPlane(frame: RgbFrame, options: SsimOptions): Plane {
  const y = rgbToLuma8(frame, { colorSpace: options.colorSpace ?? 'bt601' });
  return { width: frame.width, height: frame.height, data: Float64Array.from(y) };
}

const kernelCache = new Map<number, Float64Array>();

function gaussianKernel(size: number): Float64Array {
  let kernel = kernelCache.get(size);
  if (kernel) return kernel;
  kernel = new Float64Array(size);
  const center = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) sum += kernel[i] = Math.exp(-((i - center) ** 2) / (2 * SIGMA * SIGMA));
  for (let i = 0; i < size; i++) kernel[i] /= sum;
  kernelCache.set(size, kernel);
  return kernel;
}

/** Separable "valid" filtering of one plane: output is (width-k+1) x (height-k+1). */
function filterValid(src: Float64Array, width: number, height: number, kernel: Float64Array, tmp: Float64Array, out: Float64Array): void {
  const k = kernel.length;
  const outW = width - k + 1;
  const outH = height - k + 1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += kernel[i] * src[row + x + i];
      tmp[y * outW + x] = s;
    }
  }
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += kernel[i] * tmp[(y + i) * outW + x];
      out[y * outW + x] = s;
    }
  }
}

/** Mean luminance term and mean contrast-structure term over the valid window positions. */
function ssimTerms(a: Plane, b: Plane): { ssim: number; cs: number } {
  const { width, height } = a;
  let k = Math.min(WINDOW, width, height);
  if (k % 2 === 0) k--;
  const kernel = gaussianKernel(k);
  const n = width * height;
  const outW = width - k + 1;
  const outH = height - k + 1;
  const outN = outW * outH;
  const aa = new Float64Array(n);
  const bb = new Float64Array(n);
  const ab = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    aa[i] = a.data[i] * a.data[i];
    bb[i] = b.data[i] * b.data[i];
    ab[i] = a.data[i] * b.data[i];
  }
  const tmp = new Float64Array(outW * height);
  const muA = new Float64Array(outN);
  const muB = new Float64Array(outN);
  const eAA = new Float64Array(outN);
  const eBB = new Float64Array(outN);
  const eAB = new Float64Array(outN);
  filterValid(a.data, width, height, kernel, tmp, muA);
  filterValid(b.data, width, height, kernel, tmp, muB);
  filterValid(aa, width, height, kernel, tmp, eAA);
  filterValid(bb, width, height, kernel, tmp, eBB);
  filterValid(ab, width, height, kernel, tmp, eAB);
  let ssimSum = 0;
  let csSum = 0;
  for (let i = 0; i < outN; i++) {
    const ma = muA[i];
    const mb = muB[i];
    const varA = eAA[i] - ma * ma;
    const varB = eBB[i] - mb * mb;
    const cov = eAB[i] - ma * mb;
    const cs = (2 * cov + C2) / (varA + varB + C2);
    csSum += cs;
    ssimSum += ((2 * ma * mb + C1) / (ma * ma + mb * mb + C1)) * cs;
  }
  return { ssim: ssimSum / outN, cs: csSum / outN };
}

/** SSIM of the luma planes with an 11x11 Gaussian window (sigma 1.5); 1 for identical frames. */
export function ssim(a: RgbFrame, b: RgbFrame, options: SsimOptions = {}): number {
  assertSameSize(a, b);
  return ssimTerms(lumaPlane(a, options), lumaPlane(b, options)).ssim;
}

function downsample2(p: Plane): Plane {
  const width = p.width >> 1;
  const height = p.height >> 1;
  const data = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    const r0 = 2 * y * p.width;
    const r1 = r0 + p.width;
    for (let x = 0; x < width; x++) {
      data[y * width + x] = (p.data[r0 + 2 * x] + p.data[r0 + 2 * x + 1] + p.data[r1 + 2 * x] + p.data[r1 + 2 * x + 1]) / 4;
    }
  }
  return { width, height, data };
}

/** How many MS-SSIM scales a frame of this size supports (1..5); see the file comment. */
export function msSsimScales(width: number, height: number): number {
  let scales = 1;
  while (scales < MS_SSIM_WEIGHTS.length && Math.min(width, height) >> scales >= WINDOW) scales++;
  return scales;
}

/** MS-SSIM of the luma planes; 1 for identical frames. */
export function msSsim(a: RgbFrame, b: RgbFrame, options: SsimOptions = {}): number {
  assertSameSize(a, b);
  const scales = msSsimScales(a.width, a.height);
  const weights = MS_SSIM_WEIGHTS.slice(0, scales);
  const total = weights.reduce((s, w) => s + w, 0);
  let pa = lumaPlane(a, options);
  let pb = lumaPlane(b, options);
  let result = 1;
  for (let s = 0; s < scales; s++) {
    const terms = ssimTerms(pa, pb);
    const last = s === scales - 1;
    const value = Math.max(last ? terms.ssim : terms.cs, 0);
    result *= value ** (weights[s] / total);
    if (!last) {
      pa = downsample2(pa);
      pb = downsample2(pb);
    }
  }
  return result;
}

/**
 * ffmpeg's `ssim` filter on the luma planes (its "Y" value): 8x8 windows on a 4-pixel grid covering
 * the largest multiple-of-4 area, integer sums, x264's constants. Frames need at least 8x8 pixels.
 */
export function ssimFfmpeg(a: RgbFrame, b: RgbFrame, options: SsimOptions = {}): number {
  assertSameSize(a, b);
  const color = { colorSpace: options.colorSpace ?? 'bt601' } as const;
  return ssimFfmpegPlane(rgbToLuma8(a, color), rgbToLuma8(b, color), a.width, a.height);
}

/** ffmpeg's `ssim` on two 8-bit planes of the given size. */
export function ssimFfmpegPlane(a: Uint8Array, b: Uint8Array, width: number, height: number): number {
  const bw = width >> 2;
  const bh = height >> 2;
  if (bw < 2 || bh < 2) throw new BadArgumentError(`ffmpeg-style SSIM needs at least 8x8 pixels, got ${width}x${height}`);
  // Per 4x4 block: sum a, sum b, sum a^2 + b^2, sum a*b.
  const sums = new Int32Array(bw * bh * 4);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      let s1 = 0,
        s2 = 0,
        ss = 0,
        s12 = 0;
      for (let y = 4 * by; y < 4 * by + 4; y++) {
        for (let x = 4 * bx; x < 4 * bx + 4; x++) {
          const va = a[y * width + x];
          const vb = b[y * width + x];
          s1 += va;
          s2 += vb;
          ss += va * va + vb * vb;
          s12 += va * vb;
        }
      }
      const o = 4 * (by * bw + bx);
      sums[o] = s1;
      sums[o + 1] = s2;
      sums[o + 2] = ss;
      sums[o + 3] = s12;
    }
  }
  const c1 = Math.trunc(0.01 * 0.01 * 255 * 255 * 64 + 0.5);
  const c2 = Math.trunc(0.03 * 0.03 * 255 * 255 * 64 * 63 + 0.5);
  let total = 0;
  for (let by = 1; by < bh; by++) {
    for (let bx = 0; bx < bw - 1; bx++) {
      let s1 = 0,
        s2 = 0,
        ss = 0,
        s12 = 0;
      for (const [dx, dy] of [
        [0, -1],
        [1, -1],
        [0, 0],
        [1, 0],
      ]) {
        const o = 4 * ((by + dy) * bw + bx + dx);
        s1 += sums[o];
        s2 += sums[o + 1];
        ss += sums[o + 2];
        s12 += sums[o + 3];
      }
      const vars = ss * 64 - s1 * s1 - s2 * s2;
      const covar = s12 * 64 - s1 * s2;
      total += ((2 * s1 * s2 + c1) * (2 * covar + c2)) / ((s1 * s1 + s2 * s2 + c1) * (vars + c2));
    }
  }
  return total / ((bw - 1) * (bh - 1));
}

/** SSIM expressed in dB as ffmpeg prints it: -10 log10(1 - ssim). */
export function ssimToDb(value: number): number {
  return -10 * Math.log10(1 - value);
}
