/**
 * Entropy coding of one tensor's integer symbols: a 32-bit rANS coder (byte-wise renormalisation,
 * 15-bit probabilities) driven by one of several per-tensor probability models. encodeTensor
 * measures every model on the tensor and keeps the smallest output (as NIRVANA does per tensor);
 * the first byte of its output says which model decodes it. The bit-exact format is in docs/format.md.
 *
 * Why rANS: it reaches the entropy within a fraction of a percent, decodes with one table lookup,
 * one multiply and (rarely) a byte read per symbol in plain int32 arithmetic, and its final state
 * doubles as an integrity check on decode.
 */
import { BadArgumentError } from '../errors.ts';
import { NervFormatError } from '../errors.ts';
import { MAX_SYMBOL } from '../quant/quantize.ts';
import { BitReader, BitWriter, ByteReader, ByteWriter, varintLength } from './bytes.ts';
import {
  MAGNITUDE_BITS,
  MAX_LEVEL,
  MAX_SPLIT,
  MIN_SPLIT,
  PROB_BITS,
  PROB_SCALE,
  RANS_LOWER,
  ZIGZAG_BITS,
  alphabetSize,
  laplaceWeights,
  levelOf,
  levelWeight,
  normalizeFrequencies,
  tokenLayout,
} from './tables.ts';

/** Model ids (first byte of an encoded tensor). */
export const MODEL_RAW = 0;
export const MODEL_CONST = 1;
export const MODEL_LAPLACE = 2;
export const MODEL_HISTOGRAM = 3;
export const MODEL_NAMES = ['raw', 'const', 'laplace', 'histogram'] as const;
export type EntropyModelName = (typeof MODEL_NAMES)[number];

// Local copies: imported bindings can compile to getter calls (tsx), far too slow inside coder loops.
const LOWER = RANS_LOWER;
const PRECISION = PROB_BITS;
const SLOT_MASK = PROB_SCALE - 1;
/** Renormalisation bound for frequency f is f * 2^(31 - PROB_BITS) = f * 65536. */
const RENORM_SHIFT = 31 - PROB_BITS;
const RENORM_FACTOR = 2 ** RENORM_SHIFT;
const STATE_LIMIT = 2 ** 31;
/** Raw extra bits are coded in pieces of at most 15 bits (a uniform "symbol" of 2^-k probability). */
const EXTRA_PIECE = 15;
const SMALL = 1 << MAX_SPLIT;
const MAX_ZIGZAG = 2 * MAX_SYMBOL; // values below this are histogrammed exactly; above, by token class

const entropyError = (message: string, offset?: number): NervFormatError =>
  new NervFormatError('entropy', offset === undefined ? message : `${message} (payload byte ${offset})`, { offset });

// ------------------------------------------------------------------------------------- statistics

interface Stats {
  count: number;
  zigzagSmall: Float64Array; // counts of zigzag values < SMALL
  zigzagBig: Float64Array; // counts per (n, next bit) class for zigzag values >= SMALL
  magnitudeSmall: Float64Array;
  magnitudeBig: Float64Array;
  zeros: number;
  magnitudeSum: number;
  rawBytes: number;
  constant: boolean;
  maxZigzag: number;
  maxMagnitude: number;
}

function bigClass(value: number): number {
  const n = 31 - Math.clz32(value);
  return ((n - MAX_SPLIT) << 1) | ((value >>> (n - 1)) & 1);
}

function gatherStats(symbols: Int32Array): Stats {
  const zigzagSmall = new Float64Array(SMALL);
  const magnitudeSmall = new Float64Array(SMALL);
  const zigzagBig = new Float64Array(2 * (ZIGZAG_BITS - MAX_SPLIT));
  const magnitudeBig = new Float64Array(2 * (MAGNITUDE_BITS - MAX_SPLIT));
  let magnitudeSum = 0;
  let rawBytes = 0;
  let maxZigzag = 0;
  let constant = true;
  const first = symbols.length > 0 ? symbols[0] : 0;
  const limit = MAX_SYMBOL;
  for (let i = 0; i < symbols.length; i++) {
    const v = symbols[i];
    if (v > limit || v < -limit) {
      throw new BadArgumentError(`symbol ${v} at index ${i} is beyond the coder's limit of +-${limit}`);
    }
    const u = (v << 1) ^ (v >> 31);
    const m = v < 0 ? -v : v;
    if (u < SMALL) zigzagSmall[u]++;
    else zigzagBig[bigClass(u)]++;
    if (m < SMALL) magnitudeSmall[m]++;
    else magnitudeBig[bigClass(m)]++;
    magnitudeSum += m;
    if (u > maxZigzag) maxZigzag = u;
    rawBytes += u < 0x80 ? 1 : u < 0x4000 ? 2 : u < 0x200000 ? 3 : u < 0x10000000 ? 4 : 5;
    if (v !== first) constant = false;
  }
  return {
    count: symbols.length,
    zigzagSmall,
    zigzagBig,
    magnitudeSmall,
    magnitudeBig,
    zeros: zigzagSmall[0],
    magnitudeSum,
    rawBytes,
    constant,
    maxZigzag,
    maxMagnitude: (maxZigzag + 1) >>> 1,
  };
}

/** Token histogram for split E, plus the total number of extra bits those tokens carry. */
function tokenCounts(small: Float64Array, big: Float64Array, split: number, valueBits: number, maxValue: number) {
  const direct = 1 << split;
  const counts = new Float64Array(alphabetSize(split, valueBits));
  let extraBits = 0;
  const smallEnd = Math.min(SMALL, maxValue + 1);
  for (let u = 0; u < Math.min(direct, smallEnd); u++) counts[u] = small[u];
  for (let u = direct; u < smallEnd; u++) {
    const c = small[u];
    if (c === 0) continue;
    const n = 31 - Math.clz32(u);
    counts[direct + ((n - split) << 1) + ((u >>> (n - 1)) & 1)] += c;
    extraBits += c * (n - 1);
  }
  for (let k = 0; k < big.length; k++) {
    const c = big[k];
    if (c === 0) continue;
    const n = MAX_SPLIT + (k >> 1);
    counts[direct + ((n - split) << 1) + (k & 1)] += c;
    extraBits += c * (n - 1);
  }
  return { counts, extraBits };
}

/** Ideal code length in bits of the tokens under a frequency table (Infinity if one is not codable). */
function tokenBits(counts: Float64Array, freq: Int32Array): number {
  let bits = 0;
  for (let t = 0; t < counts.length; t++) {
    const c = counts[t];
    if (c === 0) continue;
    if (freq[t] === 0) return Infinity;
    bits += c * (PROB_BITS - Math.log2(freq[t]));
  }
  return bits;
}

/** Splits worth trying: beyond the largest value's bit length every token is already direct. */
function splitRange(maxValue: number): number {
  return Math.max(MIN_SPLIT, Math.min(MAX_SPLIT, 32 - Math.clz32(maxValue)));
}

// ---------------------------------------------------------------------------------- model fitting

interface Candidate {
  bits: number; // estimated payload size, model byte excluded
  write: () => Uint8Array; // the real encoding (model byte included)
}

function laplaceCandidate(symbols: Int32Array, stats: Stats): Candidate {
  const nonZero = stats.count - stats.zeros;
  const zeroCode = stats.zeros === 0 ? 0 : Math.min(65535, Math.max(1, Math.round((65536 * stats.zeros) / stats.count)));
  // Maximum likelihood decay of the geometric tail: mean of (m - 1) over non-zero symbols is r / (1 - r).
  const tailMean = nonZero > 0 ? (stats.magnitudeSum - nonZero) / nonZero : 0;
  const fitted = Math.min(65535, Math.max(0, Math.round((65536 * tailMean) / (1 + tailMean))));
  const evaluate = (split: number, decayCode: number) => {
    const { counts, extraBits } = tokenCounts(stats.magnitudeSmall, stats.magnitudeBig, split, MAGNITUDE_BITS, stats.maxMagnitude);
    const freq = normalizeFrequencies(laplaceWeights(split, zeroCode, decayCode));
    return { bits: tokenBits(counts, freq) + extraBits + nonZero, freq };
  };
  let best = { split: MIN_SPLIT, decayCode: fitted, ...evaluate(MIN_SPLIT, fitted) };
  let worse = 0;
  // The cost is close to unimodal in the split: stop after two successive increases.
  for (let split = MIN_SPLIT + 1, previous = best.bits; split <= splitRange(stats.maxMagnitude) && worse < 2; split++) {
    const trial = evaluate(split, fitted);
    worse = trial.bits > previous ? worse + 1 : 0;
    previous = trial.bits;
    if (trial.bits < best.bits) best = { split, decayCode: fitted, ...trial };
  }
  // The escape classes and the 1-count floor bend the optimum slightly: a small search on (1 - r).
  for (const factor of [0.8, 0.9, 0.95, 1.05, 1.1, 1.25]) {
    const decayCode = Math.min(65535, Math.max(0, Math.round(65536 - (65536 - fitted) * factor)));
    const trial = evaluate(best.split, decayCode);
    if (trial.bits < best.bits) best = { ...best, decayCode, ...trial };
  }
  const { split, decayCode, freq } = best;
  return {
    bits: best.bits + 5 * 8 + 32,
    write: () => {
      const out = new ByteWriter();
      out.u8(MODEL_LAPLACE);
      out.u8(split);
      out.u16(zeroCode);
      out.u16(decayCode);
      out.bytes(ransEncode(symbols, split, freq, true, best.bits));
      return out.finish();
    },
  };
}

function encodeLevels(levels: Int32Array): Uint8Array {
  const bits = new BitWriter();
  let previous = 0;
  for (const level of levels) {
    const delta = level - previous;
    bits.expGolomb(delta >= 0 ? 2 * delta : -2 * delta - 1);
    previous = level;
  }
  return bits.finish();
}

function histogramCandidate(symbols: Int32Array, stats: Stats): Candidate {
  let best: { bits: number; split: number; table: Uint8Array; tokens: number; freq: Int32Array } | undefined;
  let worse = 0;
  let previous = Infinity;
  for (let split = MIN_SPLIT; split <= splitRange(stats.maxZigzag) && worse < 2; split++) {
    const { counts, extraBits } = tokenCounts(stats.zigzagSmall, stats.zigzagBig, split, ZIGZAG_BITS, stats.maxZigzag);
    let tokens = counts.length;
    while (tokens > 0 && counts[tokens - 1] === 0) tokens--;
    const levels = new Int32Array(tokens);
    const weights = new Float64Array(counts.length);
    for (let t = 0; t < tokens; t++) {
      levels[t] = counts[t] > 0 ? Math.max(1, levelOf(counts[t])) : 0;
      weights[t] = levelWeight(levels[t]);
    }
    const freq = normalizeFrequencies(weights);
    const table = encodeLevels(levels);
    const bits = tokenBits(counts, freq) + extraBits + 8 * (1 + varintLength(tokens) + table.length) + 32;
    worse = bits > previous ? worse + 1 : 0;
    previous = bits;
    if (!best || bits < best.bits) best = { bits, split, table, tokens, freq };
  }
  const chosen = best!;
  return {
    bits: chosen.bits,
    write: () => {
      const out = new ByteWriter();
      out.u8(MODEL_HISTOGRAM);
      out.u8(chosen.split);
      out.varint(chosen.tokens);
      out.bytes(chosen.table);
      out.bytes(ransEncode(symbols, chosen.split, chosen.freq, false, chosen.bits));
      return out.finish();
    },
  };
}

/**
 * Codes integer symbols (|s| <= MAX_SYMBOL) with whichever model gives the fewest bytes.
 * The symbol count is not stored: the container knows it (decodeTensor's `count`).
 */
export function encodeTensor(symbols: Int32Array): Uint8Array {
  const stats = gatherStats(symbols);
  if (stats.count > 0 && stats.constant) {
    // Constant tensors (an unchanged residual is all zeros) cost two bytes; no model beats that.
    const out = new ByteWriter();
    out.u8(MODEL_CONST);
    out.varint((symbols[0] << 1) ^ (symbols[0] >> 31));
    return out.finish();
  }
  const raw = (): Uint8Array => {
    const out = new ByteWriter();
    out.u8(MODEL_RAW);
    for (let i = 0; i < symbols.length; i++) out.varint((symbols[i] << 1) ^ (symbols[i] >> 31));
    return out.finish();
  };
  if (stats.count < 4) return raw(); // the rANS state alone costs 4 bytes
  // Estimates are within a few bytes of the real sizes: encode the two best-looking models for real.
  const candidates = [laplaceCandidate(symbols, stats), histogramCandidate(symbols, stats)].sort((a, b) => a.bits - b.bits);
  let best = candidates[0].write();
  if (candidates[1].bits <= best.length * 8 + 64) {
    const other = candidates[1].write();
    if (other.length < best.length) best = other;
  }
  if (stats.rawBytes < best.length - 1) best = raw();
  return best;
}

// ------------------------------------------------------------------------------------------ rANS

/** Laplace tables recur across groups (same tensor, similar statistics): building one costs up to ~1 ms. */
const laplaceCache = new Map<number, Int32Array>();
function laplaceFrequencies(split: number, zeroCode: number, decayCode: number): Int32Array {
  const key = (split * 65536 + zeroCode) * 65536 + decayCode;
  let freq = laplaceCache.get(key);
  if (!freq) {
    freq = normalizeFrequencies(laplaceWeights(split, zeroCode, decayCode));
    if (laplaceCache.size >= 256) laplaceCache.delete(laplaceCache.keys().next().value!);
    laplaceCache.set(key, freq);
  }
  return freq;
}

/**
 * Encodes symbols in reverse (rANS is last-in first-out) so the decoder reads forward. Per symbol,
 * the decoder reads: the token; if it has extra bits, `hi` (extra - 15 bits, if more than 15) then
 * the low min(extra, 15) bits; in magnitude mode and for m != 0, one sign bit (1 = negative).
 */
function ransEncode(symbols: Int32Array, split: number, freq: Int32Array, magnitudeMode: boolean, estimatedBits: number): Uint8Array {
  const cumulative = new Int32Array(freq.length + 1);
  for (let t = 0; t < freq.length; t++) cumulative[t + 1] = cumulative[t] + freq[t];
  const direct = 1 << split;
  let capacity = Math.max(64, Math.ceil((estimatedBits / 8) * 1.05) + 64);
  let buffer = new Uint8Array(capacity);
  let p = capacity;
  let x = LOWER;
  for (let i = symbols.length - 1; i >= 0; i--) {
    if (p < 16) {
      // At most 10 bytes leave per symbol (2 per coding step), so 16 bytes of headroom suffice.
      const grown = new Uint8Array(capacity * 2);
      grown.set(buffer.subarray(p), capacity * 2 - (capacity - p));
      p += capacity;
      capacity *= 2;
      buffer = grown;
    }
    const v = symbols[i];
    const value = magnitudeMode ? (v < 0 ? -v : v) : (v << 1) ^ (v >> 31);
    if (magnitudeMode && v !== 0) {
      // sign: uniform 1-bit symbol (frequency 2^14)
      while (x >= 2 ** 14 * RENORM_FACTOR) {
        buffer[--p] = x & 0xff;
        x >>>= 8;
      }
      x = ((x >>> 14) << PRECISION) | (x & 0x3fff) | ((v < 0 ? 1 : 0) << 14);
    }
    let token = value;
    if (value >= direct) {
      const n = 31 - Math.clz32(value);
      const extraCount = n - 1;
      token = direct + ((n - split) << 1) + ((value >>> extraCount) & 1);
      const extra = value & ((1 << extraCount) - 1);
      // low piece first (decoded last), then the high piece
      const lowCount = extraCount > EXTRA_PIECE ? EXTRA_PIECE : extraCount;
      for (let piece = 0; piece < 2; piece++) {
        const k = piece === 0 ? lowCount : extraCount - lowCount;
        if (k === 0) continue;
        const bitsValue = piece === 0 ? extra & ((1 << lowCount) - 1) : extra >>> lowCount;
        const s = PRECISION - k; // frequency 2^s
        while (x >= 2 ** s * RENORM_FACTOR) {
          buffer[--p] = x & 0xff;
          x >>>= 8;
        }
        x = ((x >>> s) << PRECISION) | (x & ((1 << s) - 1)) | (bitsValue << s);
      }
    }
    const f = freq[token];
    while (x >= f * RENORM_FACTOR) {
      buffer[--p] = x & 0xff;
      x >>>= 8;
    }
    const q = Math.floor(x / f);
    x = (q << PRECISION) + (x - q * f) + cumulative[token];
  }
  buffer[--p] = x >>> 24;
  buffer[--p] = (x >>> 16) & 0xff;
  buffer[--p] = (x >>> 8) & 0xff;
  buffer[--p] = x & 0xff;
  return buffer.slice(p);
}

/** Decodes `count` symbols from bytes[pos, end); every byte must be used and the final state must be LOWER. */
function ransDecode(bytes: Uint8Array, pos: number, end: number, count: number, split: number, freq: Int32Array, magnitudeMode: boolean): Int32Array {
  const { base, bits } = tokenLayout(split, magnitudeMode ? MAGNITUDE_BITS : ZIGZAG_BITS);
  const cumulative = new Int32Array(freq.length + 1);
  for (let t = 0; t < freq.length; t++) cumulative[t + 1] = cumulative[t] + freq[t];
  // A 2^15-entry lookup table pays off for large tensors; small ones (network weights) search.
  let slotToken: Uint16Array | undefined;
  if (count > 4096) {
    slotToken = new Uint16Array(SLOT_MASK + 1);
    for (let t = 0; t < freq.length; t++) slotToken.fill(t, cumulative[t], cumulative[t + 1]);
  }
  const tokenOf = (slot: number): number => {
    if (slotToken) return slotToken[slot];
    let lo = 0;
    let hi = freq.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cumulative[mid] <= slot) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  if (end - pos < 4) throw entropyError('rANS stream shorter than its 4-byte state', pos);
  let x = (bytes[pos] | (bytes[pos + 1] << 8) | (bytes[pos + 2] << 16) | (bytes[pos + 3] << 24)) >>> 0;
  if (x < LOWER || x >= STATE_LIMIT) throw entropyError(`invalid initial rANS state ${x}`, pos);
  pos += 4;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let slot = x & SLOT_MASK;
    const token = tokenOf(slot);
    x = freq[token] * (x >>> PRECISION) + slot - cumulative[token];
    while (x < LOWER) {
      if (pos >= end) throw entropyError('rANS stream ends early', pos);
      x = (x << 8) | bytes[pos++];
    }
    let value = base[token];
    const extraCount = bits[token];
    if (extraCount > 0) {
      let extra = 0;
      let remaining = extraCount;
      // high piece (if more than 15 bits) then the low 15 or fewer
      while (remaining > 0) {
        const k = remaining > EXTRA_PIECE ? remaining - EXTRA_PIECE : remaining;
        const s = PRECISION - k;
        slot = x & SLOT_MASK;
        extra = extra * 2 ** k + (slot >>> s);
        x = ((x >>> PRECISION) << s) + (slot & ((1 << s) - 1));
        while (x < LOWER) {
          if (pos >= end) throw entropyError('rANS stream ends early', pos);
          x = (x << 8) | bytes[pos++];
        }
        remaining -= k;
      }
      value += extra;
    }
    if (magnitudeMode) {
      if (value !== 0) {
        slot = x & SLOT_MASK;
        const negative = slot >>> 14;
        x = ((x >>> PRECISION) << 14) + (slot & 0x3fff);
        while (x < LOWER) {
          if (pos >= end) throw entropyError('rANS stream ends early', pos);
          x = (x << 8) | bytes[pos++];
        }
        out[i] = negative ? -value : value;
      } else {
        out[i] = 0;
      }
    } else {
      if (value > MAX_ZIGZAG) throw entropyError(`decoded symbol beyond +-${MAX_SYMBOL}`, pos);
      out[i] = (value >>> 1) ^ -(value & 1);
    }
  }
  if (x !== LOWER) throw entropyError('rANS final state mismatch (corrupt payload)', pos);
  if (pos !== end) throw entropyError(`${end - pos} unused bytes after the rANS stream`, pos);
  return out;
}

// ---------------------------------------------------------------------------------------- decode

/** Which model an encoded tensor uses (its first byte), for reports. */
export function tensorModel(bytes: Uint8Array): EntropyModelName {
  const id = bytes[0];
  if (bytes.length === 0 || id >= MODEL_NAMES.length) throw entropyError(`unknown entropy model id ${id}`, 0);
  return MODEL_NAMES[id];
}

/**
 * Inverse of encodeTensor. `count` comes from the container, never from the payload, so a corrupt
 * payload can neither allocate more than count symbols (plus fixed-size tables) nor loop: every
 * loop is bounded by count or by the payload length. Any inconsistency throws
 * NervFormatError(kind 'entropy').
 */
export function decodeTensor(bytes: Uint8Array, count: number): Int32Array {
  if (!Number.isInteger(count) || count < 0) throw new BadArgumentError(`symbol count must be a non-negative integer, got ${count}`);
  const reader = new ByteReader(bytes, 0, bytes.length, 'entropy');
  const model = reader.u8('entropy model id');
  switch (model) {
    case MODEL_RAW: {
      // every raw symbol takes at least one byte: refuse before allocating for an absurd count
      if (count > bytes.length - 1) reader.fail(`${count} raw symbols cannot fit in ${bytes.length - 1} bytes`);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const u = reader.varint('raw symbol');
        if (u > 2 * MAX_SYMBOL) reader.fail(`raw symbol beyond +-${MAX_SYMBOL}`);
        out[i] = (u >>> 1) ^ -(u & 1);
      }
      if (reader.pos !== bytes.length) reader.fail('unused bytes after raw symbols');
      return out;
    }
    case MODEL_CONST: {
      const u = reader.varint('constant symbol');
      if (u > 2 * MAX_SYMBOL) reader.fail(`constant symbol beyond +-${MAX_SYMBOL}`);
      if (reader.pos !== bytes.length) reader.fail('unused bytes after constant symbol');
      return new Int32Array(count).fill((u >>> 1) ^ -(u & 1));
    }
    case MODEL_LAPLACE: {
      const split = reader.u8('Laplace split');
      if (split < MIN_SPLIT || split > MAX_SPLIT) reader.fail(`split exponent ${split} outside ${MIN_SPLIT}..${MAX_SPLIT}`, reader.pos - 1);
      const zeroCode = reader.u16('Laplace zero probability');
      const decayCode = reader.u16('Laplace decay');
      return ransDecode(bytes, reader.pos, bytes.length, count, split, laplaceFrequencies(split, zeroCode, decayCode), true);
    }
    case MODEL_HISTOGRAM: {
      const split = reader.u8('histogram split');
      if (split < MIN_SPLIT || split > MAX_SPLIT) reader.fail(`split exponent ${split} outside ${MIN_SPLIT}..${MAX_SPLIT}`, reader.pos - 1);
      const size = alphabetSize(split, ZIGZAG_BITS);
      const tokens = reader.varint('histogram token count');
      if (tokens < 1 || tokens > size) reader.fail(`histogram token count ${tokens} outside 1..${size}`);
      const bitReader = new BitReader(reader);
      const weights = new Float64Array(size);
      let level = 0;
      for (let t = 0; t < tokens; t++) {
        const code = bitReader.expGolomb(9);
        level += code & 1 ? -(code + 1) / 2 : code / 2;
        if (level < 0 || level > MAX_LEVEL) reader.fail(`histogram level ${level} outside 0..${MAX_LEVEL}`);
        weights[t] = levelWeight(level);
      }
      bitReader.align();
      let freq: Int32Array;
      try {
        freq = normalizeFrequencies(weights);
      } catch (error) {
        throw entropyError(`${(error as Error).message}`, reader.pos);
      }
      return ransDecode(bytes, reader.pos, bytes.length, count, split, freq, false);
    }
    default:
      return reader.fail(`unknown entropy model id ${model}`, 0);
  }
}
