// CPU twins of the fused training kernels (src/gpu/kernels/arm_step.ts, synthesis_fused.ts,
// latent_step.ts, adam_packed.ts), composed from the reference ops so each fused kernel is checked
// against the same arithmetic as the generic composition it replaces.
import { NervError } from '../errors.ts';
import { denseBackwardCpu, denseForwardCpu } from './dense.ts';
import { activationBackwardCpu, activationForwardCpu, LEAKY_SLOPE } from './activation.ts';
import { adamStepCpu } from './adam.ts';
import { conv3x3BackwardInputCpu, conv3x3BackwardParamsCpu, conv3x3ForwardCpu } from './conv3x3.ts';
import {
  armContextBackwardCpu,
  armContextCpu,
  latentAxisTap,
  latentRateCpu,
  upsampleLatentsBackwardCpu,
  upsampleLatentsCpu,
  type ContextSpec,
  type LatentGeometry,
} from './latents.ts';
import { ARM_HIDDEN_MAX, type LayerActivation } from '../nn/model.ts';
import type { ModelPlan } from '../nn/layers.ts';

export interface ArmStepResult {
  bits: number;
  /** Gradient of lambda/pixels * bits with respect to each context value, [latents, taps + 2] (the flags' columns too). */
  dctx: Float32Array;
  /** ... and to each latent's own value (its rate). */
  dRate: Float32Array;
  /** Gradients of the ARM tensors, by tensor index (others absent). */
  grads: Map<number, Float32Array>;
}

/**
 * What arm_step computes for frames [first, first + count) of `latents` (whole frames, frame
 * first - 1 the previous one): context rows, the MLP and linear path, the rate scaled by `scale`,
 * and the backward pass to the context values and the ARM's parameters.
 */
export function armStepCpu(
  plan: ModelPlan,
  params: Float32Array[],
  geom: LatentGeometry,
  spec: ContextSpec,
  latents: Float32Array,
  first: number,
  count: number,
  previousValid: boolean,
  scale: number,
): ArmStepResult {
  const D = plan.armInputs;
  const rows = count * geom.perFrame;
  const context = armContextCpu(geom, spec, latents, first, count, previousValid);
  const pre: Float32Array[] = [];
  const inputs: Float32Array[] = [context];
  let x = context;
  for (const layer of plan.arm) {
    const z = denseForwardCpu(x, params[layer.weight], params[layer.bias], { rows, inC: layer.inC, outC: layer.outC });
    pre.push(z);
    x = layer.hidden ? activationForwardCpu(z, { count: z.length, kind: 'cappedRelu' }, ARM_HIDDEN_MAX) : z;
    inputs.push(x);
  }
  const linearShape = { rows, inC: D, outC: 2 };
  const linear = denseForwardCpu(context, params[plan.armLinear.weight], new Float32Array(2), linearShape);
  const yhat = latents.subarray(first * geom.perFrame, (first + count) * geom.perFrame);
  const rate = latentRateCpu(yhat, x, linear, scale);
  const grads = new Map<number, Float32Array>();
  const linearBack = denseBackwardCpu(context, params[plan.armLinear.weight], rate.dOut, linearShape);
  grads.set(plan.armLinear.weight, linearBack.dw);
  let d = rate.dOut;
  let dctx = new Float32Array(0);
  for (let h = plan.arm.length - 1; h >= 0; h--) {
    const layer = plan.arm[h];
    const back = denseBackwardCpu(inputs[h], params[layer.weight], d, { rows, inC: layer.inC, outC: layer.outC });
    grads.set(layer.weight, back.dw);
    grads.set(layer.bias, back.db);
    if (h > 0) d = activationBackwardCpu(pre[h - 1], back.dx, { count: back.dx.length, kind: 'cappedRelu' }, ARM_HIDDEN_MAX);
    else dctx = back.dx.map((v, i) => v + linearBack.dx[i]);
  }
  return { bits: rate.bits, dctx, dRate: rate.dyhat, grads };
}

/** The latents' gradient from arm_step's outputs alone (no distortion): what the context sends back plus each latent's own rate. */
export function armLatentGradientCpu(
  geom: LatentGeometry,
  spec: ContextSpec,
  result: ArmStepResult,
  first: number,
  count: number,
  previousValid: boolean,
): Float32Array {
  const fromContext = armContextBackwardCpu(geom, spec, result.dctx, first, count, previousValid);
  return fromContext.map((v, i) => v + result.dRate[i]);
}

/** Sums gradient records [chunks, vec4s * 4] in chunk order (what adam_packed does before its update). */
export function sumRecordsCpu(partial: Float32Array, base: number, chunks: number, floats: number): Float32Array {
  if (partial.length < base + chunks * floats) throw new NervError('BAD_ARGUMENT', 'sumRecords: partial buffer too short');
  const out = new Float32Array(floats);
  for (let c = 0; c < chunks; c++) for (let e = 0; e < floats; e++) out[e] += partial[base + c * floats + e];
  return out;
}

/**
 * What latent_step computes: the latents' gradient, (upsampling backward of dFeatures [frames, H, W,
 * L] + the context's gradient + the own rate) * slope, then Adam on y, m, v in place. Returns the gradient.
 */
export function latentStepCpu(
  geom: LatentGeometry,
  spec: ContextSpec,
  frames: number,
  inputs: { dFeatures: Float32Array; dctx: Float32Array; dRate: Float32Array; slope: Float32Array },
  state: { y: Float32Array; m: Float32Array; v: Float32Array; hyper: Float32Array },
): Float32Array {
  const distortion = upsampleLatentsBackwardCpu(geom, inputs.dFeatures, frames);
  // The slot starts at frame 1 of a buffer whose frame 0 is outside it (its previous frame).
  const context = armContextBackwardCpu(geom, spec, inputs.dctx, 1, frames, true);
  const grad = distortion.map((d, i) => (d + inputs.dRate[i] + context[i]) * inputs.slope[i]);
  adamStepCpu(state.y, grad, state.m, state.v, state.hyper);
  return grad;
}

/**
 * dFeatures [frames, H, W, L] summed along x through the upsampling, as synthesis_head_backward
 * writes it: per level, [frames * H rows][level width], each latent column weighted as
 * upsampleLatentsBackwardCpu weighs it.
 */
export function rowSumsCpu(geom: LatentGeometry, frames: number, dFeatures: Float32Array): Float32Array {
  const { width: W, height: H } = geom;
  const L = geom.levels.length;
  const bases: number[] = [];
  let total = 0;
  for (const level of geom.levels) {
    bases.push(total);
    total += frames * H * level.width;
  }
  const out = new Float64Array(total);
  geom.levels.forEach((level, l) => {
    for (let x = 0; x < W; x++) {
      const tap = latentAxisTap(x, level.stride, level.width);
      for (let r = 0; r < frames * H; r++) {
        const d = dFeatures[(r * W + x) * L + l];
        out[bases[l] + r * level.width + tap.i0] += d * (1 - tap.f);
        out[bases[l] + r * level.width + tap.i1] += d * tap.f;
      }
    }
  });
  return Float32Array.from(out);
}

/** The first `channels` of each vec4 of a vec4-per-pixel layout. */
export function fromVec4Pixels(values: Float32Array, channels: number): Float32Array {
  const pixels = values.length / 4;
  const out = new Float32Array(pixels * channels);
  for (let p = 0; p < pixels; p++) for (let c = 0; c < channels; c++) out[p * channels + c] = values[4 * p + c];
  return out;
}

interface DenseLayer {
  inC: number;
  outC: number;
  act: LayerActivation;
  weight: number;
  bias: number;
}

/** synthesis_head: the upsampled latents of frames [first, first + frames) and the dense layers on them. */
export function synthesisHeadCpu(
  head: DenseLayer[],
  params: Float32Array[],
  geom: LatentGeometry,
  latents: Float32Array,
  first: number,
  frames: number,
): { features: Float32Array; out: Float32Array } {
  const features = upsampleLatentsCpu(geom, latents.subarray(first * geom.perFrame), frames);
  const rows = frames * geom.width * geom.height;
  let x = features;
  for (const layer of head) {
    x = denseForwardCpu(x, params[layer.weight], params[layer.bias], { rows, inC: layer.inC, outC: layer.outC });
    if (layer.act !== 'none') x = activationForwardCpu(x, { count: x.length, kind: layer.act }, Infinity);
  }
  return { features, out: x };
}

/** Backward of synthesis_head from d loss / d the last layer's pre-activation: d features [pixels, L] and the layers' gradients. */
export function synthesisHeadBackwardCpu(
  head: DenseLayer[],
  params: Float32Array[],
  features: Float32Array,
  dHead: Float32Array,
): { dFeatures: Float32Array; grads: Map<number, Float32Array> } {
  const rows = features.length / head[0].inC;
  const inputs = [features];
  const pre: Float32Array[] = [];
  for (const layer of head) {
    const z = denseForwardCpu(inputs.at(-1)!, params[layer.weight], params[layer.bias], { rows, inC: layer.inC, outC: layer.outC });
    pre.push(z);
    inputs.push(layer.act !== 'none' ? activationForwardCpu(z, { count: z.length, kind: layer.act }, Infinity) : z);
  }
  const grads = new Map<number, Float32Array>();
  let d = dHead;
  for (let k = head.length - 1; k >= 0; k--) {
    const layer = head[k];
    const back = denseBackwardCpu(inputs[k], params[layer.weight], d, { rows, inC: layer.inC, outC: layer.outC });
    grads.set(layer.weight, back.dw);
    grads.set(layer.bias, back.db);
    const act = k > 0 ? head[k - 1].act : 'none';
    d = act !== 'none' ? activationBackwardCpu(pre[k - 1], back.dx, { count: back.dx.length, kind: act }, Infinity) : back.dx;
  }
  return { dFeatures: d, grads };
}

/** synthesis_conv: one 3x3 layer and its activation on [pixels, inC]. */
export function synthesisConvCpu(
  layer: DenseLayer,
  params: Float32Array[],
  shape: { frames: number; width: number; height: number },
  input: Float32Array,
): Float32Array {
  const y = conv3x3ForwardCpu(
    { n: shape.frames, h: shape.height, w: shape.width, inC: layer.inC, outC: layer.outC },
    input,
    params[layer.weight],
    params[layer.bias],
  );
  return layer.act !== 'none' ? activationForwardCpu(y, { count: y.length, kind: layer.act }, Infinity) : y;
}

/**
 * synthesis_conv_backward: from dy (d loss / d the layer's pre-activation) and the layer's input
 * [pixels, inC], dx through the activation that produced the input (its sign is its
 * pre-activation's), and the layer's gradients.
 */
export function synthesisConvBackwardCpu(
  layer: DenseLayer,
  params: Float32Array[],
  shape: { frames: number; width: number; height: number },
  input: Float32Array,
  dy: Float32Array,
  inputAct: LayerActivation,
): { dx: Float32Array; dw: Float32Array; db: Float32Array } {
  const conv = { n: shape.frames, h: shape.height, w: shape.width, inC: layer.inC, outC: layer.outC };
  const dx = conv3x3BackwardInputCpu(conv, dy, params[layer.weight]);
  const slope = inputAct === 'leaky' ? LEAKY_SLOPE : 0;
  const masked = inputAct !== 'none' ? dx.map((v, i) => (input[i] > 0 ? v : slope * v)) : dx;
  return { dx: masked, ...conv3x3BackwardParamsCpu(conv, input, dy) };
}

/** adam_packed: the packed tensors' gradient summed from the records of each source, then Adam per tensor (its own hyper block). */
export function adamPackedCpu(
  layout: { offsets: number[]; sizes: number[]; floats: number },
  sources: { firstVec4: number; vec4s: number; partialBase: number; chunks: number }[],
  partial: Float32Array,
  state: { param: Float32Array; m: Float32Array; v: Float32Array },
  hyper: Float32Array[],
): Float32Array {
  const grad = new Float32Array(layout.floats);
  for (const s of sources) grad.set(sumRecordsCpu(partial, s.partialBase * 4, s.chunks, s.vec4s * 4), s.firstVec4 * 4);
  layout.offsets.forEach((offset, i) => {
    const end = i + 1 < layout.offsets.length ? layout.offsets[i + 1] : layout.floats;
    const slice = (a: Float32Array) => a.subarray(offset, end);
    adamStepCpu(slice(state.param), slice(grad), slice(state.m), slice(state.v), hyper[i]);
  });
  return grad;
}
