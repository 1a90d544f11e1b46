import test from 'ava';
import fc from 'fast-check';
import { BadArgumentError } from '../src/errors.ts';
import { MAX_SYMBOL, dequantize, quantize } from '../src/quant/quantize.ts';

test('quantize rounds half away from zero', (t) => {
  const values = Float32Array.of(0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49, -0.49, 0.51, 3, -7.25);
  t.deepEqual([...quantize(values, 1)], [0, 1, -1, 2, -2, 3, -3, 0, 0, 1, 3, -7]);
  // with a non-trivial step: v / 0.25
  t.deepEqual([...quantize(Float32Array.of(0.125, -0.125, 0.124, 1.1), 0.25)], [1, -1, 0, 4]);
});

test('quantize uses the float32 step, as stored in .nerv files', (t) => {
  // 0.25 / 0.1 is 2.5 in float64 (rounds to 3), but float32(0.1) = 0.100000001490116 makes it 2.4999999...
  t.is(0.25 / 0.1, 2.5);
  t.deepEqual([...quantize(Float32Array.of(0.25, -0.25), 0.1)], [2, -2]);
});

test('dequantize is exactly a float32 multiply', (t) => {
  const symbols = Int32Array.of(0, 1, -1, 3, 16777217, -MAX_SYMBOL, 12345);
  const step = 0.0123;
  const out = dequantize(symbols, step);
  symbols.forEach((s, i) => t.is(out[i], Math.fround(Math.fround(s) * Math.fround(step))));
});

test('reconstruction error is at most half a step', (t) => {
  fc.assert(
    fc.property(
      fc.float32Array({ noNaN: true, noDefaultInfinity: true, min: -1000, max: 1000, maxLength: 200 }),
      fc.double({ min: 1e-3, max: 10, noNaN: true }),
      (values, step) => {
        const back = dequantize(quantize(values, step), step);
        const s = Math.fround(step);
        values.forEach((v, i) => {
          // half a step, plus float32 rounding of the product
          if (Math.abs(back[i] - v) > s / 2 + Math.abs(v) * 2 ** -22 + 1e-30) throw new Error(`value ${v} -> ${back[i]} with step ${s}`);
        });
      },
    ),
    { numRuns: 200, seed: 7 },
  );
  t.pass();
});

test('quantize rejects invalid steps, non-finite values and symbols beyond the limit', (t) => {
  for (const step of [0, -1, NaN, Infinity, 1e-50]) t.throws(() => quantize(Float32Array.of(1), step), { instanceOf: BadArgumentError });
  t.throws(() => quantize(Float32Array.of(NaN), 1), { instanceOf: BadArgumentError, message: /NaN/ });
  t.throws(() => quantize(Float32Array.of(Infinity), 1), { instanceOf: BadArgumentError });
  t.throws(() => quantize(Float32Array.of(2 ** 30), 1), { instanceOf: BadArgumentError, message: /limit/ });
  const nearLimit = 2 ** 30 - 64; // float32-representable and <= MAX_SYMBOL
  t.deepEqual([...quantize(Float32Array.of(nearLimit, -nearLimit), 1)], [nearLimit, -nearLimit]);
  t.throws(() => dequantize(Int32Array.of(1), 0), { instanceOf: BadArgumentError });
});
