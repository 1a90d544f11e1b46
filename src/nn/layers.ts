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

/**
 * Every network tensor in one buffer, each starting on a vec4 boundary: fused kernels bind the whole
 * set as one uniform (the default model's 565 floats), and one Adam dispatch updates them all.
 */
export interface PackedParameters {
  /** Float offset of each tensor (multiples of 4), in the model's tensor order. */
  offsets: number[];
  sizes: number[];
  /** Total floats, a multiple of 4. */
  floats: number;
}

export function packedLayout(tensors: TensorSpec[]): PackedParameters {
  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    offsets.push(at);
    at += Math.ceil(t.size / 4) * 4;
  }
  return { offsets, sizes: tensors.map((t) => t.size), floats: Math.max(4, at) };
}

export function packParameters(layout: PackedParameters, values: Float32Array[]): Float32Array {
  if (values.length !== layout.sizes.length) throw new Error(`expected ${layout.sizes.length} tensors, got ${values.length}`);
  const packed = new Float32Array(layout.floats);
  values.forEach((v, i) => {
    if (v.length !== layout.sizes[i]) throw new Error(`tensor ${i} has ${v.length} values, the model ${layout.sizes[i]}`);
    packed.set(v, layout.offsets[i]);
  });
  return packed;
}

export function unpackParameters(layout: PackedParameters, packed: Float32Array): Float32Array[] {
  return layout.offsets.map((offset, i) => packed.slice(offset, offset + layout.sizes[i]));
}
