import { NervError } from '../errors.ts';

/** One AdamW step in place (same rule as shaders/adam.wgsl, in f32); hyper as built by adamHyper. */
export function adamStepCpu(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, hyper: Float32Array): void {
  const count = param.length;
  if (grad.length < count || m.length < count || v.length < count || hyper.length < 8) {
    throw new NervError('BAD_ARGUMENT', 'adamStepCpu: arrays shorter than param');
  }
  const [lr, beta1, beta2, epsilon, correction1, correction2, weightDecay, gradScale] = hyper;
  for (let i = 0; i < count; i++) {
    const g = grad[i] * gradScale;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const update = (m[i] * correction1) / (Math.sqrt(v[i] * correction2) + epsilon) + weightDecay * param[i];
    param[i] = param[i] - lr * update;
  }
}
