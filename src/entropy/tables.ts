/**
 * Token alphabets and probability tables shared by the encoder and the decoder.
 *
 * Every table is built with integer arithmetic only (values stay below 2^53, so JavaScript numbers
 * hold them exactly and a C decoder can use uint64): Math.exp/log differ between engines, and a
 * single different frequency would make an independent decoder desynchronise.
 */
import { NervFormatError } from '../errors.ts';

/** rANS probability precision: frequencies sum to 2^15. 15 bits keeps near-deterministic symbols
 * (an all-but-zero residual) cheap, and the 32 Ki-entry decode table stays small (64 KB). */
export const PROB_BITS = 15;
export const PROB_SCALE = 1 << PROB_BITS;
/** Lower bound of the 32-bit rANS state; state lives in [2^23, 2^31) so every step fits int32. */
export const RANS_LOWER = 1 << 23;
/** Split exponents E (direct tokens 0..2^E-1) the format allows. */
export const MIN_SPLIT = 1;
export const MAX_SPLIT = 12;
/** Histogram weight levels are 0..MAX_LEVEL (see levelWeight). */
export const MAX_LEVEL = 199;

/**
 * Hybrid "direct + Exp-Golomb" tokens for a non-negative integer u: u < 2^E is its own token;
 * otherwise, with n = floor(log2 u), the token carries n and the bit below the leading one, and the
 * remaining n-1 low bits travel as raw ("extra") bits. Small values (most weights) get exact
 * probabilities, while the alphabet stays tiny even for magnitudes up to 2^30.
 * Zigzag values (histogram model) are < 2^31, magnitudes (Laplace model) < 2^30.
 */
export function alphabetSize(split: number, valueBits: number): number {
  return (1 << split) + 2 * (valueBits - split);
}
export const ZIGZAG_BITS = 31;
export const MAGNITUDE_BITS = 30;

const layouts = new Map<number, { base: Int32Array; bits: Uint8Array }>();

/** Smallest value of each token and its number of extra bits (shared, read-only tables). */
export function tokenLayout(split: number, valueBits: number): { base: Int32Array; bits: Uint8Array } {
  const key = split * 64 + valueBits;
  let layout = layouts.get(key);
  if (!layout) {
    layout = buildTokenLayout(split, valueBits);
    layouts.set(key, layout);
  }
  return layout;
}

function buildTokenLayout(split: number, valueBits: number): { base: Int32Array; bits: Uint8Array } {
  const size = alphabetSize(split, valueBits);
  const base = new Int32Array(size);
  const bits = new Uint8Array(size);
  const direct = 1 << split;
  for (let t = 0; t < size; t++) {
    if (t < direct) {
      base[t] = t;
    } else {
      const j = t - direct;
      const n = split + (j >> 1);
      base[t] = 2 ** n + (j & 1) * 2 ** (n - 1);
      bits[t] = n - 1;
    }
  }
  return { base, bits };
}

/** Integer division floor(a / b) for 0 <= a, b < 2^53, exact even where a / b rounds up in float64. */
function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q--;
  else if ((q + 1) * b <= a) q++;
  return q;
}

/**
 * Integer weights -> frequencies summing to exactly PROB_SCALE, each positive weight getting at
 * least 1 (so any token with weight can be coded), zero weight giving 0 (token not codable):
 *   free = 2^15 - (number of positive weights); f = 1 + floor(w * free / sum(w));
 *   the remainder goes to the first token of largest weight.
 * Weights must be integers with w * 2^15 < 2^53.
 */
export function normalizeFrequencies(weights: Float64Array): Int32Array {
  const size = weights.length;
  let total = 0;
  let positive = 0;
  let largest = -1;
  for (let t = 0; t < size; t++) {
    const w = weights[t];
    if (w > 0) {
      total += w;
      positive++;
      if (largest < 0 || w > weights[largest]) largest = t;
    }
  }
  if (positive === 0) throw new NervFormatError('entropy', 'probability table has no symbol with a non-zero weight');
  if (positive > PROB_SCALE) throw new NervFormatError('entropy', 'probability table has too many symbols');
  const free = PROB_SCALE - positive;
  const freq = new Int32Array(size);
  let sum = 0;
  for (let t = 0; t < size; t++) {
    const w = weights[t];
    if (w > 0) {
      const f = 1 + floorDiv(w * free, total);
      freq[t] = f;
      sum += f;
    }
  }
  freq[largest] += PROB_SCALE - sum;
  return freq;
}

// ---------------------------------------------------------------- Laplace (two-sided geometric)

/** Fixed-point unit for the Laplace table: products of two Q26 numbers stay below 2^52 (exact). */
const ONE = 2 ** 26;
const mulQ = (a: number, b: number): number => Math.floor((a * b) / ONE);
/** r^e by right-to-left square-and-multiply in Q26 (the truncation order is part of the format). */
function powQ(r: number, e: number): number {
  let result = ONE;
  let base = r;
  while (e > 0) {
    if (e & 1) result = Math.floor((result * base) / ONE);
    base = Math.floor((base * base) / ONE);
    e >>>= 1;
  }
  return result;
}

/**
 * Weights of the magnitude alphabet for a zero-mean discretised Laplace with its own zero mass:
 *   P(0) = z / 2^16,  P(m) = (1 - P(0)) * (1 - r) * r^(m-1) for m >= 1,  r = q / 2^16,
 * (a discretised Laplace is exactly this two-sided geometric law; coding P(0) separately lets the
 * model also fit the extra mass at zero that quantization and residuals create). Escape tokens get
 * the exact mass of their value range, (1 - P(0)) * r^(lo-1) * (1 - r^len). Signs are coded apart
 * with probability 1/2.
 */
export function laplaceWeights(split: number, zeroCode: number, decayCode: number, valueBits: number = MAGNITUDE_BITS): Float64Array {
  const size = alphabetSize(split, valueBits);
  const weights = new Float64Array(size);
  const r = decayCode * 1024;
  const nonZero = (65536 - zeroCode) * 1024;
  const oneMinusR = ONE - r;
  weights[0] = zeroCode * 1024;
  const direct = 1 << split;
  let power = ONE; // r^(m-1), iterated (not powQ): part of the format too
  for (let m = 1; m < direct; m++) {
    weights[m] = mulQ(nonZero, mulQ(oneMinusR, power));
    power = mulQ(power, r);
  }
  for (let t = direct; t < size; t++) {
    const j = t - direct;
    const n = split + (j >> 1);
    const length = 2 ** (n - 1);
    const low = 2 ** n + (j & 1) * length;
    weights[t] = mulQ(nonZero, mulQ(powQ(r, low - 1), ONE - powQ(r, length)));
  }
  return weights;
}

// ---------------------------------------------------------------- histogram weight levels

/** Level -> weight: exact below 16, then 8 steps per octave ((8 + mantissa) << exponent).
 * A coded histogram only needs relative precision (6% costs < 0.003 bit/symbol), and levels
 * are small integers that delta-code in a few bits each. */
export function levelWeight(level: number): number {
  return level < 16 ? level : (8 + (level & 7)) * 2 ** ((level >> 3) - 1);
}

/** Nearest level of a count (count >= 1 gives level >= 1). */
export function levelOf(count: number): number {
  if (count < 16) return count;
  let exponent = Math.floor(Math.log2(count)) - 3;
  let mantissa = Math.round(count / 2 ** exponent);
  if (mantissa >= 16) {
    exponent++;
    mantissa = 8;
  } else if (mantissa < 8) {
    mantissa = 8;
  }
  return Math.min(MAX_LEVEL, (exponent + 1) * 8 + (mantissa - 8));
}
