import { denseForwardCpu } from '../cpu/dense.ts';
import { activationForwardCpu } from '../cpu/activation.ts';
import { conv3x3ForwardCpu } from '../cpu/conv3x3.ts';
import { upsampleLatentsCpu } from '../cpu/latents.ts';
import { ARM_HIDDEN_MAX, OUTPUT_CHANNELS, type ModelDescription } from './model.ts';
import { modelGeometry, planModel, type ModelPlan } from './layers.ts';

/**
 * The synthesis on the CPU reference kernels: one frame's latents [perFrame] in, colour [H * W, 3]
 * out (unclamped). The decoder's fallback where no WebGPU adapter exists, and the oracle the GPU
 * graph is tested against.
 */
export function synthesizeCpu(model: ModelDescription, params: Float32Array[], latents: Float32Array, plan: ModelPlan = planModel(model)): Float32Array {
  const { width: w, height: h } = model;
  let x = upsampleLatentsCpu(modelGeometry(model), latents, 1);
  for (const layer of plan.synthesis) {
    const shape = { n: 1, h, w, rows: w * h, inC: layer.inC, outC: layer.outC };
    x =
      layer.op === 'conv3'
        ? conv3x3ForwardCpu(shape, x, params[layer.weight], params[layer.bias])
        : denseForwardCpu(x, params[layer.weight], params[layer.bias], shape);
    if (layer.act !== 'none') x = activationForwardCpu(x, { count: x.length, kind: layer.act }, ARM_HIDDEN_MAX);
  }
  if (x.length !== w * h * OUTPUT_CHANNELS) throw new Error('synthesis output has the wrong size');
  return x;
}

/** The float context model on context rows [rows, inputs]: (mu, log-scale before the shift) per row, MLP and linear path summed. */
export function armForwardCpu(model: ModelDescription, params: Float32Array[], context: Float32Array, plan: ModelPlan = planModel(model)): Float32Array {
  const rows = context.length / plan.armInputs;
  let x = context;
  for (const layer of plan.arm) {
    x = denseForwardCpu(x, params[layer.weight], params[layer.bias], { rows, inC: layer.inC, outC: layer.outC });
    if (layer.hidden) x = activationForwardCpu(x, { count: x.length, kind: 'cappedRelu' }, ARM_HIDDEN_MAX);
  }
  const linear = denseForwardCpu(context, params[plan.armLinear.weight], new Float32Array(2), { rows, inC: plan.armInputs, outC: 2 });
  return x.map((v, i) => v + linear[i]);
}
