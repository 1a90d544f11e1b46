import { BadArgumentError } from '../errors.ts';

/**
 * Largest symbol magnitude the entropy coder and the .nerv format accept (2^30 - 1).
 * Keeping |symbol| below 2^30 means zigzag codes and residuals fit in a positive int32,
 * so every coder loop stays in fast 32-bit integer arithmetic.
 */
export const MAX_SYMBOL = 0x3fffffff;

function checkStep(step: number): number {
  if (!Number.isFinite(step) || step <= 0) throw new BadArgumentError(`quantization step must be a finite number > 0, got ${step}`);
  const stored = Math.fround(step);
  if (!(stored > 0) || !Number.isFinite(stored)) throw new BadArgumentError(`quantization step ${step} is not representable as a positive float32`);
  return stored;
}

/**
 * Uniform scalar quantization, rounding half away from zero:
 *
 *     symbol = sign(v) * floor(|v| / step + 0.5)
 *
 * evaluated in float64 on the float32 value and the float32 step (steps are stored as float32
 * in .nerv files, so the step is rounded to float32 first). This CPU function is normative: the
 * GPU fake-quantization kernel uses the same formula in float32, which can differ from this one
 * only for values within float32 rounding of a tie; the encoder takes the final symbols from
 * this function, so encoder and decoder always agree.
 *
 * Throws BadArgumentError for a non-finite value or step, or a symbol beyond +-MAX_SYMBOL.
 */
export function quantize(values: Float32Array, step: number): Int32Array {
  const s = checkStep(step);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const magnitude = Math.floor(Math.abs(v) / s + 0.5);
    if (!(magnitude <= MAX_SYMBOL)) {
      throw new BadArgumentError(
        Number.isFinite(v)
          ? `value ${v} at index ${i} quantizes to ${magnitude} steps of ${s}, beyond the limit ${MAX_SYMBOL}: use a larger step`
          : `value at index ${i} is ${v}, cannot quantize`,
      );
    }
    out[i] = v < 0 ? -magnitude : magnitude;
  }
  return out;
}

/**
 * value = float32(float32(symbol) * float32(step)): exactly an IEEE float32 multiply, so a WGSL
 * shader computing `f32(symbol) * step` reconstructs bit-identical weights (the product of two
 * float32 numbers is exact in float64, and Math.fround then rounds once, like the GPU).
 */
export function dequantize(symbols: Int32Array, step: number): Float32Array {
  const s = checkStep(step);
  const out = new Float32Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) out[i] = Math.fround(symbols[i]) * s;
  return out;
}
