// Draws decoded frames (the synthesis output, float HWC storage buffers left on the GPU by the
// decoder) to a canvas with one full-screen triangle. RGB files: the fragment clamps its pixel to
// [0,1] and the 8-bit canvas format rounds. Y'CbCr 4:2:0 files: the fragment forms the same 8-bit
// samples the CPU decoder writes (Y' per pixel, Cb/Cr as the rounded mean of the 2x2 block) and
// converts them to RGB with the file's matrix and range, as src/video/color.ts does.
import { NervError } from '../errors.ts';

const DRAW_WGSL = /* wgsl */ `
struct Frame {
  width: u32, height: u32, stride: u32, yuv: u32,
  // Y'CbCr to RGB: code-value offset and scale of luma and chroma, then kr, kb, kg.
  yOffset: f32, yScale: f32, cScale: f32, kr: f32,
  kb: f32, kg: f32, pad0: f32, pad1: f32,
}
@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> samples: array<f32>;

fn code(v: f32) -> f32 { return clamp(round(v * 255.0), 0.0, 255.0); }

fn sample(x: u32, y: u32, c: u32) -> f32 { return samples[(y * frame.stride + x) * 3u + c]; }

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  let p = vec2f(f32((i << 1u) & 2u), f32(i & 2u));
  return vec4f(p * 2.0 - 1.0, 0.0, 1.0);
}

@fragment
fn fs(@builtin(position) position: vec4f) -> @location(0) vec4f {
  // The canvas has the frame's size, so each fragment is one pixel; the crop to width x height
  // (the buffer may be padded to a wider stride) is the min() below.
  let x = min(u32(position.x), frame.width - 1u);
  let y = min(u32(position.y), frame.height - 1u);
  if (frame.yuv == 0u) {
    return vec4f(clamp(vec3f(sample(x, y, 0u), sample(x, y, 1u), sample(x, y, 2u)), vec3f(0.0), vec3f(1.0)), 1.0);
  }
  let x0 = x & ~1u;
  let y0 = y & ~1u;
  let x1 = min(x0 + 1u, frame.width - 1u);
  let y1 = min(y0 + 1u, frame.height - 1u);
  let n = f32((x1 - x0 + 1u) * (y1 - y0 + 1u));
  var cbcr = vec2f(sample(x0, y0, 1u), sample(x0, y0, 2u));
  if (x1 != x0) { cbcr += vec2f(sample(x1, y0, 1u), sample(x1, y0, 2u)); }
  if (y1 != y0) { cbcr += vec2f(sample(x0, y1, 1u), sample(x0, y1, 2u)); }
  if (x1 != x0 && y1 != y0) { cbcr += vec2f(sample(x1, y1, 1u), sample(x1, y1, 2u)); }
  let luma = (code(sample(x, y, 0u)) - frame.yOffset) / frame.yScale;
  let cb = (code(cbcr.x / n) - 128.0) / frame.cScale;
  let cr = (code(cbcr.y / n) - 128.0) / frame.cScale;
  let r = luma + 2.0 * (1.0 - frame.kr) * cr;
  let b = luma + 2.0 * (1.0 - frame.kb) * cb;
  let g = luma - (2.0 * frame.kr * (1.0 - frame.kr) * cr + 2.0 * frame.kb * (1.0 - frame.kb) * cb) / frame.kg;
  return vec4f(clamp(vec3f(r, g, b), vec3f(0.0), vec3f(1.0)), 1.0);
}
`;

function drawPipelineDescriptor(device: GPUDevice, format: GPUTextureFormat): GPURenderPipelineDescriptor {
  const module = device.createShaderModule({ code: DRAW_WGSL, label: 'nerv-draw' });
  return {
    layout: 'auto',
    vertex: { module, entryPoint: 'vs' },
    fragment: { module, entryPoint: 'fs', targets: [{ format }] },
    primitive: { topology: 'triangle-list' },
    label: 'nerv-draw',
  };
}

export interface FrameSize {
  width: number;
  height: number;
  /** Pixels per buffer row (>= width); defaults to width. */
  stride?: number;
}

/** What the samples in a frame buffer are (NervInfo's fields). */
export interface FrameColour {
  colour: 'yuv420' | 'rgb';
  colorSpace: string;
  colorRange: string;
}

/** A WebGPU canvas that shows frame buffers; bind groups are cached per buffer (the ring is fixed). */
export class FrameCanvas {
  readonly context: GPUCanvasContext;
  readonly format: GPUTextureFormat;
  private readonly pipeline: GPURenderPipeline;
  private readonly uniform: GPUBuffer;
  private readonly bindGroups = new WeakMap<GPUBuffer, GPUBindGroup>();
  private size: Required<FrameSize> = { width: 0, height: 0, stride: 0 };

  /** `pipeline`: the draw pipeline for this device and the preferred canvas format (FrameCanvas.create compiles it without blocking). */
  constructor(
    readonly canvas: HTMLCanvasElement | OffscreenCanvas,
    readonly device: GPUDevice,
    pipeline?: GPURenderPipeline,
  ) {
    const context = canvas.getContext('webgpu') as GPUCanvasContext | null;
    if (!context) throw new NervError('NO_GPU', 'this canvas cannot show WebGPU content (getContext("webgpu") returned null)');
    this.context = context;
    this.format = navigator.gpu.getPreferredCanvasFormat();
    context.configure({ device, format: this.format, alphaMode: 'opaque' });
    this.pipeline = pipeline ?? device.createRenderPipeline(drawPipelineDescriptor(device, this.format));
    this.uniform = device.createBuffer({ size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'nerv-draw-frame' });
  }

  /** Like the constructor, with the draw pipeline compiled asynchronously (createRenderPipelineAsync). */
  static async create(canvas: HTMLCanvasElement | OffscreenCanvas, device: GPUDevice): Promise<FrameCanvas> {
    const pipeline = await device.createRenderPipelineAsync(drawPipelineDescriptor(device, navigator.gpu.getPreferredCanvasFormat()));
    return new FrameCanvas(canvas, device, pipeline);
  }

  /** How to turn the frames' samples into RGB (call before drawing; RGB by default). */
  setColour(colour: FrameColour): void {
    const full = colour.colorRange === 'full';
    const [kr, kb] = colour.colorSpace === 'bt709' ? [0.2126, 0.0722] : [0.299, 0.114];
    const words = new ArrayBuffer(32);
    const view = new DataView(words);
    view.setUint32(0, colour.colour === 'yuv420' ? 1 : 0, true);
    [full ? 0 : 16, full ? 255 : 219, full ? 255 : 224, kr, kb, 1 - kr - kb].forEach((v, i) => view.setFloat32(4 + 4 * i, v, true));
    this.device.queue.writeBuffer(this.uniform, 12, words, 0, 28);
  }

  /** Sizes the canvas's drawing buffer to the frame (CSS may scale it). */
  resize(size: FrameSize): void {
    const stride = size.stride ?? size.width;
    if (size.width === this.size.width && size.height === this.size.height && stride === this.size.stride) return;
    this.size = { width: size.width, height: size.height, stride };
    this.canvas.width = size.width;
    this.canvas.height = size.height;
    this.device.queue.writeBuffer(this.uniform, 0, Uint32Array.of(size.width, size.height, stride, 0));
  }

  /** Records and submits the draw of `buffer` (float RGB, [height][stride][3]) into the canvas. */
  draw(buffer: GPUBuffer): void {
    const needed = this.size.stride * this.size.height * 3 * 4;
    if (buffer.size < needed) throw new NervError('BAD_ARGUMENT', `frame buffer holds ${buffer.size} bytes, drawing needs ${needed}`);
    let bindGroup = this.bindGroups.get(buffer);
    if (!bindGroup) {
      bindGroup = this.device.createBindGroup({
        layout: this.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.uniform } },
          { binding: 1, resource: { buffer } },
        ],
      });
      this.bindGroups.set(buffer, bindGroup);
    }
    const encoder = this.device.createCommandEncoder({ label: 'nerv-draw' });
    const pass = encoder.beginRenderPass({
      colorAttachments: [{ view: this.context.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 1] }],
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.draw(3);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    this.context.unconfigure();
    this.uniform.destroy();
  }
}
