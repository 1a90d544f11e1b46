import type { GpuContext, GpuProgram } from '../gpu/context.ts';
import { denseForward, denseBackwardInput, denseBackwardParams } from '../gpu/kernels/dense.ts';
import { activationForward, activationBackward } from '../gpu/kernels/activation.ts';
import { conv3x3Forward, conv3x3BackwardInput, conv3x3BackwardParams } from '../gpu/kernels/conv3x3.ts';
import { adamStep } from '../gpu/kernels/adam.ts';
import {
  armContext,
  colourLoss,
  latentGradient,
  latentQuantize,
  latentRate,
  latentUpsample,
  latentUpsampleBackward,
  levelsUniform,
  quantizeWords,
  slotWords,
  tapsUniform,
  targetFloatsPerFrame,
} from '../gpu/kernels/latents.ts';
import type { ContextSpec, LatentGeometry, QuantizeSettings } from '../cpu/latents.ts';
import { OUTPUT_CHANNELS, type ModelDescription } from './model.ts';
import { contextSpec, modelGeometry, packParameters, planModel, unpackParameters, type ModelPlan } from './layers.ts';
import { FusedGroup, FusedRenderer, fusedCoverage, type SlotBuffers } from './graph_fused.ts';
import { NervError } from '../errors.ts';

/** A program with the name of its kernel, so benchmarks can time a step piece by piece. */
export interface LabeledProgram {
  kernel: string;
  program: GpuProgram;
}

/** The parts of a training step, the same for every composition of kernels (bench/kernels.ts --step). */
export type StepStage = 'quantize' | 'synthesis forward' | 'loss' | 'context model' | 'synthesis backward' | 'latent gradient' | 'adam (networks)';

export interface StepProgram extends LabeledProgram {
  stage: StepStage;
}

export type StepKind = 'train' | 'train-networks' | 'evaluate';

export interface GroupGraphOptions {
  /**
   * 'generic': one dispatch per layer and op (the reference composition); 'fused': the fused
   * kernels, which cover the model shapes listed in fusedCoverage; 'auto' (default): fused where
   * covered, else generic.
   */
  kernels?: 'auto' | 'fused' | 'generic';
}

/**
 * The synthesis network over `frames` frames of features [frames * H * W, levels]: forward into
 * `output` [pixels, 3], and (when training) backward into parameter gradients and dFeatures.
 */
export class SynthesisGraph {
  readonly pixels: number;
  readonly features: GPUBuffer;
  readonly output: GPUBuffer;
  private readonly pre: GPUBuffer[];
  private readonly post: GPUBuffer[];
  private readonly dPre: GPUBuffer[] = [];
  private readonly dPost: GPUBuffer[] = [];
  readonly dFeatures?: GPUBuffer;

  constructor(
    private readonly ctx: GpuContext,
    private readonly model: ModelDescription,
    private readonly plan: ModelPlan,
    readonly frames: number,
    training: boolean,
  ) {
    this.pixels = frames * model.width * model.height;
    this.features = ctx.buffer(this.pixels * model.levels, 'features');
    this.pre = plan.synthesis.map((l) => ctx.buffer(this.pixels * l.outC, 'synthesis pre-activation'));
    this.post = plan.synthesis.map((l, i) => (l.act === 'none' ? this.pre[i] : ctx.buffer(this.pixels * l.outC, 'synthesis activation')));
    this.output = this.post.at(-1)!;
    if (training) {
      for (const l of plan.synthesis) {
        const dPre = ctx.buffer(this.pixels * l.outC, 'synthesis d pre-activation');
        this.dPre.push(dPre);
        this.dPost.push(l.act === 'none' ? dPre : ctx.buffer(this.pixels * l.outC, 'synthesis d activation'));
      }
      this.dFeatures = ctx.buffer(this.pixels * model.levels, 'd features');
    }
  }

  /** d loss / d output: the loss kernel writes here. */
  get dOutput(): GPUBuffer {
    return this.dPost.at(-1)!;
  }

  private shape(i: number) {
    const l = this.plan.synthesis[i];
    return { n: this.frames, h: this.model.height, w: this.model.width, rows: this.pixels, inC: l.inC, outC: l.outC };
  }

  forward(weights: GPUBuffer[]): LabeledProgram[] {
    const programs: LabeledProgram[] = [];
    let input = this.features;
    this.plan.synthesis.forEach((layer, i) => {
      const shape = this.shape(i);
      const buffers = { x: input, w: weights[layer.weight], b: weights[layer.bias], y: this.pre[i] };
      const name = `syn${i} ${layer.op === 'conv3' ? `conv3x3 ${layer.inC}->${layer.outC}` : `dense ${layer.inC}->${layer.outC}`}`;
      programs.push({
        kernel: `${name} forward`,
        program: layer.op === 'conv3' ? conv3x3Forward(this.ctx, shape, buffers) : denseForward(this.ctx, shape, buffers),
      });
      if (layer.act !== 'none') {
        programs.push({
          kernel: `syn${i} ${layer.act} forward`,
          program: activationForward(this.ctx, { count: this.pixels * layer.outC, kind: layer.act }, { x: this.pre[i], y: this.post[i] }),
        });
      }
      input = this.post[i];
    });
    return programs;
  }

  backward(weights: GPUBuffer[], grads: GPUBuffer[]): LabeledProgram[] {
    const programs: LabeledProgram[] = [];
    for (let i = this.plan.synthesis.length - 1; i >= 0; i--) {
      const layer = this.plan.synthesis[i];
      const shape = this.shape(i);
      if (layer.act !== 'none') {
        programs.push({
          kernel: `syn${i} ${layer.act} backward`,
          program: activationBackward(this.ctx, { count: this.pixels * layer.outC, kind: layer.act }, { x: this.pre[i], dy: this.dPost[i], dx: this.dPre[i] }),
        });
      }
      const input = i === 0 ? this.features : this.post[i - 1];
      const dInput = i === 0 ? this.dFeatures! : this.dPost[i - 1];
      const params = { x: input, dy: this.dPre[i], dw: grads[layer.weight], db: grads[layer.bias] };
      const back = { dy: this.dPre[i], w: weights[layer.weight], dx: dInput };
      const name = `syn${i} ${layer.op === 'conv3' ? `conv3x3 ${layer.inC}->${layer.outC}` : `dense ${layer.inC}->${layer.outC}`}`;
      if (layer.op === 'conv3') {
        programs.push(
          { kernel: `${name} backward params`, program: conv3x3BackwardParams(this.ctx, shape, params) },
          { kernel: `${name} backward input`, program: conv3x3BackwardInput(this.ctx, shape, back) },
        );
      } else {
        programs.push(
          { kernel: `${name} backward params`, program: denseBackwardParams(this.ctx, shape, params) },
          { kernel: `${name} backward input`, program: denseBackwardInput(this.ctx, shape, back) },
        );
      }
    }
    return programs;
  }
}

/** The context model over `rows` context rows: forward into (mu, log-scale) pairs, backward into dctx. */
export class ArmGraph {
  readonly context: GPUBuffer;
  readonly out: GPUBuffer;
  readonly linear: GPUBuffer;
  readonly dOut: GPUBuffer;
  readonly dctxA: GPUBuffer;
  readonly dctxB: GPUBuffer;
  private readonly pre: GPUBuffer[];
  private readonly post: GPUBuffer[];
  private readonly dPre: GPUBuffer[];
  private readonly dPost: GPUBuffer[];
  private readonly zeroBias: GPUBuffer;
  private readonly scratchBias: GPUBuffer;

  constructor(
    private readonly ctx: GpuContext,
    private readonly plan: ModelPlan,
    readonly rows: number,
  ) {
    const D = plan.armInputs;
    this.context = ctx.buffer(rows * D, 'arm context');
    this.pre = plan.arm.map((l) => ctx.buffer(rows * l.outC, 'arm pre-activation'));
    this.post = plan.arm.map((l, i) => (l.hidden ? ctx.buffer(rows * l.outC, 'arm activation') : this.pre[i]));
    this.out = this.pre.at(-1)!;
    this.linear = ctx.buffer(rows * 2, 'arm linear path');
    this.dPre = plan.arm.map((l) => ctx.buffer(rows * l.outC, 'arm d pre-activation'));
    this.dPost = plan.arm.map((l, i) => (l.hidden ? ctx.buffer(rows * l.outC, 'arm d activation') : this.dPre[i]));
    this.dOut = this.dPost.at(-1)!;
    this.dctxA = ctx.buffer(rows * D, 'arm d context (MLP)');
    this.dctxB = ctx.buffer(rows * D, 'arm d context (linear)');
    this.zeroBias = ctx.buffer(2, 'zero bias');
    this.scratchBias = ctx.buffer(2, 'unused bias gradient');
  }

  forward(weights: GPUBuffer[]): LabeledProgram[] {
    const programs: LabeledProgram[] = [];
    let input = this.context;
    this.plan.arm.forEach((layer, i) => {
      const shape = { rows: this.rows, inC: layer.inC, outC: layer.outC };
      programs.push({
        kernel: `arm${i} dense ${layer.inC}->${layer.outC} forward`,
        program: denseForward(this.ctx, shape, { x: input, w: weights[layer.weight], b: weights[layer.bias], y: this.pre[i] }),
      });
      if (layer.hidden) {
        programs.push({
          kernel: `arm${i} capped relu forward`,
          program: activationForward(this.ctx, { count: this.rows * layer.outC, kind: 'cappedRelu' }, { x: this.pre[i], y: this.post[i] }),
        });
      }
      input = this.post[i];
    });
    const linear = this.plan.armLinear;
    programs.push({
      kernel: `arm linear ${linear.inC}->2 forward`,
      program: denseForward(
        this.ctx,
        { rows: this.rows, inC: linear.inC, outC: 2 },
        { x: this.context, w: weights[linear.weight], b: this.zeroBias, y: this.linear },
      ),
    });
    return programs;
  }

  /** From dOut (written by the rate kernel) to parameter gradients, dctxA (MLP) and dctxB (linear path). */
  backward(weights: GPUBuffer[], grads: GPUBuffer[]): LabeledProgram[] {
    const programs: LabeledProgram[] = [];
    for (let i = this.plan.arm.length - 1; i >= 0; i--) {
      const layer = this.plan.arm[i];
      const shape = { rows: this.rows, inC: layer.inC, outC: layer.outC };
      if (layer.hidden) {
        programs.push({
          kernel: `arm${i} capped relu backward`,
          program: activationBackward(this.ctx, { count: this.rows * layer.outC, kind: 'cappedRelu' }, { x: this.pre[i], dy: this.dPost[i], dx: this.dPre[i] }),
        });
      }
      const input = i === 0 ? this.context : this.post[i - 1];
      const dInput = i === 0 ? this.dctxA : this.dPost[i - 1];
      const name = `arm${i} dense ${layer.inC}->${layer.outC}`;
      programs.push(
        {
          kernel: `${name} backward params`,
          program: denseBackwardParams(this.ctx, shape, { x: input, dy: this.dPre[i], dw: grads[layer.weight], db: grads[layer.bias] }),
        },
        { kernel: `${name} backward input`, program: denseBackwardInput(this.ctx, shape, { dy: this.dPre[i], w: weights[layer.weight], dx: dInput }) },
      );
    }
    const linear = this.plan.armLinear;
    const shape = { rows: this.rows, inC: linear.inC, outC: 2 };
    programs.push(
      {
        kernel: `arm linear ${linear.inC}->2 backward params`,
        program: denseBackwardParams(this.ctx, shape, { x: this.context, dy: this.dOut, dw: grads[linear.weight], db: this.scratchBias }),
      },
      {
        kernel: `arm linear ${linear.inC}->2 backward input`,
        program: denseBackwardInput(this.ctx, shape, { dy: this.dOut, w: weights[linear.weight], dx: this.dctxB }),
      },
    );
    return programs;
  }
}

export type TrainMode = QuantizeSettings['mode'];

interface Slot extends SlotBuffers {
  programs: Map<string, StepProgram[]>;
}

/** Stat slots: distortion (weighted MSE on [0, 1]) and the latents' estimated bits. */
const STAT_DISTORTION = 0;
const STAT_BITS = 1;

/**
 * Training graph of one group: latents for `groupFrames` frames (frame 0 of the yhat buffer holds
 * the previous group's last frame, the context of frame 1), cut into slots of at most
 * `slotFrames` frames, each trained by its own static list of dispatches; the network tensors are
 * shared. Everything stays on the GPU; the CPU reads back [distortion, bits] when it asks. The
 * step runs the fused kernels (graph_fused.ts, about a dozen dispatches) where they cover the
 * model, else the generic ones (a dispatch per layer and op); both compute the same step.
 *
 * (Optimising each frame's latents as a change from the previous frame's was tried and dropped:
 * Adam moves every change by about the learning rate, so late frames drifted t times as fast.)
 */
export class GroupGraph {
  readonly geom: LatentGeometry;
  readonly spec: ContextSpec;
  readonly plan: ModelPlan;
  readonly slots: Slot[] = [];
  /** The network tensors: one buffer per tensor (generic), or all of them packed in one (fused, src/nn/layers.ts packedLayout). */
  readonly params: GPUBuffer[];
  private readonly m: GPUBuffer[];
  private readonly v: GPUBuffer[];
  readonly tensorHyper: GPUBuffer[];
  readonly latentHyper: GPUBuffer;
  private readonly yhat: GPUBuffer;
  private readonly slope: GPUBuffer;
  private readonly levels: GPUBuffer;
  private readonly quantize: GPUBuffer;
  private readonly generic?: GenericParts;
  private readonly fused?: FusedGroup;
  private previousValid = false;
  /** Which kernels the step uses; `fallback` says why the fused ones do not cover this model, if they do not. */
  readonly composition: 'generic' | 'fused';
  readonly fallback?: string;

  constructor(
    readonly ctx: GpuContext,
    readonly model: ModelDescription,
    readonly groupFrames: number,
    readonly slotFrames: number,
    options: GroupGraphOptions = {},
  ) {
    this.geom = modelGeometry(model);
    this.spec = contextSpec(model);
    this.plan = planModel(model);
    const perFrame = this.geom.perFrame;
    const maxLatents = slotFrames * perFrame;
    const kernels = options.kernels ?? 'auto';
    const coverage = fusedCoverage(model, this.plan, ctx.device.limits.maxUniformBufferBindingSize);
    if (kernels === 'fused' && !coverage.covered) throw new NervError('BAD_ARGUMENT', `the fused kernels do not cover this model: ${coverage.reason}`);
    this.composition = kernels !== 'generic' && coverage.covered ? 'fused' : 'generic';
    if (!coverage.covered) this.fallback = coverage.reason;
    if (this.composition === 'fused' && coverage.covered) {
      this.fused = new FusedGroup(ctx, model, this.plan, this.geom, this.spec, coverage.synthesis, slotFrames);
      this.params = [this.fused.params];
      this.m = [this.fused.m];
      this.v = [this.fused.v];
    } else {
      this.params = this.plan.tensors.map((t) => ctx.buffer(t.size, t.name));
      this.m = this.plan.tensors.map((t) => ctx.buffer(t.size));
      this.v = this.plan.tensors.map((t) => ctx.buffer(t.size));
      this.generic = new GenericParts(ctx, model, this.plan, this.spec, slotFrames, maxLatents);
    }
    this.tensorHyper = this.plan.tensors.map(() => ctx.buffer(8, 'adam hyper'));
    this.latentHyper = ctx.buffer(8, 'latent adam hyper');
    this.yhat = ctx.buffer((groupFrames + 1) * perFrame, 'yhat');
    this.slope = ctx.buffer(maxLatents, 'quantizer slope');
    this.levels = levelsUniform(ctx, this.geom);
    this.quantize = ctx.buffer(4, 'quantize settings');
    const targetFloats = targetFloatsPerFrame(model);
    for (let first = 1; first <= groupFrames; first += slotFrames) {
      const count = Math.min(slotFrames, groupFrames + 1 - first);
      this.slots.push({
        first,
        count,
        uniform: ctx.upload(slotWords({ first, count, previousValid: false })),
        y: ctx.buffer(count * perFrame, 'latents'),
        m: ctx.buffer(count * perFrame),
        v: ctx.buffer(count * perFrame),
        target: ctx.buffer(count * targetFloats, 'targets'),
        rate: ctx.buffer(4, 'rate scale'),
        stats: ctx.buffer(2, 'stats'),
        programs: new Map(),
      });
    }
  }

  /** The previous group's last frame (integer symbols), or undefined for a key group (zeros, flagged as missing). */
  setContextFrame(symbols: Float32Array | undefined): void {
    this.previousValid = symbols !== undefined;
    this.ctx.write(this.yhat, symbols ?? new Float32Array(this.geom.perFrame));
    for (const slot of this.slots) this.ctx.write(slot.uniform, slotWords({ first: slot.first, count: slot.count, previousValid: this.previousValid }));
  }

  /** Float latents of every frame of the group, frame-major ([groupFrames * perFrame]). */
  setLatents(values: Float32Array): void {
    const perFrame = this.geom.perFrame;
    for (const slot of this.slots) this.ctx.write(slot.y, values.subarray((slot.first - 1) * perFrame, (slot.first - 1 + slot.count) * perFrame));
  }

  async getLatents(): Promise<Float32Array> {
    const perFrame = this.geom.perFrame;
    const out = new Float32Array(this.groupFrames * perFrame);
    for (const slot of this.slots) out.set(await this.ctx.read(slot.y, slot.count * perFrame), (slot.first - 1) * perFrame);
    return out;
  }

  setParameters(values: Float32Array[]): void {
    if (this.fused) this.ctx.write(this.fused.params, packParameters(this.fused.layout, values));
    else values.forEach((v, i) => this.ctx.write(this.params[i], v));
  }

  async getParameters(): Promise<Float32Array[]> {
    if (this.fused) return unpackParameters(this.fused.layout, await this.ctx.read(this.fused.params, this.fused.layout.floats));
    return Promise.all(this.params.map((b, i) => this.ctx.read(b, this.plan.tensors[i].size).then((v) => v.slice())));
  }

  /** Source frames of the group in the loss kernel's layout (planar YUV 4:2:0 or interleaved RGB), frame-major. */
  setTargets(values: Float32Array): void {
    const perFrame = targetFloatsPerFrame(this.model);
    for (const slot of this.slots) this.ctx.write(slot.target, values.subarray((slot.first - 1) * perFrame, (slot.first - 1 + slot.count) * perFrame));
  }

  resetOptimizer(): void {
    for (const b of [...this.m, ...this.v]) this.ctx.write(b, new Float32Array(b.size / 4));
    for (const slot of this.slots) {
      const zeros = new Float32Array(slot.count * this.geom.perFrame);
      this.ctx.write(slot.m, zeros);
      this.ctx.write(slot.v, zeros);
    }
  }

  setQuantize(settings: QuantizeSettings): void {
    this.ctx.write(this.quantize, new Uint32Array(quantizeWords(settings)));
  }

  /** lambda: loss = distortion + lambda * bits / pixels. */
  setLambda(lambda: number): void {
    for (const slot of this.slots) {
      const pixels = slot.count * this.model.width * this.model.height;
      this.ctx.write(slot.rate, Float32Array.of(lambda / pixels, 0, 0, 0));
    }
  }

  /** One optimisation step on a slot ('hard' trains only the networks: rounding has no gradient). */
  step(slotIndex: number, mode: TrainMode): void {
    this.ctx.run(this.stepPrograms(slotIndex, mode === 'hard' ? 'train-networks' : 'train').map((p) => p.program));
  }

  /** Forward, loss and rate only (whatever quantize mode is set), for measuring without training. */
  evaluate(slotIndex: number): void {
    this.ctx.run(this.stepPrograms(slotIndex, 'evaluate').map((p) => p.program));
  }

  async readStats(slotIndex: number): Promise<{ distortion: number; bits: number }> {
    const [distortion, bits] = await this.ctx.read(this.slots[slotIndex].stats, 2);
    return { distortion, bits };
  }

  /**
   * The gradients of the last step of slot 0: per network tensor, and of its latents (tests and
   * diagnostics). The generic composition only: the fused kernels sum gradients inside Adam.
   */
  async readGradients(): Promise<{ tensors: Float32Array[]; latents: Float32Array }> {
    const generic = this.generic;
    if (!generic) throw new NervError('BAD_ARGUMENT', 'readGradients needs the generic composition (kernels: "generic")');
    const tensors = await Promise.all(generic.grads.map((b, i) => this.ctx.read(b, this.plan.tensors[i].size).then((v) => v.slice())));
    return { tensors, latents: (await this.ctx.read(generic.latentGrad, this.slots[0].count * this.geom.perFrame)).slice() };
  }

  /** Copies of every trainable buffer, for keeping the best state seen. */
  snapshot(): GpuSnapshot {
    const encoder = this.ctx.device.createCommandEncoder();
    const copy = (b: GPUBuffer) => {
      const c = this.ctx.device.createBuffer({ size: b.size, usage: b.usage });
      encoder.copyBufferToBuffer(b, 0, c, 0, b.size);
      return c;
    };
    const snapshot = { params: this.params.map(copy), latents: this.slots.map((s) => copy(s.y)) };
    this.ctx.device.queue.submit([encoder.finish()]);
    return snapshot;
  }

  restore(snapshot: GpuSnapshot): void {
    const encoder = this.ctx.device.createCommandEncoder();
    snapshot.params.forEach((b, i) => encoder.copyBufferToBuffer(b, 0, this.params[i], 0, b.size));
    snapshot.latents.forEach((b, i) => encoder.copyBufferToBuffer(b, 0, this.slots[i].y, 0, b.size));
    this.ctx.device.queue.submit([encoder.finish()]);
  }

  /** The dispatches of one step on a slot, labelled (what step and evaluate run, for profiling). */
  stepPrograms(slotIndex: number, kind: StepKind): readonly StepProgram[] {
    const slot = this.slots[slotIndex];
    let programs = slot.programs.get(kind);
    if (!programs) {
      programs = this.build(slot, kind);
      slot.programs.set(kind, programs);
    }
    return programs;
  }

  private build(slot: Slot, kind: StepKind): StepProgram[] {
    if (this.fused) {
      return this.fused.build(
        slot,
        {
          yhat: this.yhat,
          slope: this.slope,
          quantize: this.quantize,
          levels: this.levels,
          latentHyper: this.latentHyper,
          tensorHyper: this.tensorHyper,
        },
        kind,
      );
    }
    return this.buildGeneric(slot, kind, this.generic!);
  }

  /** One dispatch per layer and op: the reference composition, and the fallback for models the fused kernels do not cover. */
  private buildGeneric(slot: Slot, kind: StepKind, parts: GenericParts): StepProgram[] {
    const { ctx, geom, spec, model } = this;
    const frames = slot.count;
    const synthesis = slot.count === this.slotFrames ? parts.synthesis : new SynthesisGraph(ctx, model, this.plan, frames, true);
    const arm = slot.count === this.slotFrames ? parts.arm : new ArmGraph(ctx, this.plan, frames * geom.perFrame);
    const { grads, dRate, dDistortion, latentGrad, taps } = parts;
    const programs: StepProgram[] = [];
    const add = (stage: StepStage, ...labelled: LabeledProgram[]) => labelled.forEach((p) => programs.push({ stage, ...p }));
    add('quantize', {
      kernel: 'latent_quantize',
      program: latentQuantize(ctx, geom, frames, { y: slot.y, settings: this.quantize, slot: slot.uniform, yhat: this.yhat, slope: this.slope }, slot.first),
    });
    add('synthesis forward', {
      kernel: 'latent_upsample',
      program: latentUpsample(ctx, geom, frames, { latents: this.yhat, levels: this.levels, slot: slot.uniform, features: synthesis.features }),
    });
    add('synthesis forward', ...synthesis.forward(this.params));
    add('loss', {
      kernel: 'colour_loss',
      program: colourLoss(
        ctx,
        { colour: model.colour, frames, width: model.width, height: model.height },
        { pred: synthesis.output, target: slot.target, grad: synthesis.dOutput, stats: slot.stats },
        STAT_DISTORTION,
      ),
    });
    add('context model', {
      kernel: 'arm_context',
      program: armContext(ctx, geom, spec, frames, { latents: this.yhat, levels: this.levels, taps: taps, slot: slot.uniform, context: arm.context }),
    });
    add('context model', ...arm.forward(this.params));
    add('context model', {
      kernel: 'latent_rate',
      program: latentRate(
        ctx,
        geom,
        frames,
        {
          yhat: this.yhat,
          mlp: arm.out,
          linear: arm.linear,
          slot: slot.uniform,
          rate: slot.rate,
          dOut: arm.dOut,
          dRate: dRate,
          stats: slot.stats,
        },
        STAT_BITS,
      ),
    });
    if (kind === 'evaluate') return programs;
    add('synthesis backward', ...synthesis.backward(this.params, grads));
    add('context model', ...arm.backward(this.params, grads));
    this.plan.tensors.forEach((t, i) => {
      add('adam (networks)', {
        kernel: 'adam',
        program: adamStep(ctx, { count: t.size }, { param: this.params[i], grad: grads[i], m: this.m[i], v: this.v[i], hyper: this.tensorHyper[i] }),
      });
    });
    if (kind === 'train') {
      add(
        'latent gradient',
        {
          kernel: 'latent_upsample_backward',
          program: latentUpsampleBackward(ctx, geom, frames, { dFeatures: synthesis.dFeatures!, levels: this.levels, dLatents: dDistortion }),
        },
        {
          kernel: 'latent_gradient',
          program: latentGradient(ctx, geom, spec, frames, {
            dDistortion: dDistortion,
            dRate: dRate,
            dctxA: arm.dctxA,
            dctxB: arm.dctxB,
            slope: this.slope,
            levels: this.levels,
            taps: taps,
            slot: slot.uniform,
            grad: latentGrad,
          }),
        },
        {
          kernel: 'adam (latents)',
          program: adamStep(ctx, { count: frames * geom.perFrame }, { param: slot.y, grad: latentGrad, m: slot.m, v: slot.v, hyper: this.latentHyper }),
        },
      );
    }
    return programs;
  }
}

/** Buffers only the generic composition uses. */
class GenericParts {
  readonly grads: GPUBuffer[];
  readonly dRate: GPUBuffer;
  readonly latentGrad: GPUBuffer;
  readonly dDistortion: GPUBuffer;
  readonly taps: GPUBuffer;
  readonly synthesis: SynthesisGraph;
  readonly arm: ArmGraph;

  constructor(ctx: GpuContext, model: ModelDescription, plan: ModelPlan, spec: ContextSpec, slotFrames: number, maxLatents: number) {
    this.grads = plan.tensors.map((t) => ctx.buffer(t.size, `${t.name}.grad`));
    this.dRate = ctx.buffer(maxLatents, 'd rate');
    this.latentGrad = ctx.buffer(maxLatents, 'latent gradient');
    this.dDistortion = ctx.buffer(maxLatents, 'd distortion');
    this.taps = tapsUniform(ctx, spec);
    this.synthesis = new SynthesisGraph(ctx, model, plan, slotFrames, true);
    this.arm = new ArmGraph(ctx, plan, maxLatents);
  }
}

export interface GpuSnapshot {
  params: GPUBuffer[];
  latents: GPUBuffer[];
}

/**
 * Decoding on the GPU: integer latents of one frame in, synthesized colour [H * W, 3] out (unclamped).
 * The same kernels as training, so the encoder's closed-loop PSNR is the decoder's.
 */
export class SynthesisRenderer {
  private readonly geom: LatentGeometry;
  private readonly latents: GPUBuffer;
  private readonly slotUniform: GPUBuffer;
  private readonly levels: GPUBuffer;
  private readonly graph?: SynthesisGraph;
  private readonly fused?: FusedRenderer;
  /** The network tensors: one buffer per tensor (generic kernels), or all of them packed in one (fused). */
  readonly params: GPUBuffer[];
  readonly composition: 'generic' | 'fused';
  private programs?: GpuProgram[];

  constructor(
    readonly ctx: GpuContext,
    readonly model: ModelDescription,
    options: GroupGraphOptions = {},
  ) {
    const plan = planModel(model);
    this.geom = modelGeometry(model);
    this.latents = ctx.buffer(2 * this.geom.perFrame, 'frame latents');
    // Frame 1 of a two-frame buffer: the upsampling kernel addresses frames from the slot's first.
    this.slotUniform = ctx.upload(slotWords({ first: 1, count: 1, previousValid: false }));
    this.levels = levelsUniform(ctx, this.geom);
    const coverage = fusedCoverage(model, plan, ctx.device.limits.maxUniformBufferBindingSize);
    if (options.kernels === 'fused' && !coverage.covered) throw new NervError('BAD_ARGUMENT', `the fused kernels do not cover this model: ${coverage.reason}`);
    if (options.kernels !== 'generic' && coverage.covered) {
      this.composition = 'fused';
      this.fused = new FusedRenderer(ctx, model, plan, this.geom, coverage.synthesis);
      this.params = [this.fused.params];
    } else {
      this.composition = 'generic';
      this.graph = new SynthesisGraph(ctx, model, plan, 1, false);
      this.params = plan.tensors.map((t) => ctx.buffer(t.size, t.name));
    }
  }

  /** The colour of the last rendered frame, [H * W, 3] floats. */
  get output(): GPUBuffer {
    return this.fused ? this.fused.output : this.graph!.output;
  }

  setParameters(values: Float32Array[]): void {
    if (this.fused) this.ctx.write(this.fused.params, packParameters(this.fused.layout, values));
    else values.forEach((v, i) => this.ctx.write(this.params[i], v));
  }

  /**
   * Compiles the pipelines render() needs, concurrently and without blocking (render() works
   * without this too, but then compiles them one by one on first use).
   */
  prepare(): Promise<void> {
    return this.programs ? Promise.resolve() : this.ctx.precompile(() => this.buildPrograms());
  }

  private buildPrograms(): GpuProgram[] {
    return this.fused
      ? this.fused.programs(this.latents, this.slotUniform, 1)
      : [
          latentUpsample(this.ctx, this.geom, 1, { latents: this.latents, levels: this.levels, slot: this.slotUniform, features: this.graph!.features }),
          ...this.graph!.forward(this.params).map((p) => p.program),
        ];
  }

  /** Runs the synthesis of one frame's latents; the result stays in `output`. */
  render(latents: Float32Array): GPUBuffer {
    this.ctx.write(this.latents, latents, this.geom.perFrame);
    this.programs ??= this.buildPrograms();
    this.ctx.run(this.programs);
    return this.output;
  }

  async renderToCpu(latents: Float32Array): Promise<Float32Array> {
    this.render(latents);
    return (await this.ctx.read(this.output, this.model.width * this.model.height * OUTPUT_CHANNELS)).slice();
  }
}
