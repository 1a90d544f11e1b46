import type { ExecutionContext } from 'ava';

/**
 * Checks an analytic gradient against central finite differences of a scalar loss.
 * `loss(x)` must evaluate the forward pass on a copy of x; `indices` picks which inputs to probe
 * (probing all is too slow for big tensors). Returns the worst relative error found.
 */
export function finiteDifferenceError(
  loss: (x: Float32Array) => number,
  x: Float32Array,
  analytic: ArrayLike<number>,
  indices: number[],
  epsilon = 1e-2,
): number {
  let worst = 0;
  const probe = Float32Array.from(x);
  for (const i of indices) {
    const saved = probe[i];
    probe[i] = saved + epsilon;
    const up = loss(probe);
    probe[i] = saved - epsilon;
    const down = loss(probe);
    probe[i] = saved;
    const numeric = (up - down) / (2 * epsilon);
    const error = Math.abs(numeric - analytic[i]) / Math.max(1e-2, Math.abs(numeric) + Math.abs(analytic[i]));
    if (!(error <= worst)) worst = Number.isNaN(error) ? Infinity : error;
  }
  return worst;
}

/** Evenly spread probe indices over [0, length), always including both ends. */
export function probeIndices(length: number, count = 24): number[] {
  if (length <= count) return Array.from({ length }, (_, i) => i);
  return Array.from({ length: count }, (_, k) => Math.round((k * (length - 1)) / (count - 1)));
}

/** sum(y * weights) in float64: the scalar whose gradient with respect to y is `weights`. */
export function dot(y: ArrayLike<number>, weights: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += y[i] * weights[i];
  return sum;
}

export function assertClose(t: ExecutionContext, error: number, tolerance: number, what: string): void {
  t.true(error <= tolerance, `${what}: error ${error.toExponential(2)} > ${tolerance}`);
}
