// Bjontegaard delta rate and delta PSNR (core, no node:* imports).
//
// The classic method of VCEG-M33 as the common `bd_rate` / `bd_psnr` scripts compute it (numpy
// polyfit of degree 3, polyint, natural log of the rate):
// - BD-rate: fit ln(rate) as a cubic in PSNR for each curve (least squares; exact with 4 points),
//   integrate both fits over the PSNR interval the curves share, and turn the mean difference of
//   ln(rate) into a percentage: (exp(mean(ln r_test - ln r_anchor)) - 1) * 100. Negative means the
//   test codec needs fewer bits for the same quality.
// - BD-PSNR: the same with the roles swapped (PSNR as a cubic in ln(rate), over the shared log-rate
//   interval), in dB; positive means the test codec is better.
// Rates may be in any unit (bytes, bpp, kbps) as long as both curves use the same one: only ratios
// matter. The JVET/AOM variant with piecewise-cubic (PCHIP) interpolation is not implemented; on
// well-behaved monotonic curves both agree to a fraction of a percent.
//
// Cases the method cannot answer (fewer than 4 points, fewer than 4 distinct abscissae, curves that
// do not overlap, a curve whose PSNR does not rise with its rate: the fits would invert a function
// that is not one-to-one and report nonsense such as -100 %) give NaN with a `reason`, so a bench can print the row and go on; malformed input
// (non-finite numbers, rates <= 0) is a caller bug and throws BadArgumentError.
import { BadArgumentError } from '../errors.ts';

/** One rate-distortion point. */
export interface RdPoint {
  /** Bits, bytes or bpp: any positive unit, the same for both curves. */
  rate: number;
  /** Quality in dB (PSNR). */
  psnr: number;
}

export interface BdResult {
  /** BD-rate in percent, or BD-PSNR in dB; NaN when it cannot be computed (see `reason`). */
  value: number;
  /** Why `value` is NaN; absent when it is a number. */
  reason?: string;
  /** The shared interval the fits were integrated over (PSNR in dB for BD-rate, ln(rate) for BD-PSNR). */
  interval?: [number, number];
}

/** Points the cubic fit needs: 4 coefficients. */
export const BD_MIN_POINTS = 4;

/**
 * Bjontegaard delta rate of `test` against `anchor`, in percent (negative: `test` saves bits at equal
 * PSNR). NaN with a reason when either curve has fewer than 4 usable points or the PSNR ranges do not
 * overlap.
 */
export function bdRate(anchor: readonly RdPoint[], test: readonly RdPoint[]): BdResult {
  checkCurve(anchor, 'anchor');
  checkCurve(test, 'test');
  const flat = notMonotonic(anchor, 'anchor') ?? notMonotonic(test, 'test');
  if (flat) return { value: NaN, reason: flat };
  const result = meanDifference(
    anchor.map((p) => p.psnr),
    anchor.map((p) => Math.log(p.rate)),
    test.map((p) => p.psnr),
    test.map((p) => Math.log(p.rate)),
    'PSNR',
  );
  if (Number.isNaN(result.value)) return result;
  return { value: (Math.exp(result.value) - 1) * 100, interval: result.interval };
}

/**
 * Bjontegaard delta PSNR of `test` against `anchor`, in dB (positive: `test` is better at equal rate).
 * NaN with a reason in the same cases as bdRate (overlap is then measured on the rate axis).
 */
export function bdPsnr(anchor: readonly RdPoint[], test: readonly RdPoint[]): BdResult {
  checkCurve(anchor, 'anchor');
  checkCurve(test, 'test');
  const flat = notMonotonic(anchor, 'anchor') ?? notMonotonic(test, 'test');
  if (flat) return { value: NaN, reason: flat };
  return meanDifference(
    anchor.map((p) => Math.log(p.rate)),
    anchor.map((p) => p.psnr),
    test.map((p) => Math.log(p.rate)),
    test.map((p) => p.psnr),
    'log rate',
  );
}

/** Why a curve's PSNR does not strictly rise with its rate, or undefined when it does. */
function notMonotonic(points: readonly RdPoint[], what: string): string | undefined {
  const sorted = [...points].sort((a, b) => a.rate - b.rate);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].rate > sorted[i - 1].rate && sorted[i].psnr <= sorted[i - 1].psnr) {
      const [a, b] = [sorted[i - 1], sorted[i]];
      return `the ${what} curve's PSNR does not rise with its rate (${a.psnr.toFixed(2)} dB at ${a.rate.toPrecision(4)}, ${b.psnr.toFixed(2)} dB at ${b.rate.toPrecision(4)})`;
    }
  }
  return undefined;
}

function checkCurve(points: readonly RdPoint[], what: string): void {
  points.forEach((p, i) => {
    if (!Number.isFinite(p.rate) || p.rate <= 0) throw new BadArgumentError(`${what} point ${i}: rate must be a finite number > 0, got ${p.rate}`);
    if (!Number.isFinite(p.psnr)) throw new BadArgumentError(`${what} point ${i}: PSNR must be finite, got ${p.psnr}`);
  });
}

/**
 * Mean over the shared x interval of (fit_test(x) - fit_anchor(x)), each fit a least-squares cubic of
 * y over x.
 */
function meanDifference(xa: number[], ya: number[], xt: number[], yt: number[], axis: string): BdResult {
  for (const [x, what] of [
    [xa, 'anchor'],
    [xt, 'test'],
  ] as const) {
    if (x.length < BD_MIN_POINTS) return { value: NaN, reason: `the ${what} curve has ${x.length} point(s); a cubic fit needs ${BD_MIN_POINTS}` };
    const distinct = new Set(x).size;
    if (distinct < BD_MIN_POINTS) {
      return { value: NaN, reason: `the ${what} curve has ${distinct} distinct ${axis} value(s); a cubic fit needs ${BD_MIN_POINTS}` };
    }
  }
  const low = Math.max(Math.min(...xa), Math.min(...xt));
  const high = Math.min(Math.max(...xa), Math.max(...xt));
  if (!(high > low)) {
    return {
      value: NaN,
      reason: `the curves do not overlap in ${axis}: anchor ${fmt(Math.min(...xa))}..${fmt(Math.max(...xa))}, test ${fmt(Math.min(...xt))}..${fmt(Math.max(...xt))}`,
    };
  }
  const fitA = fitCubic(xa, ya);
  const fitT = fitCubic(xt, yt);
  const area = (fit: CubicFit) => integrate(fit, low, high);
  return { value: (area(fitT) - area(fitA)) / (high - low), interval: [low, high] };
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

/** y = c0 + c1 u + c2 u^2 + c3 u^3 with u = (x - center) / scale (scaled so the normal equations stay well conditioned). */
export interface CubicFit {
  coefficients: [number, number, number, number];
  center: number;
  scale: number;
}

/** Least-squares cubic through (x, y); needs at least 4 distinct x. */
export function fitCubic(x: readonly number[], y: readonly number[]): CubicFit {
  if (x.length !== y.length) throw new BadArgumentError(`fitCubic: ${x.length} x values, ${y.length} y values`);
  const center = x.reduce((s, v) => s + v, 0) / x.length;
  const scale = Math.max(...x.map((v) => Math.abs(v - center))) || 1;
  // Normal equations A c = b with A[j][k] = sum u^(j+k), b[j] = sum y u^j.
  const a = Array.from({ length: 4 }, () => new Float64Array(5));
  for (let i = 0; i < x.length; i++) {
    const u = (x[i] - center) / scale;
    const powers = [1, u, u * u, u * u * u];
    for (let j = 0; j < 4; j++) {
      for (let k = 0; k < 4; k++) a[j][k] += powers[j] * powers[k];
      a[j][4] += y[i] * powers[j];
    }
  }
  // Gaussian elimination with partial pivoting on the 4x5 augmented matrix.
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let row = col + 1; row < 4; row++) if (Math.abs(a[row][col]) > Math.abs(a[pivot][col])) pivot = row;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    if (Math.abs(a[col][col]) < 1e-300) throw new BadArgumentError('fitCubic: singular system (fewer than 4 distinct x values)');
    for (let row = 0; row < 4; row++) {
      if (row === col) continue;
      const factor = a[row][col] / a[col][col];
      for (let k = col; k < 5; k++) a[row][k] -= factor * a[col][k];
    }
  }
  const coefficients = [0, 1, 2, 3].map((j) => a[j][4] / a[j][j]) as CubicFit['coefficients'];
  return { coefficients, center, scale };
}

/** Value of a fit at x. */
export function evaluateCubic(fit: CubicFit, x: number): number {
  const u = (x - fit.center) / fit.scale;
  const [c0, c1, c2, c3] = fit.coefficients;
  return c0 + u * (c1 + u * (c2 + u * c3));
}

/** Integral of the fit over [low, high] in x (dx = scale du). */
function integrate(fit: CubicFit, low: number, high: number): number {
  const [c0, c1, c2, c3] = fit.coefficients;
  const primitive = (x: number) => {
    const u = (x - fit.center) / fit.scale;
    return u * (c0 + u * (c1 / 2 + u * (c2 / 3 + u * (c3 / 4))));
  };
  return (primitive(high) - primitive(low)) * fit.scale;
}
