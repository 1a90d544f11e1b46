import { BadArgumentError, NervError, NervFormatError } from '../errors.ts';
import { GpuContext } from '../gpu/context.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { NervReader, type NervHeader } from '../format/index.ts';
import { SynthesisRenderer } from '../nn/graph_gpu.ts';
import { synthesizeCpu } from '../nn/network_cpu.ts';
import { decodeCost, modelTensors, parameterCount, type DecodeCost, type ModelDescription } from '../nn/model.ts';
import { planModel } from '../nn/layers.ts';
import { latentCoder } from '../entropy/latents.ts';
import { armTensorsOf, dequantizeTensors } from '../quant/networks.ts';
import { synthesisToRgb, synthesisToYuv420 } from './output.ts';
import { yuvToRgb, type YuvFrame } from '../video/color.ts';

export interface NervInfo {
  version: number;
  width: number;
  height: number;
  frameCount: number;
  fps: { num: number; den: number };
  /** 'yuv420': the file codes Y'CbCr 4:2:0 samples (colorSpace/colorRange say which); 'rgb': RGB. */
  colour: 'yuv420' | 'rgb';
  colorSpace: string;
  colorRange: string;
  groupSize: number;
  groupCount: number;
  keyInterval: number;
  lambda: number;
  byteLength: number;
  /** Real file bits per pixel: bytes * 8 / (width * height * frames). */
  bpp: number;
  macsPerPixel: number;
  decodeCost: DecodeCost;
  parameterCount: number;
  profile: string;
}

export interface OpenOptions {
  /** A device to decode on (a page's own, for drawing); otherwise one is requested. */
  device?: GPUDevice;
  /** 'auto' uses WebGPU when an adapter exists and the CPU otherwise. */
  backend?: 'auto' | 'webgpu' | 'cpu';
}

/** A frame left on the GPU for drawing: the synthesis output [H * W, 3] (Y'CbCr or RGB, unclamped), valid until the next decode call. */
export interface GpuFrame {
  buffer: GPUBuffer;
  device: GPUDevice;
  width: number;
  height: number;
  colour: 'yuv420' | 'rgb';
}

interface DecodedGroup {
  params: Float32Array[];
  latents: Int32Array[];
}

/**
 * A decoded .nerv file. Frame i needs its group's network tensors and latents: the latents of a
 * group are entropy-decoded in one go (each frame's context includes the previous frame, so a
 * predicted group needs its predecessor's last frame: decoding walks back to the key group, and
 * a small cache makes sequential playback one group at a time); then a frame costs one synthesis.
 */
export class NervVideo {
  readonly info: NervInfo;
  readonly model: ModelDescription;
  readonly backend: 'webgpu' | 'cpu';
  private readonly cache = new Map<number, DecodedGroup>();
  private loadedParams?: Float32Array[];

  private constructor(
    private readonly reader: NervReader,
    private readonly renderer: SynthesisRenderer | undefined,
    model: ModelDescription,
    byteLength: number,
  ) {
    this.backend = renderer ? 'webgpu' : 'cpu';
    this.model = model;
    const h = reader.header;
    const cost = decodeCost(model);
    this.info = {
      version: reader.version,
      width: h.width,
      height: h.height,
      frameCount: h.frameCount,
      fps: h.fps,
      colour: model.colour,
      colorSpace: h.colorSpace,
      colorRange: h.colorRange,
      groupSize: h.groupSize,
      groupCount: reader.index.length,
      keyInterval: h.keyInterval,
      lambda: h.lambda,
      byteLength,
      bpp: (byteLength * 8) / (h.width * h.height * h.frameCount),
      macsPerPixel: Math.round(cost.total),
      decodeCost: cost,
      parameterCount: parameterCount(model),
      profile: model.profile,
    };
  }

  static async open(bytes: Uint8Array, options: OpenOptions = {}): Promise<NervVideo> {
    const reader = new NervReader(bytes);
    const model = modelOfHeader(reader.header);
    const backend = options.backend ?? 'auto';
    if (backend === 'cpu') return new NervVideo(reader, undefined, model, bytes.length);
    let device = options.device;
    if (!device) {
      try {
        device = await requestGpuDevice();
      } catch (error) {
        if (backend === 'webgpu' || !(error instanceof NervError) || error.code !== 'NO_GPU') throw error;
        return new NervVideo(reader, undefined, model, bytes.length);
      }
    }
    return new NervVideo(reader, new SynthesisRenderer(new GpuContext(device), model), model, bytes.length);
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.info.frameCount) {
      throw new BadArgumentError(`frame index ${index} is outside 0..${this.info.frameCount - 1}`);
    }
  }

  /** Network parameters and integer latents of group k (decoding predecessors back to a key group or the cache). */
  private group(k: number): DecodedGroup {
    const hit = this.cache.get(k);
    if (hit) {
      this.cache.delete(k);
      this.cache.set(k, hit);
      return hit;
    }
    const key = this.reader.index[k].key;
    const previous = key ? undefined : this.group(k - 1);
    const data = this.reader.group(k);
    const frames = Math.min(this.info.groupSize, this.info.frameCount - k * this.info.groupSize);
    let latents: Int32Array[];
    try {
      const specs = modelTensors(this.model);
      latents = latentCoder(this.model, armTensorsOf(specs, data.tensors)).decode(data.latents, frames, previous?.latents.at(-1));
    } catch (error) {
      if (!(error instanceof NervError)) throw error;
      const offset = this.reader.dataStart + this.reader.index[k].offset;
      const kind = error instanceof NervFormatError ? error.kind : 'entropy';
      throw new NervFormatError(kind, `group ${k}: ${error.message} (chunk at byte offset ${offset})`, { group: k, offset, cause: error });
    }
    const decoded = { params: previous && !data.networksCoded ? previous.params : dequantizeTensors(data.tensors), latents };
    this.cache.set(k, decoded);
    while (this.cache.size > 3) this.cache.delete(this.cache.keys().next().value!);
    return decoded;
  }

  private frameLatents(index: number): { params: Float32Array[]; latents: Int32Array } {
    this.checkIndex(index);
    const g = this.group(Math.floor(index / this.info.groupSize));
    return { params: g.params, latents: g.latents[index % this.info.groupSize] };
  }

  /** The integer latents of frame `index` (all levels, finest first), as the entropy decoder produced them. */
  latents(index: number): Int32Array {
    return this.frameLatents(index).latents.slice();
  }

  /** The synthesis output of frame `index`: float [H * W, 3] in the file's colour (unclamped). */
  async synthesized(index: number): Promise<Float32Array> {
    const { params, latents } = this.frameLatents(index);
    if (!this.renderer) return synthesizeCpu(this.model, params, Float32Array.from(latents), planModel(this.model));
    this.loadParams(params);
    return this.renderer.renderToCpu(Float32Array.from(latents));
  }

  /**
   * The synthesis output of frame `index` computed on the CPU, whatever the backend: float
   * [H * W, 3] as synthesized() and frameGpu() give it (the same to within float rounding). A
   * player shows it while the GPU pipelines compile (prepareGpu).
   */
  synthesizedCpu(index: number): Float32Array {
    const { params, latents } = this.frameLatents(index);
    return synthesizeCpu(this.model, params, Float32Array.from(latents), planModel(this.model));
  }

  /**
   * Compiles the GPU decoder's pipelines, all at once and without blocking (createComputePipelineAsync).
   * Optional: without it the first frameGpu() call compiles them, one by one, before it returns.
   */
  async prepareGpu(): Promise<void> {
    await this.renderer?.prepare();
  }

  private loadParams(params: Float32Array[]): void {
    if (this.loadedParams !== params) {
      this.renderer!.setParameters(params);
      this.loadedParams = params;
    }
  }

  /** Frame `index` as the file's 8-bit Y'CbCr 4:2:0 planes (yuv420 files only: no RGB round trip). */
  async frameYuv(index: number): Promise<YuvFrame> {
    if (this.model.colour !== 'yuv420') throw new BadArgumentError("this file codes RGB, not Y'CbCr: use frameRgb");
    return synthesisToYuv420(await this.synthesized(index), this.info.width, this.info.height);
  }

  /** Frame `index` as 8-bit RGB, as floats in [0, 1] (HWC). */
  async frameRgb(index: number): Promise<Float32Array> {
    return (await this.frameSamples(index)).rgb;
  }

  /** Frame `index` as 8-bit RGB (floats in [0, 1]) and, for Y'CbCr files, the 4:2:0 planes it came from. */
  async frameSamples(index: number): Promise<{ rgb: Float32Array; yuv?: YuvFrame }> {
    const out = await this.synthesized(index);
    if (this.model.colour === 'rgb') return { rgb: synthesisToRgb(out) };
    const yuv = synthesisToYuv420(out, this.info.width, this.info.height);
    const colorSpace = this.info.colorSpace === 'bt709' ? 'bt709' : 'bt601';
    return { rgb: yuvToRgb(yuv, { colorSpace, colorRange: this.info.colorRange === 'full' ? 'full' : 'limited' }).data, yuv };
  }

  /** Decodes frame `index` into a GPU buffer without reading it back (players draw from it). */
  frameGpu(index: number): GpuFrame {
    if (!this.renderer) throw new NervError('NO_GPU', 'this video decodes on the CPU backend');
    const { params, latents } = this.frameLatents(index);
    this.loadParams(params);
    const buffer = this.renderer.render(Float32Array.from(latents));
    return { buffer, device: this.renderer.ctx.device, width: this.info.width, height: this.info.height, colour: this.model.colour };
  }

  /** Frame `index` as 8-bit RGBA, width * height * 4 bytes. */
  async frame(index: number): Promise<Uint8ClampedArray> {
    const rgb = await this.frameRgb(index);
    const pixels = this.info.width * this.info.height;
    const out = new Uint8ClampedArray(pixels * 4);
    for (let p = 0; p < pixels; p++) {
      out[4 * p] = Math.round(rgb[3 * p] * 255);
      out[4 * p + 1] = Math.round(rgb[3 * p + 1] * 255);
      out[4 * p + 2] = Math.round(rgb[3 * p + 2] * 255);
      out[4 * p + 3] = 255;
    }
    return out;
  }

  async *frames(): AsyncIterableIterator<Uint8ClampedArray> {
    for (let i = 0; i < this.info.frameCount; i++) yield await this.frame(i);
  }
}

/** The header's model (already validated field by field when the header was parsed). */
export function modelOfHeader(header: NervHeader): ModelDescription {
  return header.model;
}

export function open(bytes: Uint8Array, options?: OpenOptions): Promise<NervVideo> {
  return NervVideo.open(bytes, options);
}
