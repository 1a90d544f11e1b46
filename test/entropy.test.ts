import test from 'ava';
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { BadArgumentError } from '../src/errors.ts';
import { NervFormatError } from '../src/errors.ts';
import { MAX_SYMBOL } from '../src/quant/quantize.ts';
import { decodeTensor, encodeTensor, tensorModel } from '../src/entropy/tensor.ts';
import { laplaceWeights, levelOf, levelWeight, normalizeFrequencies, PROB_SCALE } from '../src/entropy/tables.ts';

/** Deterministic generator (mulberry32) so failures reproduce; values in (0, 1). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (((z ^ (z >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

type Kind = 'laplace' | 'gaussian' | 'uniform' | 'sparse' | 'positive' | 'bimodal' | 'huge' | 'zeros' | 'constant' | 'extreme';
const KINDS: Kind[] = ['laplace', 'gaussian', 'uniform', 'sparse', 'positive', 'bimodal', 'huge', 'zeros', 'constant', 'extreme'];

function synth(kind: Kind, n: number, scale: number, seed: number): Int32Array {
  const r = random(seed);
  const clamp = (v: number) => Math.max(-MAX_SYMBOL, Math.min(MAX_SYMBOL, Math.round(v)));
  const laplace = (b: number) => {
    const u = r() - 0.5;
    return -b * Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
  };
  return Int32Array.from({ length: n }, (_, i) => {
    switch (kind) {
      case 'laplace':
        return clamp(laplace(scale));
      case 'gaussian':
        return clamp(scale * Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r()));
      case 'uniform':
        return clamp((r() * 2 - 1) * scale);
      case 'sparse':
        return r() < 0.02 ? clamp(laplace(scale * 50)) : 0;
      case 'positive':
        return clamp(Math.abs(laplace(scale)) + 3);
      case 'bimodal':
        return clamp((r() < 0.5 ? -1 : 1) * scale * 4 + laplace(1));
      case 'huge':
        return clamp((r() * 2 - 1) * MAX_SYMBOL);
      case 'zeros':
        return 0;
      case 'constant':
        return -Math.round(scale);
      case 'extreme':
        return i % 2 ? MAX_SYMBOL : -MAX_SYMBOL;
    }
  });
}

function roundTrip(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, symbols: Int32Array, label = '') {
  const bytes = encodeTensor(symbols);
  const back = decodeTensor(bytes, symbols.length);
  t.deepEqual(back, symbols, label);
  return bytes;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

test('round trips edge cases: empty, single, zeros, constants, +-MAX_SYMBOL', (t) => {
  t.is(roundTrip(t, new Int32Array(0)).length, 1);
  for (const v of [0, 1, -1, MAX_SYMBOL, -MAX_SYMBOL]) roundTrip(t, Int32Array.of(v), `single ${v}`);
  const zeros = roundTrip(t, new Int32Array(100_003));
  t.is(tensorModel(zeros), 'const');
  t.is(zeros.length, 2);
  t.is(roundTrip(t, new Int32Array(7).fill(-MAX_SYMBOL)).length, 6);
  roundTrip(t, synth('extreme', 1001, 0, 1));
  roundTrip(t, Int32Array.of(MAX_SYMBOL, 0, 0, 0, 0, -MAX_SYMBOL, 1, 2, 3, 2 ** 29, -(2 ** 29), 32768, -32769, 4096, -4097));
});

test('round trips every distribution at several sizes and scales', (t) => {
  for (const kind of KINDS) {
    for (const n of [2, 5, 257, 4099]) {
      for (const scale of [0.3, 3, 200, 70000]) roundTrip(t, synth(kind, n, scale, n * 31 + scale), `${kind} n=${n} scale=${scale}`);
    }
  }
});

test('property: random symbol arrays of many distributions round trip', (t) => {
  const arbitrary = fc.record({
    kind: fc.constantFrom(...KINDS),
    n: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3000 })),
    scale: fc.oneof(fc.double({ min: 0.01, max: 10, noNaN: true }), fc.double({ min: 10, max: 1e7, noNaN: true })),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
  fc.assert(
    fc.property(arbitrary, ({ kind, n, scale, seed }) => {
      const symbols = synth(kind, n, scale, seed);
      const back = decodeTensor(encodeTensor(symbols), n);
      return back.length === n && back.every((v, i) => v === symbols[i]);
    }),
    { numRuns: 300, seed: 42 },
  );
  fc.assert(
    fc.property(fc.int32Array({ min: -MAX_SYMBOL, max: MAX_SYMBOL, maxLength: 300 }), (symbols) => {
      const back = decodeTensor(encodeTensor(symbols), symbols.length);
      return back.every((v, i) => v === symbols[i]);
    }),
    { numRuns: 300, seed: 43 },
  );
  t.pass();
});

function entropyBytes(symbols: Int32Array): number {
  const counts = new Map<number, number>();
  for (const v of symbols) counts.set(v, (counts.get(v) ?? 0) + 1);
  let bits = 0;
  for (const c of counts.values()) bits -= c * Math.log2(c / symbols.length);
  return bits / 8;
}

test('Laplace data codes within 1% of its empirical entropy and beats gzip -9', (t) => {
  for (const [n, scale] of [
    [20_000, 0.7],
    [50_000, 4],
    [100_000, 40],
  ]) {
    const symbols = synth('laplace', n, scale, n);
    const bytes = roundTrip(t, symbols);
    const entropy = entropyBytes(symbols);
    t.true(bytes.length <= entropy * 1.01 + 16, `n=${n} b=${scale}: ${bytes.length} bytes vs entropy ${entropy.toFixed(0)}`);
    const packed = new Int8Array(symbols.length);
    if (symbols.every((v) => v >= -128 && v <= 127)) {
      packed.set(symbols);
      const gzipBytes = gzipSync(packed, { level: 9 }).length;
      t.true(bytes.length < gzipBytes, `n=${n} b=${scale}: ${bytes.length} bytes vs gzip ${gzipBytes}`);
    }
  }
});

test('small Laplace tensors pick the parametric model, odd shapes the histogram, tiny ones raw', (t) => {
  t.is(tensorModel(roundTrip(t, synth('laplace', 700, 2, 5))), 'laplace');
  t.is(tensorModel(roundTrip(t, synth('bimodal', 5000, 20, 5))), 'histogram');
  t.is(tensorModel(roundTrip(t, Int32Array.of(1, -2, 300))), 'raw');
  // the residual of a barely changed tensor: mostly zeros
  const residual = synth('sparse', 20_000, 0.1, 9);
  const coded = roundTrip(t, residual).length;
  t.true(coded < entropyBytes(residual) * 1.05 + 16, `${coded} bytes vs entropy ${entropyBytes(residual)}`);
});

test('golden encodings pin the bitstream (docs/format.md examples)', (t) => {
  const laplace64 = Int32Array.of(
    1,
    -1,
    0,
    7,
    1,
    1,
    -2,
    2,
    1,
    2,
    1,
    -1,
    1,
    -1,
    0,
    -1,
    -1,
    1,
    2,
    2,
    -2,
    0,
    1,
    0,
    -1,
    0,
    3,
    2,
    0,
    0,
    2,
    -2,
    -2,
    -1,
    0,
    0,
    4,
    0,
    1,
    -1,
    0,
    2,
    2,
    -1,
    0,
    2,
    1,
    -2,
    0,
    -3,
    1,
    0,
    1,
    -1,
    0,
    0,
    0,
    3,
    0,
    -5,
    -1,
    -2,
    1,
    -7,
  );
  const goldens: [Int32Array, string][] = [
    [new Int32Array(0), '00'],
    [Int32Array.of(7, 7, 7), '010e'],
    [Int32Array.of(1, -2, 300), '000203d804'],
    [Int32Array.of(0, 1, -1, 0, 2, 0, -3, 0, 0, 1, 0, -1), '0303065844e2cfa3545b6f02'],
    [Int32Array.from({ length: 40 }, (_, i) => (i % 3 === 1 ? -4 : 5)), '03040b7fd8b08216a9d5850a18dc5246'],
    [laplace64, '0201004812775bb506012bd3d6cbc75ac9f1b2c3fcf175d1a3ad1df8e1d7265600'],
  ];
  for (const [symbols, expected] of goldens) {
    t.is(hex(encodeTensor(symbols)), expected);
    t.deepEqual(decodeTensor(Uint8Array.from(Buffer.from(expected, 'hex')), symbols.length), symbols);
  }
  t.deepEqual([...normalizeFrequencies(laplaceWeights(2, 16384, 32768)).subarray(0, 10)], [8190, 12289, 6143, 3072, 2304, 576, 180, 12, 1, 1]);
});

test('frequency tables sum to 2^15 and give every positive weight at least 1', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 27 }), { minLength: 1, maxLength: 300 }), (weights) => {
      fc.pre(weights.some((w) => w > 0));
      const freq = normalizeFrequencies(Float64Array.from(weights));
      return freq.reduce((a, b) => a + b, 0) === PROB_SCALE && weights.every((w, i) => w > 0 === freq[i] > 0);
    }),
    { numRuns: 300, seed: 3 },
  );
  for (let c = 1; c < 2 ** 26; c = Math.ceil(c * 1.37)) {
    const w = levelWeight(levelOf(c));
    t.true(Math.abs(w / c - 1) <= 1 / 15, `count ${c} -> weight ${w}`);
  }
});

test('encodeTensor rejects symbols beyond the limit', (t) => {
  t.throws(() => encodeTensor(Int32Array.of(0, MAX_SYMBOL + 1)), { instanceOf: BadArgumentError });
  t.throws(() => encodeTensor(Int32Array.of(-(2 ** 31))), { instanceOf: BadArgumentError });
});

function decodesOrThrowsFormat(bytes: Uint8Array, count: number): 'ok' | 'error' {
  try {
    const out = decodeTensor(bytes, count);
    if (out.length !== count) throw new Error(`decoded ${out.length} symbols, wanted ${count}`);
    return 'ok';
  } catch (error) {
    if (error instanceof NervFormatError && error.kind === 'entropy') return 'error';
    throw error;
  }
}

test('corrupt payloads throw typed entropy errors, never anything else, and never loop', (t) => {
  const samples = [synth('laplace', 500, 2, 1), synth('bimodal', 800, 10, 2), synth('huge', 60, 0, 3), Int32Array.of(1, -2, 300), new Int32Array(50)];
  let cases = 0;
  for (const symbols of samples) {
    const bytes = encodeTensor(symbols);
    // every truncation
    for (let cut = 0; cut < bytes.length; cut++) {
      t.is(decodesOrThrowsFormat(bytes.subarray(0, cut), symbols.length), 'error', `cut at ${cut}`);
      cases++;
    }
    // wrong counts
    if (symbols.length > 0 && tensorModel(bytes) !== 'const') {
      t.is(decodesOrThrowsFormat(bytes, symbols.length - 1), 'error');
      t.is(decodesOrThrowsFormat(bytes, symbols.length + 1), 'error');
    }
    // a count far beyond the payload fails fast instead of decoding garbage for long
    if (tensorModel(bytes) !== 'const') t.is(decodesOrThrowsFormat(bytes, 5_000_000), 'error');
    // every single bit flip
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const flipped = bytes.slice();
      flipped[bit >> 3] ^= 1 << (bit & 7);
      decodesOrThrowsFormat(flipped, symbols.length);
      cases++;
    }
  }
  // random garbage behind every model id
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 5 }), fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 3000 }), (id, rest, count) => {
      decodesOrThrowsFormat(Uint8Array.of(id, ...rest), count);
      cases++;
    }),
    { numRuns: 3000, seed: 11 },
  );
  t.throws(() => decodeTensor(Uint8Array.of(9), 1), { instanceOf: NervFormatError, message: /model id 9/ });
  t.throws(() => decodeTensor(Uint8Array.of(0), -1), { instanceOf: BadArgumentError });
  t.log(`${cases} corrupt payloads`);
});
