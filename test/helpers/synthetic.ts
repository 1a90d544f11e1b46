// A valid .nerv file built without training (random networks and latents, really entropy-coded),
// for format, decoder and fuzz tests that must not need a GPU.
import { describeModel, initialParameters, latentsPerFrame, mulberry32, type ModelDescription } from '../../src/nn/model.ts';
import { latentCoder } from '../../src/entropy/latents.ts';
import { armTensorsOf, quantizeTensor } from '../../src/quant/networks.ts';
import { headerTensors, writeNerv, type NervGroup, type NervHeader, type QuantizedTensor } from '../../src/format/nerv.ts';
import { modelTensors } from '../../src/nn/model.ts';

export interface SyntheticFile {
  bytes: Uint8Array;
  header: NervHeader;
  groups: NervGroup[];
  /** Every group's network tensors as a decoder resolves them, and every frame's latents. */
  tensors: QuantizedTensor[][];
  latents: Int32Array[][];
}

export interface SyntheticOptions {
  width?: number;
  height?: number;
  frameCount?: number;
  groupSize?: number;
  keyInterval?: number;
  colour?: 'yuv420' | 'rgb';
  seed?: number;
  model?: ModelDescription;
}

export function syntheticNerv(options: SyntheticOptions = {}): SyntheticFile {
  const { width = 24, height = 14, frameCount = 7, groupSize = 3, keyInterval = 2, colour = 'yuv420', seed = 1 } = options;
  const model = options.model ?? describeModel(width, height, groupSize, { colour });
  const random = mulberry32(seed);
  const specs = modelTensors(model);
  const perFrame = latentsPerFrame(model);
  const groups: NervGroup[] = [];
  const tensorsPerGroup: QuantizedTensor[][] = [];
  const latentsPerGroup: Int32Array[][] = [];
  let current: QuantizedTensor[] | undefined;
  let lastFrame: Int32Array | undefined;
  for (let k = 0, first = 0; first < frameCount; k++, first += groupSize) {
    const key = k % keyInterval === 0;
    const frames = Math.min(groupSize, frameCount - first);
    let coded: QuantizedTensor[] | undefined;
    if (key || random() < 0.5) {
      const params = initialParameters(model, seed * 100 + k);
      coded = specs.map((spec, i) =>
        quantizeTensor(
          spec,
          params[i].map((v) => v + (random() - 0.5) * 0.1),
          2 ** -(spec.role === 'arm' ? 6 : 8),
        ),
      );
      current = coded;
    }
    // Latents that mostly repeat the previous frame's, as static video does.
    const latents: Int32Array[] = [];
    for (let j = 0; j < frames; j++) {
      const before = j > 0 || !key ? lastFrame : undefined;
      lastFrame = Int32Array.from({ length: perFrame }, (_, i) => (before && random() < 0.7 ? before[i] : Math.round((random() - 0.5) * 12)));
      latents.push(lastFrame);
    }
    const previous = key ? undefined : latentsPerGroup.at(-1)!.at(-1);
    const stream = latentCoder(model, armTensorsOf(specs, current!)).encode(latents, previous).bytes;
    groups.push({ key, tensors: coded, latents: stream });
    tensorsPerGroup.push(current!);
    latentsPerGroup.push(latents);
  }
  const header: NervHeader = {
    width: model.width,
    height: model.height,
    frameCount,
    fps: { num: 30000, den: 1001 },
    colorSpace: colour === 'rgb' ? 'srgb' : 'bt709',
    colorRange: 'limited',
    groupSize,
    keyInterval,
    lambda: 2 ** -9,
    segment: { firstFrame: 0, videoFrames: frameCount },
    model,
  };
  if (headerTensors(header).length !== specs.length) throw new Error('tensor list mismatch');
  return { bytes: writeNerv(header, groups), header, groups, tensors: tensorsPerGroup, latents: latentsPerGroup };
}
