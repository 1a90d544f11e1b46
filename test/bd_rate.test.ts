import test from 'ava';
import { bdPsnr, bdRate, evaluateCubic, fitCubic, type RdPoint } from '../src/metrics/bd_rate.ts';
import { NervError } from '../src/errors.ts';

// An x264-like curve (docs/architecture.md, vtest 320x192): bpp -> dB.
const anchor: RdPoint[] = [
  [0.025, 27.6],
  [0.043, 30.1],
  [0.074, 32.7],
  [0.126, 35.0],
  [0.221, 36.9],
  [0.39, 38.3],
].map(([rate, psnr]) => ({ rate, psnr }));

const scaled = (curve: RdPoint[], factor: number) => curve.map((p) => ({ rate: p.rate * factor, psnr: p.psnr }));
const close = (actual: number, expected: number, tolerance: number) => Math.abs(actual - expected) <= tolerance;

test('identical curves: 0 % and 0 dB', (t) => {
  const rate = bdRate(anchor, anchor);
  const psnr = bdPsnr(anchor, anchor);
  t.true(close(rate.value, 0, 1e-9), `${rate.value}`);
  t.true(close(psnr.value, 0, 1e-9), `${psnr.value}`);
  t.deepEqual(rate.interval, [27.6, 38.3]);
  t.is(rate.reason, undefined);
});

test('every rate doubled at the same PSNR: +100 %; halved: -50 %', (t) => {
  t.true(close(bdRate(anchor, scaled(anchor, 2)).value, 100, 1e-9));
  t.true(close(bdRate(anchor, scaled(anchor, 0.5)).value, -50, 1e-9));
  // Unit does not matter, only ratios: bytes instead of bpp on both sides.
  t.true(close(bdRate(scaled(anchor, 1e6), scaled(anchor, 2e6)).value, 100, 1e-7));
});

test('PSNR raised by 1 dB at the same rates: BD-PSNR +1 dB, BD-rate negative', (t) => {
  const better = anchor.map((p) => ({ rate: p.rate, psnr: p.psnr + 1 }));
  t.true(close(bdPsnr(anchor, better).value, 1, 1e-9));
  t.true(close(bdPsnr(better, anchor).value, -1, 1e-9));
  const rate = bdRate(anchor, better);
  t.true(rate.value < -10 && rate.value > -60, `${rate.value}`);
  t.deepEqual(rate.interval, [28.6, 38.3]);
});

test('matches the common numpy bd_rate / bd_psnr scripts', (t) => {
  // Four points each (exact cubic interpolation); reference values from numpy polyfit/polyint.
  const r1 = [686.76, 309.58, 157.11, 85.95];
  const p1 = [40.28, 37.18, 34.24, 31.42];
  const r2 = [893.34, 407.8, 204.93, 112.75];
  const p2 = [40.39, 37.21, 34.17, 31.24];
  const a = r1.map((rate, i) => ({ rate, psnr: p1[i] }));
  const b = r2.map((rate, i) => ({ rate, psnr: p2[i] }));
  t.true(close(bdRate(a, b).value, 31.39737405490792, 1e-7), `${bdRate(a, b).value}`);
  t.true(close(bdPsnr(a, b).value, -1.1848979217703406, 1e-9), `${bdPsnr(a, b).value}`);
  // Six and five points in unsorted order (least-squares fits).
  const c = [
    [0.16, 35.2],
    [0.03, 27.0],
    [0.3, 37.8],
    [0.05, 29.5],
    [0.09, 32.4],
  ].map(([rate, psnr]) => ({ rate, psnr }));
  t.true(close(bdRate(anchor, c).value, 24.262937910436435, 1e-7), `${bdRate(anchor, c).value}`);
  t.true(close(bdPsnr(anchor, c).value, -0.9627081248596437, 1e-9), `${bdPsnr(anchor, c).value}`);
});

test('fitCubic reproduces an exact cubic from noisy-free points far from 0', (t) => {
  const f = (x: number) => 2 - 0.5 * x + 0.01 * x * x - 0.0002 * x ** 3;
  const xs = [30, 31.5, 33, 36, 38.2, 41];
  const fit = fitCubic(xs, xs.map(f));
  for (const x of [30, 34.7, 41]) t.true(close(evaluateCubic(fit, x), f(x), 1e-9));
});

test('fewer than 4 points or distinct PSNRs: NaN with a reason', (t) => {
  const three = bdRate(anchor, anchor.slice(0, 3));
  t.true(Number.isNaN(three.value));
  t.regex(three.reason ?? '', /test curve has 3 point\(s\)/);
  const duplicates = [...anchor.slice(0, 3), { rate: 0.5, psnr: anchor[2].psnr }];
  const dup = bdRate(duplicates, anchor);
  t.true(Number.isNaN(dup.value));
  // Two rates at one PSNR: the curve is not monotonic, which is checked before the fit.
  t.regex(dup.reason ?? '', /anchor curve's PSNR does not rise with its rate/);
  t.true(Number.isNaN(bdPsnr(anchor.slice(0, 2), anchor).value));
});

test('curves that do not overlap: NaN with a reason', (t) => {
  const higher = anchor.map((p) => ({ rate: p.rate * 10, psnr: p.psnr + 20 }));
  const result = bdRate(anchor, higher);
  t.true(Number.isNaN(result.value));
  t.regex(result.reason ?? '', /do not overlap in PSNR: anchor 27\.6\.\.38\.3, test 47\.6\.\.58\.3/);
  const psnr = bdPsnr(anchor, scaled(anchor, 100));
  t.true(Number.isNaN(psnr.value));
  t.regex(psnr.reason ?? '', /do not overlap in log rate/);
});

test('a curve whose PSNR does not rise with its rate: NaN with a reason, not a fit of a non-function', (t) => {
  // vtest 320x192x32 at preset fast (bench/results/rd-v2-fast.json): the two largest points share a PSNR.
  const flat = [
    { rate: 0.0469, psnr: 27.45 },
    { rate: 0.1257, psnr: 28.74 },
    { rate: 0.2873, psnr: 29.25 },
    { rate: 0.4312, psnr: 29.25 },
  ];
  const rate = bdRate(anchor, flat);
  t.true(Number.isNaN(rate.value));
  t.regex(rate.reason ?? '', /test curve's PSNR does not rise with its rate \(29\.25 dB at 0\.2873, 29\.25 dB at 0\.4312\)/);
  t.true(Number.isNaN(bdPsnr(flat, anchor).value));
  t.regex(bdPsnr(flat, anchor).reason ?? '', /anchor curve/);
});

test('malformed points throw BAD_ARGUMENT', (t) => {
  for (const bad of [
    { rate: 0, psnr: 30 },
    { rate: -1, psnr: 30 },
    { rate: NaN, psnr: 30 },
    { rate: 1, psnr: Infinity },
  ]) {
    const error = t.throws(() => bdRate(anchor, [...anchor.slice(1), bad]));
    t.true(error instanceof NervError && error.code === 'BAD_ARGUMENT', String(error));
  }
});
