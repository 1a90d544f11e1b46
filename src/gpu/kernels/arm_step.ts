// The fused context-model step (shaders/arm_step.wgsl), generated from the model's description: taps
// and layers unrolled, weights as constant-index reads of the packed parameters. CPU twin: armStepCpu
// in src/cpu/fused.ts.
import type { GpuContext, GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { invocationGrid } from './activation.ts';
import { LOG_SCALE_MAX, LOG_SCALE_MIN, type ContextSpec, type LatentGeometry } from '../../cpu/latents.ts';
import { laplaceRateSource } from './latents.ts';
import { ARM_HIDDEN_MAX, ARM_LOG_SCALE_SHIFT } from '../../nn/model.ts';
import type { ModelPlan, PackedParameters } from '../../nn/layers.ts';
import { declareOnce, gradientAccumulators, packedRange, paramRef, sumTerms as sum } from './packed.ts';

/** Latents per invocation: enough that the partial gradient records stay few, enough invocations to fill both cores. */
export const ARM_CHUNK = 128;
/** Register budget of the fused kernel (parameter-gradient accumulators and code size); larger context models use the generic kernels. */
export const ARM_STEP_MAX_PARAMETERS = 1024;
/** Taps (at most 32, validateModel) plus the two flags. */
export const ARM_STEP_MAX_INPUTS = 34;

export interface ArmStepPlan {
  frames: number;
  latents: number;
  chunks: number;
  /** vec4s per dctx row: the taps' gradients, then d rate / d latent, zero-padded. */
  dctxVec4s: number;
  /** The ARM tensors' vec4 range of the packed parameters (what the partial record holds). */
  firstVec4: number;
  vec4s: number;
}

/** The ARM tensors are contiguous in the model's tensor order (modelTensors), so one record covers them. */
export function armStepPlan(plan: ModelPlan, layout: PackedParameters, geom: LatentGeometry, spec: ContextSpec, frames: number): ArmStepPlan {
  requirePositiveIntegers('armStep', { frames, perFrame: geom.perFrame });
  const range = packedRange(layout, [...plan.arm.flatMap((l) => [l.weight, l.bias]), plan.armLinear.weight]);
  const latents = frames * geom.perFrame;
  return { frames, latents, chunks: Math.ceil(latents / ARM_CHUNK), dctxVec4s: Math.ceil((spec.taps.length + 1) / 4), ...range };
}

/** WGSL name fragment for a small signed offset: -1 -> m1. */
export const offsetName = (v: number) => (v < 0 ? `m${-v}` : `${v}`);

function tapSource(spec: ContextSpec): { gather: string; anchor: string } {
  // Bounds tests shared by the taps with the same offset; non-short-circuit '&' throughout: every
  // '&&' is a branch, and dozens of them in one loop body make SwiftShader's compiler run for
  // minutes and take gigabytes.
  const lines: string[] = [];
  const once = declareOnce(lines);
  spec.taps.forEach((tap, k) => {
    const parent = tap.from === 'parent' || tap.from === 'previous-parent';
    const [y, x, h, w, at] = parent ? ['py', 'px', 'ph', 'pw', 'pAt'] : ['iy', 'ix', 'h', 'w', 'at'];
    const rowOk = once(
      `${parent ? 'p' : ''}ry${offsetName(tap.dy)}`,
      `    let ${parent ? 'p' : ''}ry${offsetName(tap.dy)} = u32(${y} + ${tap.dy}) < u32(${h});`,
    );
    const colOk = once(
      `${parent ? 'p' : ''}rx${offsetName(tap.dx)}`,
      `    let ${parent ? 'p' : ''}rx${offsetName(tap.dx)} = u32(${x} + ${tap.dx}) < u32(${w});`,
    );
    const cond = {
      current: spec.schedule === 'checkerboard' ? '!anchor' : 'true',
      previous: '!noPrevious',
      parent: 'hasParent',
      'previous-parent': '!noPrevious & hasParent',
    }[tap.from];
    const base = { current: 'cur', previous: 'prev', parent: 'par', 'previous-parent': 'prevPar' }[tap.from];
    const index = `${base} + u32(${at} + ${tap.dy} * ${w} + ${tap.dx})`;
    lines.push(
      `    let ok${k} = (${cond}) & ${rowOk} & ${colOk};`,
      // The index is 0 (in bounds) where the tap reads nothing.
      `    let c${k} = select(0.0, yhat[select(0u, ${index}, ok${k})], ok${k});`,
    );
  });
  const T = spec.taps.length;
  lines.push(`    let c${T} = select(0.0, 1.0, anchor);`, `    let c${T + 1} = select(0.0, 1.0, noPrevious);`);
  return { gather: lines.join('\n'), anchor: spec.schedule === 'checkerboard' ? '((x + y) & 1u) == 0u' : 'false' };
}

/** Generated pieces of arm_step.wgsl for one model; `train` adds the backward pass. */
export function armStepSource(plan: ModelPlan, layout: PackedParameters, spec: ContextSpec, train: boolean, recordVec4s: number, firstVec4: number) {
  const D = plan.armInputs;
  const T = spec.taps.length;
  if (D !== T + 2) throw new NervError('BAD_ARGUMENT', `armStep: ${D} context inputs for ${T} taps`);
  const { gather, anchor } = tapSource(spec);
  const w = (tensor: number, i: number, outC: number, o: number) => paramRef(layout.offsets[tensor] + i * outC + o);
  const b = (tensor: number, o: number) => paramRef(layout.offsets[tensor] + o);
  const forward: string[] = [];
  // a{h}_i: input of layer h (a0 = the context); z{h}_o: its pre-activation.
  const input = (h: number, i: number) => (h === 0 ? `c${i}` : `a${h}_${i}`);
  plan.arm.forEach((layer, h) => {
    for (let o = 0; o < layer.outC; o++) {
      const terms = [b(layer.bias, o), ...Array.from({ length: layer.inC }, (_, i) => `${input(h, i)} * ${w(layer.weight, i, layer.outC, o)}`)];
      forward.push(`    let z${h}_${o} = ${sum(terms)};`);
      if (layer.hidden) forward.push(`    let a${h + 1}_${o} = clamp(z${h}_${o}, 0.0, ${ARM_HIDDEN_MAX}.0);`);
    }
  });
  const out = plan.arm.length - 1;
  const lin = plan.armLinear.weight;
  for (let o = 0; o < 2; o++) forward.push(`    let q${o} = ${sum(Array.from({ length: D }, (_, i) => `c${i} * ${w(lin, i, 2, o)}`))};`);
  forward.push(`    let mu = z${out}_0 + q0;`, `    let rawLog = z${out}_1 + q1 + LOG_SCALE_SHIFT;`);

  const accumulators: string[] = [];
  const backward: string[] = [];
  const store: string[] = [];
  const trainBindings: string[] = [];
  if (train) {
    trainBindings.push(
      '@group(0) @binding(5) var<uniform> rate: Rate;',
      '@group(0) @binding(6) var<storage, read_write> dctx: array<vec4f>;',
      '@group(0) @binding(7) var<storage, read_write> partial: array<vec4f>;',
    );
    const { acc, declare, store: storeAccumulators } = gradientAccumulators();
    backward.push('    let d0 = -rated.y * rate.scale;', '    let d1 = rated.z * rate.scale;');
    // Linear path: d out is shared with the MLP's output layer.
    for (let i = 0; i < D; i++) {
      for (let o = 0; o < 2; o++) backward.push(`    ${acc(layout.offsets[lin] + i * 2 + o)} += c${i} * d${o};`);
      if (i < T) backward.push(`    let el${i} = ${w(lin, i, 2, 0)} * d0 + ${w(lin, i, 2, 1)} * d1;`);
    }
    // dz{h}_o: gradient at layer h's pre-activation; the output layer's is d.
    const dz = (h: number, o: number) => (h === out ? `d${o}` : `dz${h}_${o}`);
    for (let h = out; h >= 0; h--) {
      const layer = plan.arm[h];
      for (let o = 0; o < layer.outC; o++) backward.push(`    ${acc(layout.offsets[layer.bias] + o)} += ${dz(h, o)};`);
      for (let i = 0; i < layer.inC; i++) {
        for (let o = 0; o < layer.outC; o++) backward.push(`    ${acc(layout.offsets[layer.weight] + i * layer.outC + o)} += ${input(h, i)} * ${dz(h, o)};`);
        if (h === 0 && i >= T) continue; // the flags' gradients are not needed
        const e = sum(Array.from({ length: layer.outC }, (_, o) => `${w(layer.weight, i, layer.outC, o)} * ${dz(h, o)}`));
        if (h === 0) backward.push(`    let em${i} = ${e};`);
        else backward.push(`    let dz${h - 1}_${i} = select(0.0, ${e}, (z${h - 1}_${i} > 0.0) & (z${h - 1}_${i} < ${ARM_HIDDEN_MAX}.0));`);
      }
    }
    const row = Array.from({ length: T }, (_, i) => `em${i} + el${i}`);
    row.push('-d0'); // d rate / d latent = -(d rate / d mu)
    const DV = Math.ceil((T + 1) / 4);
    while (row.length < 4 * DV) row.push('0.0');
    for (let q = 0; q < DV; q++) backward.push(`    dctx[i * ${DV}u + ${q}u] = vec4f(${row.slice(4 * q, 4 * q + 4).join(', ')});`);
    accumulators.push(declare());
    store.push(storeAccumulators({ firstVec4, vec4s: recordVec4s }));
  }
  return {
    ANCHOR: anchor,
    GATHER: gather,
    FORWARD: forward.join('\n'),
    BACKWARD: backward.join('\n'),
    ACCUMULATORS: accumulators.join('\n'),
    STORE: store.join('\n'),
    TRAIN_BINDINGS: train ? `${trainBindings.join('\n')}\noverride PARTIAL_BASE: u32;` : '',
  };
}

export interface ArmStepBuffers {
  /** Integer (or soft-rounded) latents of whole frames; the slot covers frames [first, first + frames). */
  yhat: GPUBuffer;
  params: GPUBuffer;
  levels: GPUBuffer;
  slot: GPUBuffer;
  /** lambda / pixels (training only). */
  rate: GPUBuffer;
  /** One bit count per chunk. */
  bits: GPUBuffer;
  /** Training: dctx [latents, dctxVec4s * 4] and the shared partial buffer. */
  dctx?: GPUBuffer;
  partial?: GPUBuffer;
}

/**
 * The fused ARM step over `frames` frames starting at frame `first` of yhat (first >= 1: frame
 * first - 1 is the previous frame). With `partialBase` (training) it also writes dctx and one
 * gradient record per chunk at partial[partialBase + chunk * step.vec4s].
 */
export function armStep(
  ctx: GpuContext,
  plan: ModelPlan,
  layout: PackedParameters,
  geom: LatentGeometry,
  spec: ContextSpec,
  step: ArmStepPlan,
  first: number,
  buffers: ArmStepBuffers,
  partialBase?: number,
): GpuProgram {
  const kernel = 'armStep';
  requirePositiveIntegers(kernel, { first });
  const train = partialBase !== undefined;
  requireBufferFloats(kernel, 'yhat', buffers.yhat, (first + step.frames) * geom.perFrame);
  requireBufferFloats(kernel, 'params', buffers.params, layout.floats);
  requireBufferFloats(kernel, 'bits', buffers.bits, step.chunks);
  if (layout.floats * 4 > ctx.device.limits.maxUniformBufferBindingSize)
    throw new NervError('BAD_ARGUMENT', `${kernel}: parameters exceed the uniform binding limit`);
  const bound = [buffers.yhat, buffers.params, buffers.levels, buffers.slot, buffers.bits];
  if (train) {
    if (!buffers.dctx || !buffers.partial) throw new NervError('BAD_ARGUMENT', `${kernel}: training needs dctx and partial buffers`);
    requireBufferFloats(kernel, 'dctx', buffers.dctx, step.latents * step.dctxVec4s * 4);
    requireBufferFloats(kernel, 'partial', buffers.partial, (partialBase + step.chunks * step.vec4s) * 4);
    bound.push(buffers.rate, buffers.dctx, buffers.partial);
  }
  const grid = invocationGrid(ctx, step.chunks);
  const source = armStepSource(plan, layout, spec, train, step.vec4s, step.firstVec4);
  const constants: Record<string, number> = {
    PER_FRAME: geom.perFrame,
    LEVELS: geom.levels.length,
    FRAMES: step.frames,
    CHUNK: ARM_CHUNK,
    CHUNKS: step.chunks,
    GRID_X: grid.gridX,
    LOG_SCALE_SHIFT: ARM_LOG_SCALE_SHIFT,
    LOG_SCALE_MIN,
    LOG_SCALE_MAX,
  };
  if (train) constants.PARTIAL_BASE = partialBase;
  const pipeline = ctx.pipeline('arm_step', { PARAM_VEC4S: layout.floats / 4, LAPLACE_RATE: laplaceRateSource(), ...source }, 'main', constants);
  return ctx.dispatch(pipeline, bound, grid.workgroups);
}
