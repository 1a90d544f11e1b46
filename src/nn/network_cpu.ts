import { gridSampleForwardCpu } from '../cpu/grid.ts';
import { denseForwardCpu } from '../cpu/dense.ts';
import { activationForwardCpu } from '../cpu/activation.ts';
import { conv3x3ForwardCpu } from '../cpu/conv3x3.ts';
import { featureChannels, gridSampleShapes, gridTime, type ModelDescription } from './model.ts';

/**
 * The forward pass on the CPU reference kernels: the decoder's fallback where no WebGPU adapter
 * exists, and the oracle the GPU network is tested against.
 */
export function forwardCpu(model: ModelDescription, params: Float32Array[], frameInGroup: number): Float32Array {
  const { width: w, height: h } = model;
  const outChannels = featureChannels(model);
  let features: Float32Array = new Float32Array(w * h * outChannels);
  gridSampleShapes(model, 1).forEach((shape, i) => {
    const times = Float32Array.of(gridTime(model.grids[i], frameInGroup, model.groupSize));
    features = gridSampleForwardCpu(shape, params[i], times, features);
  });
  let x: Float32Array = features;
  let inC = outChannels;
  let p = model.grids.length;
  for (const outC of model.hidden) {
    const pre = denseForwardCpu(x, params[p], params[p + 1], { rows: w * h, inC, outC });
    x = activationForwardCpu(pre, { count: w * h * outC, kind: model.activation });
    inC = outC;
    p += 2;
  }
  return model.outputKernel === 3
    ? conv3x3ForwardCpu({ n: 1, h, w, inC, outC: 3 }, x, params[p], params[p + 1])
    : denseForwardCpu(x, params[p], params[p + 1], { rows: w * h, inC, outC: 3 });
}

export class CpuRenderer {
  private params: Float32Array[] = [];
  constructor(readonly model: ModelDescription) {}

  setParameters(params: Float32Array[]): void {
    this.params = params;
  }

  async renderToCpu(frameInGroup: number): Promise<Float32Array> {
    return forwardCpu(this.model, this.params, frameInGroup);
  }
}
