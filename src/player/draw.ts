// Draws decoded frames (float RGB HWC storage buffers, left on the GPU by the decoder) to a canvas
// with one full-screen triangle: the fragment shader reads its pixel from the buffer, clamps to [0,1]
// and the 8-bit canvas format rounds, which is exactly what the CPU-side toRgba produces.
import { NervError } from '../errors.ts';

const DRAW_WGSL = /* wgsl */ `
struct Frame { width: u32, height: u32, stride: u32, pad: u32 }
@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> rgb: array<f32>;

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
  let i = (y * frame.stride + x) * 3u;
  let c = clamp(vec3f(rgb[i], rgb[i + 1u], rgb[i + 2u]), vec3f(0.0), vec3f(1.0));
  return vec4f(c, 1.0);
}
`;

export interface FrameSize {
  width: number;
  height: number;
  /** Pixels per buffer row (>= width); defaults to width. */
  stride?: number;
}

/** A WebGPU canvas that shows frame buffers; bind groups are cached per buffer (the ring is fixed). */
export class FrameCanvas {
  readonly context: GPUCanvasContext;
  readonly format: GPUTextureFormat;
  private readonly pipeline: GPURenderPipeline;
  private readonly uniform: GPUBuffer;
  private readonly bindGroups = new WeakMap<GPUBuffer, GPUBindGroup>();
  private size: Required<FrameSize> = { width: 0, height: 0, stride: 0 };

  constructor(readonly canvas: HTMLCanvasElement | OffscreenCanvas, readonly device: GPUDevice) {
    const context = canvas.getContext('webgpu') as GPUCanvasContext | null;
    if (!context) throw new NervError('NO_GPU', 'this canvas cannot show WebGPU content (getContext("webgpu") returned null)');
    this.context = context;
    this.format = navigator.gpu.getPreferredCanvasFormat();
    context.configure({ device, format: this.format, alphaMode: 'opaque' });
    const module = device.createShaderModule({ code: DRAW_WGSL, label: 'nerv-draw' });
    this.pipeline = device.createRenderPipeline({
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: { module, entryPoint: 'fs', targets: [{ format: this.format }] },
      primitive: { topology: 'triangle-list' },
      label: 'nerv-draw',
    });
    this.uniform = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'nerv-draw-frame' });
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
