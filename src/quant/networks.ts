import { NervFormatError } from '../errors.ts';
import { dequantize, quantize } from './quantize.ts';
import { ARM_MAX_STEP_SHIFT, ARM_WEIGHT_LIMIT, type QuantizedArmTensor } from '../entropy/latents.ts';
import type { TensorSpec } from '../nn/model.ts';
import type { QuantizedTensor } from '../format/nerv.ts';

/**
 * Network tensors are quantized with one step per tensor. Context-model steps are powers of two
 * 2^-s with 0 <= s <= 8, so its weights are exact in the 8-fractional-bit fixed point, and its
 * weights are clipped to +-ARM_WEIGHT_LIMIT first (the int32 bound of docs/model.md).
 */
export function quantizeTensor(spec: TensorSpec, values: Float32Array, step: number): QuantizedTensor {
  if (spec.role === 'arm') {
    armShiftOf(step);
    const limit = ARM_WEIGHT_LIMIT - step;
    const clipped = values.map((v) => Math.min(limit, Math.max(-limit, v)));
    return { symbols: quantize(clipped, step), step };
  }
  return { symbols: quantize(values, step), step };
}

export function dequantizeTensors(tensors: QuantizedTensor[]): Float32Array[] {
  return tensors.map((t) => dequantize(t.symbols, t.step));
}

/** s for a context-model step 2^-s; anything else is not a valid context-model step. */
export function armShiftOf(step: number): number {
  const shift = -Math.log2(step);
  if (!Number.isInteger(shift) || shift < 0 || shift > ARM_MAX_STEP_SHIFT) {
    throw new NervFormatError('chunk', `context model step ${step} is not 2^-s with 0 <= s <= ${ARM_MAX_STEP_SHIFT}`);
  }
  return shift;
}

/** The context model's tensors as the fixed-point coder takes them (undefined for synthesis tensors). */
export function armTensorsOf(specs: TensorSpec[], tensors: QuantizedTensor[]): (QuantizedArmTensor | undefined)[] {
  return specs.map((spec, i) => (spec.role === 'arm' ? { symbols: tensors[i].symbols, shift: armShiftOf(tensors[i].step) } : undefined));
}
