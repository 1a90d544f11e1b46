import { BadArgumentError } from '../errors.ts';
import type { ModelDescription } from '../nn/model.ts';
import type { RgbFrame } from '../video/frame.ts';
import { targetFloatsPerFrame } from '../gpu/kernels/latents.ts';

/**
 * Source frames in the loss kernel's layout, frame-major: for yuv420 the 8-bit planes as code / 255
 * (Y, then Cb and Cr at half size), so the distortion is measured on the samples the file stands
 * for; for rgb the interleaved float RGB.
 */
export function frameTargets(model: Pick<ModelDescription, 'colour' | 'width' | 'height'>, frames: RgbFrame[]): Float32Array {
  const perFrame = targetFloatsPerFrame(model);
  const out = new Float32Array(frames.length * perFrame);
  frames.forEach((frame, j) => {
    if (frame.width !== model.width || frame.height !== model.height) {
      throw new BadArgumentError(`frame is ${frame.width}x${frame.height}, the model is ${model.width}x${model.height}`);
    }
    const base = j * perFrame;
    if (model.colour === 'rgb') {
      out.set(frame.data, base);
      return;
    }
    const yuv = frame.yuv;
    if (!yuv || yuv.chroma !== '420') throw new BadArgumentError('a yuv420 model needs frames that carry 4:2:0 planes');
    const planes = [yuv.y, yuv.u, yuv.v];
    let at = base;
    for (const plane of planes) {
      for (let i = 0; i < plane.length; i++) out[at + i] = plane[i] / 255;
      at += plane.length;
    }
  });
  return out;
}
