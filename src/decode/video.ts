import { BadArgumentError, NervError } from '../errors.ts';
import { GpuContext } from '../gpu/context.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { NervReader, type NervHeader } from '../format/index.ts';
import { dequantize } from '../quant/quantize.ts';
import { GpuRenderer, toRgba } from '../nn/evaluate.ts';
import { CpuRenderer } from '../nn/network_cpu.ts';
import { macsPerPixel, modelTensors, parameterCount, validateModel, type ModelDescription } from '../nn/model.ts';

export interface NervInfo {
  version: number;
  width: number;
  height: number;
  frameCount: number;
  fps: { num: number; den: number };
  colorSpace: string;
  groupSize: number;
  groupCount: number;
  keyInterval: number;
  byteLength: number;
  /** Real file bits per pixel: bytes * 8 / (width * height * frames). */
  bpp: number;
  macsPerPixel: number;
  parameterCount: number;
  profile: string;
}

export interface OpenOptions {
  /** A device to decode on (a page's own device, for drawing); otherwise one is requested. */
  device?: GPUDevice;
  /** 'auto' uses WebGPU when an adapter exists and the CPU otherwise. */
  backend?: 'auto' | 'webgpu' | 'cpu';
}

interface Renderer {
  setParameters(params: Float32Array[]): void;
  renderToCpu(frameInGroup: number): Promise<Float32Array>;
}

/** A frame left on the GPU for drawing: float RGB, HWC, unclamped, valid until the next decode call. */
export interface GpuFrame {
  buffer: GPUBuffer;
  device: GPUDevice;
  width: number;
  height: number;
}

/** A decoded .nerv file: frame i costs one forward pass once its group's weights are loaded. */
export class NervVideo {
  readonly info: NervInfo;
  readonly model: ModelDescription;
  readonly backend: 'webgpu' | 'cpu';
  private loadedGroup = -1;

  private constructor(private readonly reader: NervReader, private readonly renderer: Renderer, backend: 'webgpu' | 'cpu', model: ModelDescription, byteLength: number) {
    this.backend = backend;
    this.model = model;
    const h = reader.header;
    this.info = {
      version: reader.version, width: h.width, height: h.height, frameCount: h.frameCount, fps: h.fps,
      colorSpace: h.colorSpace, groupSize: h.groupSize, groupCount: reader.index.length, keyInterval: h.keyInterval,
      byteLength, bpp: (byteLength * 8) / (h.width * h.height * h.frameCount),
      macsPerPixel: macsPerPixel(model), parameterCount: parameterCount(model), profile: model.profile,
    };
  }

  static async open(bytes: Uint8Array, options: OpenOptions = {}): Promise<NervVideo> {
    const reader = new NervReader(bytes);
    const model = modelOfHeader(reader.header);
    const backend = options.backend ?? 'auto';
    if (backend === 'cpu') return new NervVideo(reader, new CpuRenderer(model), 'cpu', model, bytes.length);
    let device = options.device;
    if (!device) {
      try {
        device = await requestGpuDevice();
      } catch (error) {
        if (backend === 'webgpu' || !(error instanceof NervError) || error.code !== 'NO_GPU') throw error;
        return new NervVideo(reader, new CpuRenderer(model), 'cpu', model, bytes.length);
      }
    }
    return new NervVideo(reader, new GpuRenderer(new GpuContext(device), model), 'webgpu', model, bytes.length);
  }

  /** Frame `index` as float RGB in [0,1] before 8-bit rounding (unclamped network output). */
  async frameRgb(index: number): Promise<Float32Array> {
    return this.renderer.renderToCpu(this.loadGroupOf(index));
  }

  /** Decodes frame `index` into a GPU buffer without reading it back (players draw from it). */
  frameGpu(index: number): GpuFrame {
    if (!(this.renderer instanceof GpuRenderer)) throw new NervError('NO_GPU', 'this video decodes on the CPU backend');
    const j = this.loadGroupOf(index);
    return { buffer: this.renderer.render(j), device: this.renderer.device, width: this.info.width, height: this.info.height };
  }

  /** Loads the weights of the group holding frame `index`; returns the frame's index within its group. */
  private loadGroupOf(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.info.frameCount) {
      throw new BadArgumentError(`frame index ${index} is outside 0..${this.info.frameCount - 1}`);
    }
    const group = Math.floor(index / this.info.groupSize);
    if (group !== this.loadedGroup) {
      const tensors = this.reader.groupTensors(group);
      this.renderer.setParameters(tensors.map((t) => dequantize(t.symbols, t.step)));
      this.loadedGroup = group;
    }
    return index % this.info.groupSize;
  }

  /** Frame `index` as 8-bit RGBA, width * height * 4 bytes. */
  async frame(index: number): Promise<Uint8ClampedArray> {
    return toRgba(await this.frameRgb(index), this.info.width * this.info.height);
  }

  async *frames(): AsyncIterableIterator<Uint8ClampedArray> {
    for (let i = 0; i < this.info.frameCount; i++) yield await this.frame(i);
  }
}

/** The header's model, checked against its tensor list so a crafted file cannot describe other shapes. */
export function modelOfHeader(header: NervHeader): ModelDescription {
  const model = validateModel(header.model, header);
  const expected = modelTensors(model);
  const listed = header.tensors;
  const matches = expected.length === listed.length && expected.every((t, i) => t.name === listed[i].name && t.size === listed[i].size);
  if (!matches) throw new NervError('FORMAT', 'the header\'s tensor list does not match its model description');
  return model;
}

export function open(bytes: Uint8Array, options?: OpenOptions): Promise<NervVideo> {
  return NervVideo.open(bytes, options);
}
