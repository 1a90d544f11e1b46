import { type MseShape, validateMseShape } from '../gpu/kernels/mse.ts';
import { NervError } from '../errors.ts';

/** Masked MSE on a padded batch: the loss over the valid region and its gradient (0 in the padding). */
export function mseLossCpu(pred: Float32Array, target: Float32Array, shape: MseShape): { loss: number; grad: Float32Array } {
  validateMseShape('mseLossCpu', shape);
  const { frames, paddedHeight, paddedWidth, channels, validHeight, validWidth } = shape;
  const total = frames * paddedHeight * paddedWidth * channels;
  if (pred.length < total || target.length < total) throw new NervError('BAD_ARGUMENT', 'mseLossCpu: arrays shorter than the shape');
  const validCount = frames * validHeight * validWidth * channels;
  const scale = Math.fround(2 / validCount);
  const grad = new Float32Array(total);
  let sum = 0;
  for (let f = 0; f < frames; f++) {
    for (let h = 0; h < validHeight; h++) {
      const start = ((f * paddedHeight + h) * paddedWidth) * channels;
      for (let e = start; e < start + validWidth * channels; e++) {
        const d = Math.fround(pred[e] - target[e]);
        grad[e] = d * scale;
        sum += d * d;
      }
    }
  }
  return { loss: sum / validCount, grad };
}
