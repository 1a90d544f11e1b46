import { NervError } from '../errors.ts';

/**
 * ReLU; leaky ReLU (slope 1/16 below zero: a unit never dies, which plain ReLU units did when
 * training started from noisy latents); or ReLU capped at ARM_HIDDEN_MAX for the context model
 * (its integer twin stays in int32).
 */
export type ActivationKind = 'relu' | 'leaky' | 'cappedRelu';

export const LEAKY_SLOPE = 1 / 16;

export interface ActivationShape {
  count: number;
  kind: ActivationKind;
}

export function activationCeiling(kind: ActivationKind, cap: number): number {
  return kind === 'cappedRelu' ? cap : Infinity;
}

export function activationSlope(kind: ActivationKind): number {
  return kind === 'leaky' ? LEAKY_SLOPE : 0;
}

function check(shape: ActivationShape, arrays: ArrayLike<number>[]): void {
  if (!Number.isInteger(shape.count) || shape.count <= 0) throw new NervError('BAD_ARGUMENT', 'activation: count must be a positive integer');
  if (shape.kind !== 'relu' && shape.kind !== 'leaky' && shape.kind !== 'cappedRelu')
    throw new NervError('BAD_ARGUMENT', `activation: unknown kind ${String(shape.kind)}`);
  for (const a of arrays) if (a.length < shape.count) throw new NervError('BAD_ARGUMENT', 'activation: array shorter than count');
}

export function activationForwardCpu(x: Float32Array, shape: ActivationShape, cap: number): Float32Array {
  check(shape, [x]);
  const ceiling = activationCeiling(shape.kind, cap);
  const slope = activationSlope(shape.kind);
  const y = new Float32Array(shape.count);
  for (let i = 0; i < shape.count; i++) y[i] = x[i] < 0 ? slope * x[i] : Math.min(x[i], ceiling);
  return y;
}

/** dx = dy where 0 < x < ceiling, slope * dy where x < 0, else 0. */
export function activationBackwardCpu(x: Float32Array, dy: Float32Array, shape: ActivationShape, cap: number): Float32Array {
  check(shape, [x, dy]);
  const ceiling = activationCeiling(shape.kind, cap);
  const slope = activationSlope(shape.kind);
  const dx = new Float32Array(shape.count);
  for (let i = 0; i < shape.count; i++) dx[i] = x[i] < 0 ? slope * dy[i] : x[i] > 0 && x[i] < ceiling ? dy[i] : 0;
  return dx;
}
