import { NervError } from '../../errors.ts';

/** Throws BAD_ARGUMENT unless every value is a positive integer (sizes become shader constants). */
export function requirePositiveIntegers(kernel: string, values: Record<string, number>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new NervError('BAD_ARGUMENT', `${kernel}: ${name} must be a positive integer, got ${value}`);
    }
  }
}

/** Throws BAD_ARGUMENT unless `value` is an integer >= 0. */
export function requireNonNegativeInteger(kernel: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new NervError('BAD_ARGUMENT', `${kernel}: ${name} must be a non-negative integer, got ${value}`);
  }
}

/** Robustness is off on Dawn, so a buffer smaller than the shader's index range would corrupt memory. */
export function requireBufferFloats(kernel: string, name: string, buffer: GPUBuffer, floats: number): void {
  if (!buffer || buffer.size < floats * 4) {
    throw new NervError('BAD_ARGUMENT', `${kernel}: buffer ${name} holds ${buffer ? buffer.size : 0} bytes, needs ${floats * 4}`);
  }
}

/** WGSL f32 literal for a JS number, exact after rounding to f32 (so CPU twins can use Math.fround). */
export function f32Literal(value: number): string {
  const f = Math.fround(value);
  if (!Number.isFinite(f)) throw new NervError('BAD_ARGUMENT', `not a finite f32: ${value}`);
  const text = String(f);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}
