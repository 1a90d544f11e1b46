// Core PSNR metrics (no node:* imports).
//
// Decision: PSNR is computed on 8-bit values on both sides (float RGB rounded to the nearest code,
// clamped), because every file nervkit writes and every anchor decoded by ffmpeg is 8-bit: the
// number then equals ffmpeg's `psnr` filter on the PNGs / Y4Ms we would write. psnrFloat is the
// unquantized variant for training diagnostics.
import { assertSameSize, type ColorSpace, type RgbFrame } from '../video/frame.ts';
import { rgbToYuv, toByte, type ChromaFormat, type YuvFrame } from '../video/color.ts';
import { BadArgumentError } from '../errors.ts';

/** PSNR in dB for a mean squared error on a signal with the given peak; Infinity when mse is 0. */
export function mseToPsnr(mse: number, peak = 1): number {
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}

/** Mean squared error of two 8-bit-quantized float arrays, in 8-bit code units squared. */
export function mse8(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new BadArgumentError(`arrays differ in length: ${a.length} vs ${b.length}`);
  if (a.length === 0) throw new BadArgumentError('cannot compare empty arrays');
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = toByte(a[i]) - toByte(b[i]);
    sum += d * d;
  }
  return sum / a.length;
}

/** RGB PSNR (dB) of two [0, 1] frames after rounding both to 8-bit; peak 255 (i.e. 1.0). Infinity if equal. */
export function psnr(a: RgbFrame, b: RgbFrame): number {
  assertSameSize(a, b);
  return mseToPsnr(mse8(a.data, b.data), 255);
}

/** PSNR (dB) of two equally long [0, 1] arrays (e.g. HWC RGB data), both rounded to 8-bit first. */
export function framePsnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return mseToPsnr(mse8(a, b), 255);
}

/** PSNR (dB) of unquantized [0, 1] data, peak 1. */
export function psnrFloat(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new BadArgumentError(`arrays differ in length: ${a.length} vs ${b.length}`);
  if (a.length === 0) throw new BadArgumentError('cannot compare empty arrays');
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return mseToPsnr(sum / a.length, 1);
}

export interface YuvPsnr {
  y: number;
  u: number;
  v: number;
  /** (6y + u + v) / 8 of the per-plane PSNRs (the JVET / learned-codec convention). */
  weighted: number;
}

export interface YuvPsnrOptions {
  /** Default '420': planes as an 8-bit 4:2:0 file would store them (chroma averaged over 2x2). */
  chroma?: ChromaFormat;
  /** Default bt601. */
  colorSpace?: ColorSpace;
}

function planeMse(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return sum / a.length;
}

/**
 * YUV PSNR: both frames are converted to 8-bit limited-range Y'CbCr exactly as the Y4M writer
 * does (4:2:0 by default), and each plane is compared with peak 255. The result equals ffmpeg's
 * `psnr` filter on the two Y4M files nervkit would write; for frames read from a 4:2:0 source the
 * planes come back as stored (nearest upsampling then 2x2 averaging is an identity), so this is the
 * YUV PSNR codecs report against the source.
 */
export function psnrYuv(a: RgbFrame, b: RgbFrame, options: YuvPsnrOptions = {}): YuvPsnr {
  assertSameSize(a, b);
  const chroma = options.chroma ?? '420';
  const color = { colorSpace: options.colorSpace ?? 'bt601' } as const;
  const ya = rgbToYuv(a, chroma, color);
  const yb = rgbToYuv(b, chroma, color);
  const y = mseToPsnr(planeMse(ya.y, yb.y), 255);
  const u = mseToPsnr(planeMse(ya.u, yb.u), 255);
  const v = mseToPsnr(planeMse(ya.v, yb.v), 255);
  return { y, u, v, weighted: (6 * y + u + v) / 8 };
}

/** YUV PSNR of two planar 8-bit frames of the same size and chroma format. */
export function psnrYuvPlanes(a: YuvFrame, b: YuvFrame): YuvPsnr {
  if (a.width !== b.width || a.height !== b.height || a.chroma !== b.chroma) {
    throw new BadArgumentError(`frames differ: ${a.width}x${a.height} ${a.chroma} vs ${b.width}x${b.height} ${b.chroma}`);
  }
  const y = mseToPsnr(planeMse(a.y, b.y), 255);
  const u = mseToPsnr(planeMse(a.u, b.u), 255);
  const v = mseToPsnr(planeMse(a.v, b.v), 255);
  return { y, u, v, weighted: (6 * y + u + v) / 8 };
}

/** Arithmetic mean; throws on an empty list (a silent NaN would reach a report). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new BadArgumentError('mean of an empty list');
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Mean of per-frame PSNRs (the papers' and x264's "PSNR Mean"), each capped at `cap` dB so that one
 * identical frame (Infinity) does not make the mean infinite.
 */
export function meanPsnr(values: readonly number[], cap = 100): number {
  return mean(values.map((v) => Math.min(v, cap)));
}

/**
 * PSNR of the mean MSE over frames: the "global" PSNR of x264, and what ffmpeg's `psnr` filter prints
 * as its summary (it averages MSE, not dB). Pass per-frame MSEs in the peak's units.
 */
export function psnrOfMeanMse(mses: readonly number[], peak = 255): number {
  return mseToPsnr(mean(mses), peak);
}

/** Per-component mean of YuvPsnr values (each capped like meanPsnr). */
export function meanYuvPsnr(values: readonly YuvPsnr[], cap = 100): YuvPsnr {
  const y = meanPsnr(
    values.map((v) => v.y),
    cap,
  );
  const u = meanPsnr(
    values.map((v) => v.u),
    cap,
  );
  const v = meanPsnr(
    values.map((x) => x.v),
    cap,
  );
  return { y, u, v, weighted: (6 * y + u + v) / 8 };
}
