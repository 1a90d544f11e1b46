import { latentGeometry, type ContextSpec, type LatentGeometry } from '../cpu/latents.ts';
import { armInputCount, latentLevels, modelTensors, type LayerActivation, type ModelDescription, type TensorSpec } from './model.ts';

/**
 * The model's layers with their sizes and tensor indices, derived from the description once so the
 * GPU graph, the CPU forward pass and the fixed-point entropy model walk the same list.
 */
export interface SynthesisLayerPlan {
  op: 'dense' | 'conv3';
  inC: number;
  outC: number;
  act: LayerActivation;
  weight: number;
  bias: number;
}

export interface ArmLayerPlan {
  inC: number;
  outC: number;
  /** Hidden layers use the capped ReLU; the output layer none. */
  hidden: boolean;
  weight: number;
  bias: number;
}

export interface ModelPlan {
  tensors: TensorSpec[];
  synthesis: SynthesisLayerPlan[];
  /** Hidden layers then the output layer (2 outputs: mu and log-scale). */
  arm: ArmLayerPlan[];
  /** The linear path from the context to the two outputs (no bias: the output layer's holds it). */
  armLinear: { inC: number; weight: number };
  armInputs: number;
}

export function planModel(model: ModelDescription): ModelPlan {
  const tensors = modelTensors(model);
  const index = (name: string) => {
    const i = tensors.findIndex((t) => t.name === name);
    if (i < 0) throw new Error(`model has no tensor ${name}`);
    return i;
  };
  let inC = model.levels;
  const synthesis = model.synthesis.map((layer, i) => {
    const plan = { op: layer.op, inC, outC: layer.out, act: layer.act, weight: index(`syn${i}.weight`), bias: index(`syn${i}.bias`) };
    inC = layer.out;
    return plan;
  });
  const armInputs = armInputCount(model);
  let armIn = armInputs;
  const arm: ArmLayerPlan[] = model.arm.hidden.map((width, i) => {
    const plan = { inC: armIn, outC: width, hidden: true, weight: index(`arm${i}.weight`), bias: index(`arm${i}.bias`) };
    armIn = width;
    return plan;
  });
  arm.push({ inC: armIn, outC: 2, hidden: false, weight: index('arm.out.weight'), bias: index('arm.out.bias') });
  return { tensors, synthesis, arm, armLinear: { inC: armInputs, weight: index('arm.linear.weight') }, armInputs };
}

export function modelGeometry(model: ModelDescription): LatentGeometry {
  return latentGeometry(model.width, model.height, latentLevels(model));
}

export function contextSpec(model: ModelDescription): ContextSpec {
  return { taps: model.arm.taps, schedule: model.arm.schedule };
}
