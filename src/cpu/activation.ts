import type { ActivationShape } from '../gpu/kernels/activation.ts';
import { DEFAULT_OMEGA } from '../gpu/kernels/activation.ts';
import { NervError } from '../errors.ts';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function check(shape: ActivationShape, arrays: ArrayLike<number>[]): number {
  if (!Number.isInteger(shape.count) || shape.count <= 0) throw new NervError('BAD_ARGUMENT', 'activation: count must be a positive integer');
  for (const a of arrays) if (a.length < shape.count) throw new NervError('BAD_ARGUMENT', 'activation: array shorter than count');
  return Math.fround(shape.omega ?? DEFAULT_OMEGA);
}

/** GELU (tanh approximation), SiLU or sin(omega x), elementwise. */
export function activationForwardCpu(x: Float32Array, shape: ActivationShape): Float32Array {
  const omega = check(shape, [x]);
  const y = new Float32Array(shape.count);
  for (let i = 0; i < shape.count; i++) {
    const v = x[i];
    if (shape.kind === 'gelu') y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_A * v * v * v)));
    else if (shape.kind === 'silu') y[i] = v / (1 + Math.exp(-v));
    else y[i] = Math.sin(omega * v);
  }
  return y;
}

/** dx = dy * f'(x). */
export function activationBackwardCpu(x: Float32Array, dy: Float32Array, shape: ActivationShape): Float32Array {
  const omega = check(shape, [x, dy]);
  const dx = new Float32Array(shape.count);
  for (let i = 0; i < shape.count; i++) {
    const v = x[i];
    let d: number;
    if (shape.kind === 'gelu') {
      const t = Math.tanh(GELU_C * (v + GELU_A * v * v * v));
      d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * v * v);
    } else if (shape.kind === 'silu') {
      const s = 1 / (1 + Math.exp(-v));
      d = s * (1 + v * (1 - s));
    } else {
      d = omega * Math.cos(omega * v);
    }
    dx[i] = dy[i] * d;
  }
  return dx;
}
