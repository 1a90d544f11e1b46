import type { GpuContext } from '../gpu/context.ts';
import { GpuNetwork } from './network_gpu.ts';
import type { ModelDescription } from './model.ts';

/**
 * Batch-1 inference on the GPU: the exact code path the decoder runs, so the PSNR the encoder
 * measures with it is the PSNR the file plays at (closed loop).
 */
export class GpuRenderer {
  private readonly net: GpuNetwork;
  private readonly slots: number[];

  constructor(ctx: GpuContext, readonly model: ModelDescription) {
    this.net = new GpuNetwork(ctx, model, 1);
    this.slots = Array.from({ length: model.groupSize }, (_, j) => this.net.addSlot({ frames: [j] }));
  }

  get device(): GPUDevice {
    return this.net.ctx.device;
  }

  setParameters(params: Float32Array[]): void {
    this.net.setParameters(params);
  }

  /** Runs frame `j` of the loaded group; the result stays in `output` ([height, width, 3], unclamped). */
  render(frameInGroup: number): GPUBuffer {
    this.net.ctx.run(this.forward(frameInGroup));
    return this.net.output;
  }

  /** Frame `j` of the loaded group as float RGB (unclamped), read back to the CPU. */
  async renderToCpu(frameInGroup: number): Promise<Float32Array> {
    this.render(frameInGroup);
    return (await this.net.ctx.read(this.net.output, this.model.width * this.model.height * 3)).slice();
  }

  private readonly graphs = new Map<number, ReturnType<GpuNetwork['forwardPrograms']>>();
  private forward(j: number) {
    let graph = this.graphs.get(j);
    if (!graph) {
      graph = this.net.forwardPrograms(this.slots[j]);
      this.graphs.set(j, graph);
    }
    return graph;
  }
}

/** Decoder output as 8-bit RGBA (clamped, rounded): what a player shows and what PSNR is measured on. */
export function toRgba(rgb: Float32Array, pixels: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    out[p * 4] = Math.round(rgb[p * 3] * 255);
    out[p * 4 + 1] = Math.round(rgb[p * 3 + 1] * 255);
    out[p * 4 + 2] = Math.round(rgb[p * 3 + 2] * 255);
    out[p * 4 + 3] = 255;
  }
  return out;
}
