// The fused composition of a training step (about a dozen dispatches instead of ~55): the synthesis
// head and narrow 3x3 layers with the loss fused into the last, the whole context model in one
// kernel, their backward passes writing gradient records, one Adam dispatch for every network
// tensor and one for the latents. GroupGraph (graph_gpu.ts) uses it where fusedCoverage allows.
import type { GpuContext } from '../gpu/context.ts';
import type { StepKind, StepProgram } from './graph_gpu.ts';
import { ADAM_HYPER_FLOATS } from '../gpu/kernels/adam.ts';
import { adamPacked } from '../gpu/kernels/adam_packed.ts';
import { ARM_STEP_MAX_INPUTS, ARM_STEP_MAX_PARAMETERS, armStep, armStepPlan, type ArmStepPlan } from '../gpu/kernels/arm_step.ts';
import { latentQuantize, reduceSum } from '../gpu/kernels/latents.ts';
import { latentStep, rowSumLayout } from '../gpu/kernels/latent_step.ts';
import { packedRange, type GradientSource } from '../gpu/kernels/packed.ts';
import {
  convBackwardChunks,
  convLossTotal,
  convTiles,
  fusedSynthesisPlan,
  headBackwardPlan,
  synthesisConv,
  synthesisConvBackward,
  synthesisHead,
  synthesisHeadBackward,
  type FusedSynthesisPlan,
} from '../gpu/kernels/synthesis_fused.ts';
import type { ContextSpec, LatentGeometry } from '../cpu/latents.ts';
import type { ModelDescription } from './model.ts';
import { packedLayout, type ModelPlan, type PackedParameters, type SynthesisLayerPlan } from './layers.ts';

/** Whether the fused kernels cover a model, and if not, why (GroupGraph then uses the generic ones). */
export function fusedCoverage(
  model: ModelDescription,
  plan: ModelPlan,
  maxUniformBytes = 65536,
): { covered: true; synthesis: FusedSynthesisPlan } | { covered: false; reason: string } {
  const synthesis = fusedSynthesisPlan(plan);
  if (typeof synthesis === 'string') return { covered: false, reason: synthesis };
  const armParameters = plan.tensors.filter((t) => t.role === 'arm').reduce((s, t) => s + t.size, 0);
  if (armParameters > ARM_STEP_MAX_PARAMETERS) return { covered: false, reason: `the context model has more than ${ARM_STEP_MAX_PARAMETERS} parameters` };
  if (plan.armInputs > ARM_STEP_MAX_INPUTS) return { covered: false, reason: `the context model has more than ${ARM_STEP_MAX_INPUTS} inputs` };
  if (packedLayout(plan.tensors).floats * 4 > maxUniformBytes) return { covered: false, reason: 'the parameters do not fit one uniform binding' };
  if (model.levels > 12) return { covered: false, reason: 'more than 12 latent levels' };
  return { covered: true, synthesis };
}

/** Buffers of one slot of GroupGraph: frames [first, first + count) of the group. */
export interface SlotBuffers {
  first: number;
  count: number;
  /** slotWords: first, count, previous frame valid. */
  uniform: GPUBuffer;
  /** The slot's float latents (what Adam optimises) and Adam's moments for them. */
  y: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
  target: GPUBuffer;
  /** lambda / (the slot's pixels): the rate term's weight. */
  rate: GPUBuffer;
  /** [distortion, bits] of the slot's latest step. */
  stats: GPUBuffer;
}

/** Buffers shared by every slot of the group. */
export interface GroupBuffers {
  yhat: GPUBuffer;
  slope: GPUBuffer;
  quantize: GPUBuffer;
  levels: GPUBuffer;
  latentHyper: GPUBuffer;
  tensorHyper: GPUBuffer[];
}

const STAT_DISTORTION = 0;
const STAT_BITS = 1;

/** The fused step's parameters (packed), optimiser state and work buffers, sized for `maxFrames` frames. */
export class FusedGroup {
  readonly layout: PackedParameters;
  readonly params: GPUBuffer;
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;
  private readonly hyper: GPUBuffer;
  private readonly features: GPUBuffer;
  /** The head's output and each stored 3x3 layer's output (all but the last), one vec4 per pixel. */
  private readonly acts: GPUBuffer[];
  private readonly dOut: GPUBuffer;
  private readonly dxs: GPUBuffer[];
  private readonly lossPartial: GPUBuffer;
  private readonly dRows: GPUBuffer;
  private readonly dctx: GPUBuffer;
  private readonly bits: GPUBuffer;
  private readonly partial: GPUBuffer;

  constructor(
    private readonly ctx: GpuContext,
    private readonly model: ModelDescription,
    private readonly plan: ModelPlan,
    private readonly geom: LatentGeometry,
    private readonly spec: ContextSpec,
    private readonly synth: FusedSynthesisPlan,
    private readonly maxFrames: number,
  ) {
    this.layout = packedLayout(plan.tensors);
    this.params = ctx.buffer(this.layout.floats, 'packed parameters');
    this.m = ctx.buffer(this.layout.floats, 'packed adam m');
    this.v = ctx.buffer(this.layout.floats, 'packed adam v');
    this.hyper = ctx.buffer(plan.tensors.length * ADAM_HYPER_FLOATS, 'packed adam hyper');
    const pixels = maxFrames * model.width * model.height;
    this.features = ctx.buffer(pixels * synth.featureVec4s * 4, 'features');
    this.acts = [synth.head, ...synth.convs.slice(0, -1)].map(() => ctx.buffer(pixels * 4, 'synthesis activation'));
    this.dOut = ctx.buffer(pixels * 4, 'd output');
    this.dxs = synth.convs.map(() => ctx.buffer(pixels * 4, 'd 3x3 input'));
    this.lossPartial = ctx.buffer(convTiles(maxFrames, model.width, model.height), 'loss partial sums');
    this.dRows = ctx.buffer(rowSumLayout(geom, maxFrames).floats, 'd features summed along x');
    const arm = this.armPlan(maxFrames);
    this.dctx = ctx.buffer(arm.latents * arm.dctxVec4s * 4, 'd context');
    this.bits = ctx.buffer(arm.chunks, 'bits partial sums');
    const sources = this.sources(maxFrames);
    this.partial = ctx.buffer(Math.max(...sources.map((s) => s.partialBase + s.chunks * s.vec4s)) * 4, 'gradient records');
  }

  private armPlan(frames: number): ArmStepPlan {
    return armStepPlan(this.plan, this.layout, this.geom, this.spec, frames);
  }

  /**
   * Each producer's gradient records for a slot of `frames` frames: 3x3 layers last to first, the
   * head, the ARM. The bases are laid out for maxFrames, so a shorter slot's records fit as well.
   */
  private sources(frames: number): GradientSource[] {
    const producers = (f: number) => [
      ...this.synth.convs
        .map((layer) => ({ ...packedRange(this.layout, [layer.weight, layer.bias]), chunks: convBackwardChunks(f, this.model.height) }))
        .reverse(),
      headBackwardPlan(this.layout, this.synth, f, this.model.height),
      this.armPlan(f),
    ];
    let base = 0;
    const bases = producers(this.maxFrames).map((p) => {
      const at = base;
      base += p.vec4s * p.chunks;
      return at;
    });
    return producers(frames).map((p, i) => ({ firstVec4: p.firstVec4, vec4s: p.vec4s, chunks: p.chunks, partialBase: bases[i] }));
  }

  /** The step's dispatches for one slot. */
  build(slot: SlotBuffers, shared: GroupBuffers, kind: StepKind): StepProgram[] {
    const { ctx, model, geom, spec, synth, layout } = this;
    const frames = slot.count;
    const shape = { frames, width: model.width, height: model.height };
    const programs: StepProgram[] = [];
    const add = (stage: StepProgram['stage'], kernel: string, program: StepProgram['program']) => programs.push({ stage, kernel, program });
    const training = kind !== 'evaluate';
    add(
      'quantize',
      'latent_quantize',
      latentQuantize(ctx, geom, frames, { y: slot.y, settings: shared.quantize, slot: slot.uniform, yhat: shared.yhat, slope: shared.slope }, slot.first),
    );
    const index = (layer: SynthesisLayerPlan) => this.plan.synthesis.indexOf(layer);
    add(
      'synthesis forward',
      `synthesis_head (upsampling + ${synth.head.length} dense)`,
      synthesisHead(ctx, layout, geom, synth, frames, slot.first, {
        latents: shared.yhat,
        params: this.params,
        slot: slot.uniform,
        head: this.acts[0],
        ...(training ? { features: this.features } : {}),
      }),
    );
    synth.convs.slice(0, -1).forEach((layer, k) => {
      add(
        'synthesis forward',
        `syn${index(layer)} synthesis_conv ${layer.inC}->${layer.outC}`,
        synthesisConv(ctx, layout, layer, shape, { input: this.acts[k], params: this.params }, { kind: 'store', out: this.acts[k + 1] }),
      );
    });
    const last = synth.convs.at(-1)!;
    const lastInput = this.acts.at(-1)!;
    add(
      'synthesis forward',
      `syn${index(last)} synthesis_conv ${last.inC}->${last.outC} + colour loss`,
      synthesisConv(
        ctx,
        layout,
        last,
        shape,
        { input: lastInput, params: this.params },
        {
          kind: 'loss',
          colour: model.colour,
          targets: slot.target,
          grad: this.dOut,
          partial: this.lossPartial,
        },
      ),
    );
    add('loss', 'reduce_sum (loss)', convLossTotal(ctx, shape, this.lossPartial, slot.stats, STAT_DISTORTION));
    const arm = this.armPlan(frames);
    const sources = this.sources(frames);
    const armSource = sources.at(-1)!;
    const armBuffers = { yhat: shared.yhat, params: this.params, levels: shared.levels, slot: slot.uniform, rate: slot.rate, bits: this.bits };
    add(
      'context model',
      'arm_step',
      training
        ? armStep(ctx, this.plan, layout, geom, spec, arm, slot.first, { ...armBuffers, dctx: this.dctx, partial: this.partial }, armSource.partialBase)
        : armStep(ctx, this.plan, layout, geom, spec, arm, slot.first, armBuffers),
    );
    add('context model', 'reduce_sum (bits)', reduceSum(ctx, this.bits, arm.chunks, slot.stats, STAT_BITS, 1));
    if (!training) return programs;
    synth.convs
      .map((layer, k) => ({ layer, k }))
      .reverse()
      .forEach(({ layer, k }, r) => {
        const producer = k === 0 ? synth.head.at(-1)! : synth.convs[k - 1];
        add(
          'synthesis backward',
          `syn${index(layer)} synthesis_conv_backward ${layer.inC}->${layer.outC}`,
          synthesisConvBackward(
            ctx,
            layout,
            layer,
            shape,
            producer.act,
            {
              dy: k === synth.convs.length - 1 ? this.dOut : this.dxs[k + 1],
              input: this.acts[k],
              params: this.params,
              dx: this.dxs[k],
              partial: this.partial,
            },
            sources[r].partialBase,
          ),
        );
      });
    add(
      'synthesis backward',
      'synthesis_head_backward',
      synthesisHeadBackward(
        ctx,
        layout,
        geom,
        synth,
        frames,
        {
          dHead: this.dxs[0],
          features: this.features,
          params: this.params,
          dRows: this.dRows,
          partial: this.partial,
        },
        sources[synth.convs.length].partialBase,
      ),
    );
    add(
      'adam (networks)',
      'adam_packed',
      adamPacked(ctx, layout, sources, {
        partial: this.partial,
        hyper: this.hyper,
        param: this.params,
        m: this.m,
        v: this.v,
        tensorHyper: shared.tensorHyper,
      }),
    );
    if (kind === 'train') {
      add(
        'latent gradient',
        'latent_step (+ adam)',
        latentStep(ctx, geom, spec, frames, {
          dRows: this.dRows,
          dctx: this.dctx,
          slope: shared.slope,
          hyper: shared.latentHyper,
          y: slot.y,
          m: slot.m,
          v: slot.v,
        }),
      );
    }
    return programs;
  }
}

/** Decoding with the fused forward kernels: one frame's latents in, colour [H * W, 3] out. */
export class FusedRenderer {
  readonly layout: PackedParameters;
  readonly params: GPUBuffer;
  readonly output: GPUBuffer;
  private readonly acts: GPUBuffer[];

  constructor(
    private readonly ctx: GpuContext,
    private readonly model: ModelDescription,
    plan: ModelPlan,
    private readonly geom: LatentGeometry,
    private readonly synth: FusedSynthesisPlan,
  ) {
    this.layout = packedLayout(plan.tensors);
    this.params = ctx.buffer(this.layout.floats, 'packed parameters');
    const pixels = model.width * model.height;
    this.acts = [synth.head, ...synth.convs.slice(0, -1)].map(() => ctx.buffer(pixels * 4, 'synthesis activation'));
    this.output = ctx.buffer(pixels * 3, 'synthesis output');
  }

  /** Programs rendering frame `first` of `latents` (with `slot` naming that frame). */
  programs(latents: GPUBuffer, slot: GPUBuffer, first: number) {
    const { ctx, layout, synth } = this;
    const shape = { frames: 1, width: this.model.width, height: this.model.height };
    const programs = [synthesisHead(ctx, layout, this.geom, synth, 1, first, { latents, params: this.params, slot, head: this.acts[0] })];
    synth.convs.forEach((layer, k) => {
      const last = k === synth.convs.length - 1;
      programs.push(
        synthesisConv(
          ctx,
          layout,
          layer,
          shape,
          { input: this.acts[k], params: this.params },
          last ? { kind: 'output', out: this.output } : { kind: 'store', out: this.acts[k + 1] },
        ),
      );
    });
    return programs;
  }
}
