import type { DenseShape } from '../gpu/kernels/dense.ts';
import { NervError } from '../errors.ts';

function check(shape: DenseShape, arrays: Record<string, [ArrayLike<number>, number]>): void {
  for (const [name, value] of Object.entries(shape)) {
    if (!Number.isInteger(value) || value <= 0) throw new NervError('BAD_ARGUMENT', `dense: ${name} must be a positive integer`);
  }
  for (const [name, [array, length]] of Object.entries(arrays)) {
    if (array.length < length) throw new NervError('BAD_ARGUMENT', `dense: ${name} has ${array.length} values, needs ${length}`);
  }
}

/** y[r, o] = b[o] + sum_i x[r, i] * w[i, o] (row-major [rows, inC] . [inC, outC]). */
export function denseForwardCpu(x: Float32Array, w: Float32Array, b: Float32Array, shape: DenseShape): Float32Array {
  const { rows, inC, outC } = shape;
  check(shape, { x: [x, rows * inC], w: [w, inC * outC], b: [b, outC] });
  const y = new Float32Array(rows * outC);
  const acc = new Float64Array(outC);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outC; o++) acc[o] = b[o];
    for (let i = 0; i < inC; i++) {
      const xi = x[r * inC + i];
      const row = i * outC;
      for (let o = 0; o < outC; o++) acc[o] += xi * w[row + o];
    }
    y.set(acc, r * outC);
  }
  return y;
}

/** Gradients of a dense layer: dx = dy . w^T, dw = x^T . dy, db = column sums of dy. */
export function denseBackwardCpu(
  x: Float32Array,
  w: Float32Array,
  dy: Float32Array,
  shape: DenseShape,
): { dx: Float32Array; dw: Float32Array; db: Float32Array } {
  const { rows, inC, outC } = shape;
  check(shape, { x: [x, rows * inC], w: [w, inC * outC], dy: [dy, rows * outC] });
  const dx = new Float32Array(rows * inC);
  const dw = new Float64Array(inC * outC);
  const db = new Float64Array(outC);
  for (let r = 0; r < rows; r++) {
    const dyRow = r * outC;
    for (let o = 0; o < outC; o++) db[o] += dy[dyRow + o];
    for (let i = 0; i < inC; i++) {
      const xi = x[r * inC + i];
      const wRow = i * outC;
      let sum = 0;
      for (let o = 0; o < outC; o++) {
        const d = dy[dyRow + o];
        sum += d * w[wRow + o];
        dw[wRow + o] += xi * d;
      }
      dx[r * inC + i] = sum;
    }
  }
  return { dx, dw: Float32Array.from(dw), db: Float32Array.from(db) };
}
