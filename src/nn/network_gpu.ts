import { GpuContext, type GpuProgram } from '../gpu/context.ts';
import { denseForward, denseBackwardInput, denseBackwardParams } from '../gpu/kernels/dense.ts';
import { activationForward, activationBackward } from '../gpu/kernels/activation.ts';
import { conv3x3Forward, conv3x3BackwardInput, conv3x3BackwardParams } from '../gpu/kernels/conv3x3.ts';
import { gridSampleForward, gridSampleBackward } from '../gpu/kernels/grid.ts';
import { mseLoss } from '../gpu/kernels/mse.ts';
import { adamStep } from '../gpu/kernels/adam.ts';
import { fakeQuantize } from '../gpu/kernels/fakequant.ts';
import { featureChannels, gridSampleShapes, gridTime, modelTensors, type ModelDescription, type TensorSpec } from './model.ts';

/** Which frames of the group one batch holds; the graph for each slot is recorded once and replayed. */
export interface BatchSlot {
  frames: number[];
}

interface SlotBuffers {
  times: GPUBuffer[];
  target?: GPUBuffer;
  loss?: GPUBuffer;
}

/**
 * The per-group network on WebGPU: parameters, activations and (when training) gradients and
 * Adam moments all live in GPU buffers; forward, backward and optimizer steps are static lists
 * of dispatches built once per batch slot.
 */
export class GpuNetwork {
  readonly ctx: GpuContext;
  readonly model: ModelDescription;
  readonly tensors: TensorSpec[];
  readonly batch: number;
  readonly pixels: number;
  readonly params: GPUBuffer[];
  /** Fake-quantized copies of the parameters, read by the forward pass in quantization-aware training. */
  private readonly forwardParams: GPUBuffer[];
  readonly output: GPUBuffer;
  private readonly features: GPUBuffer;
  private readonly preActivations: GPUBuffer[] = [];
  private readonly activations: GPUBuffer[] = [];
  private readonly slots: SlotBuffers[] = [];
  private training?: TrainingBuffers;

  constructor(ctx: GpuContext, model: ModelDescription, batch: number, options: { training?: boolean } = {}) {
    this.ctx = ctx;
    this.model = model;
    this.tensors = modelTensors(model);
    this.batch = batch;
    this.pixels = batch * model.width * model.height;
    this.params = this.tensors.map((t) => ctx.buffer(t.size, t.name));
    this.forwardParams = options.training ? this.tensors.map((t) => ctx.buffer(t.size, `${t.name}.q`)) : this.params;
    this.features = ctx.buffer(this.pixels * featureChannels(model), 'features');
    for (const width of model.hidden) {
      this.preActivations.push(ctx.buffer(this.pixels * width, 'pre'));
      this.activations.push(ctx.buffer(this.pixels * width, 'act'));
    }
    this.output = ctx.buffer(this.pixels * 3, 'rgb');
    if (options.training) {
      const gradient = (floats: number) => ctx.buffer(floats);
      this.training = {
        grads: this.tensors.map((t) => gradient(t.size)),
        m: this.tensors.map((t) => gradient(t.size)),
        v: this.tensors.map((t) => gradient(t.size)),
        hyper: this.tensors.map(() => ctx.buffer(8)),
        quant: this.tensors.map(() => ctx.buffer(4)),
        dOutput: gradient(this.pixels * 3),
        dActivations: model.hidden.map((w) => gradient(this.pixels * w)),
        dPre: model.hidden.map((w) => gradient(this.pixels * w)),
        dFeatures: gradient(this.pixels * featureChannels(model)),
      };
    }
  }

  setParameters(values: Float32Array[]): void {
    values.forEach((v, i) => {
      if (v.length !== this.tensors[i].size) throw new Error(`tensor ${this.tensors[i].name}: ${v.length} values, expected ${this.tensors[i].size}`);
      this.ctx.write(this.params[i], v);
    });
  }

  async getParameters(): Promise<Float32Array[]> {
    return Promise.all(this.params.map((b, i) => this.ctx.read(b, this.tensors[i].size).then((v) => v.slice())));
  }

  /** Registers a batch slot (its frames' grid times, and for training its target pixels); returns its id. */
  addSlot(slot: BatchSlot, target?: Float32Array): number {
    if (slot.frames.length !== this.batch) throw new Error(`slot holds ${slot.frames.length} frames, batch is ${this.batch}`);
    const times = this.model.grids.map((level) =>
      this.ctx.upload(Float32Array.from(slot.frames, (j) => gridTime(level, j, this.model.groupSize))),
    );
    const buffers: SlotBuffers = { times };
    if (target) {
      if (target.length !== this.pixels * 3) throw new Error(`target has ${target.length} values, expected ${this.pixels * 3}`);
      buffers.target = this.ctx.upload(target, 'target');
      buffers.loss = this.ctx.buffer(4, 'loss');
    }
    this.slots.push(buffers);
    return this.slots.length - 1;
  }

  setSlotTarget(slotId: number, target: Float32Array): void {
    const buffer = this.slots[slotId].target;
    if (!buffer || target.length !== this.pixels * 3) throw new Error('slot has no target of that size');
    this.ctx.write(buffer, target);
  }

  /** Forward pass of a slot into `output` ([batch, height, width, 3], unclamped). */
  forwardPrograms(slotId: number, weights: GPUBuffer[] = this.params): GpuProgram[] {
    const { ctx, model } = this;
    const slot = this.slots[slotId];
    const n = this.batch, h = model.height, w = model.width;
    const programs: GpuProgram[] = [];
    gridSampleShapes(model, n).forEach((shape, i) => {
      programs.push(gridSampleForward(ctx, shape, { grid: weights[i], times: slot.times[i], y: this.features }));
    });
    let input = this.features;
    let inC = featureChannels(model);
    let p = model.grids.length;
    model.hidden.forEach((outC, i) => {
      programs.push(
        denseForward(ctx, { rows: this.pixels, inC, outC }, { x: input, w: weights[p], b: weights[p + 1], y: this.preActivations[i] }),
        activationForward(ctx, { count: this.pixels * outC, kind: model.activation }, { x: this.preActivations[i], y: this.activations[i] }),
      );
      input = this.activations[i];
      inC = outC;
      p += 2;
    });
    const out = { x: input, w: weights[p], b: weights[p + 1], y: this.output };
    programs.push(
      model.outputKernel === 3
        ? conv3x3Forward(ctx, { n, h, w, inC, outC: 3 }, out)
        : denseForward(ctx, { rows: this.pixels, inC, outC: 3 }, out),
    );
    return programs;
  }

  /** One optimisation step on a slot: [fake-quantize], forward, loss, backward, Adam. */
  trainPrograms(slotId: number, quantized: boolean): GpuProgram[] {
    const t = this.training;
    const slot = this.slots[slotId];
    if (!t || !slot.target || !slot.loss) throw new Error('network was not built for training, or slot has no target');
    const { ctx, model } = this;
    const n = this.batch, h = model.height, w = model.width;
    const programs: GpuProgram[] = [];
    // Straight-through estimator: the forward pass sees quantized weights, Adam updates the float ones.
    const weights = quantized ? this.forwardParams : this.params;
    if (quantized) {
      this.tensors.forEach((spec, i) => {
        programs.push(fakeQuantize(ctx, { count: spec.size }, { param: this.params[i], out: this.forwardParams[i], quant: t.quant[i] }));
      });
    }
    programs.push(...this.forwardPrograms(slotId, weights));
    programs.push(
      mseLoss(
        ctx,
        { frames: n, paddedHeight: h, paddedWidth: w, channels: 3, validHeight: h, validWidth: w },
        { pred: this.output, target: slot.target, grad: t.dOutput, loss: slot.loss },
      ),
    );
    const hidden = model.hidden;
    const last = hidden.length - 1;
    const outIndex = this.tensors.length - 2;
    const lastWidth = hidden[last];
    const outParams = { x: this.activations[last], dy: t.dOutput, dw: t.grads[outIndex], db: t.grads[outIndex + 1] };
    const outInput = { dy: t.dOutput, w: weights[outIndex], dx: t.dActivations[last] };
    if (model.outputKernel === 3) {
      const convShape = { n, h, w, inC: lastWidth, outC: 3 };
      programs.push(conv3x3BackwardParams(ctx, convShape, outParams), conv3x3BackwardInput(ctx, convShape, outInput));
    } else {
      const denseShape = { rows: this.pixels, inC: lastWidth, outC: 3 };
      programs.push(denseBackwardParams(ctx, denseShape, outParams), denseBackwardInput(ctx, denseShape, outInput));
    }
    const featureC = featureChannels(model);
    for (let i = last; i >= 0; i--) {
      const p = model.grids.length + 2 * i;
      const inC = i === 0 ? featureC : hidden[i - 1];
      const input = i === 0 ? this.features : this.activations[i - 1];
      const dInput = i === 0 ? t.dFeatures : t.dActivations[i - 1];
      const shape = { rows: this.pixels, inC, outC: hidden[i] };
      programs.push(
        activationBackward(ctx, { count: this.pixels * hidden[i], kind: model.activation }, { x: this.preActivations[i], dy: t.dActivations[i], dx: t.dPre[i] }),
        denseBackwardParams(ctx, shape, { x: input, dy: t.dPre[i], dw: t.grads[p], db: t.grads[p + 1] }),
        denseBackwardInput(ctx, shape, { dy: t.dPre[i], w: weights[p], dx: dInput }),
      );
    }
    gridSampleShapes(model, n).forEach((shape, i) => {
      programs.push(gridSampleBackward(ctx, shape, { dy: t.dFeatures, times: slot.times[i], dgrid: t.grads[i] }));
    });
    this.tensors.forEach((spec, i) => {
      programs.push(adamStep(ctx, { count: spec.size }, { param: this.params[i], grad: t.grads[i], m: t.m[i], v: t.v[i], hyper: t.hyper[i] }));
    });
    return programs;
  }

  /** Per-tensor optimizer settings for the next step ([lr, beta1, beta2, eps, bc1, bc2, decay, gradScale]). */
  setHyper(tensor: number, hyper: Float32Array): void {
    this.ctx.write(this.requireTraining().hyper[tensor], hyper);
  }

  /** Per-tensor fake-quantization settings ([step, mode, seed, 0]). */
  setQuant(tensor: number, quant: Float32Array): void {
    this.ctx.write(this.requireTraining().quant[tensor], quant);
  }

  resetOptimizer(): void {
    const t = this.requireTraining();
    this.tensors.forEach((spec, i) => {
      const zeros = new Float32Array(spec.size);
      this.ctx.write(t.m[i], zeros);
      this.ctx.write(t.v[i], zeros);
    });
  }

  async readLoss(slotId: number): Promise<number> {
    const loss = this.slots[slotId].loss;
    if (!loss) throw new Error('slot has no loss');
    return (await this.ctx.read(loss, 1))[0];
  }

  private requireTraining(): TrainingBuffers {
    if (!this.training) throw new Error('network was not built for training');
    return this.training;
  }
}

interface TrainingBuffers {
  grads: GPUBuffer[];
  m: GPUBuffer[];
  v: GPUBuffer[];
  hyper: GPUBuffer[];
  quant: GPUBuffer[];
  dOutput: GPUBuffer;
  dActivations: GPUBuffer[];
  dPre: GPUBuffer[];
  dFeatures: GPUBuffer;
}
