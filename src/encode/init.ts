import { latentLevels, type ModelDescription } from '../nn/model.ts';

/**
 * A starting point for a key group's latents: a Laplacian pyramid of each frame's luma (level l holds
 * the detail between box averages at strides s_l and 2 s_l; the coarsest level the average itself,
 * centred on mid-grey), times `gain`. Training from informative latents rather than zeros spends its
 * first steps on the networks instead of growing the latents out of noise.
 */
export function pyramidLatents(model: ModelDescription, targets: Float32Array, frames: number, gain: number): Float32Array {
  const levels = latentLevels(model);
  const perFrame = levels.reduce((sum, l) => sum + l.size, 0);
  const { width: W, height: H } = model;
  const targetFloats = targets.length / frames;
  const out = new Float32Array(frames * perFrame);
  for (let j = 0; j < frames; j++) {
    // Luma (or RGB's mean) at full resolution.
    const luma = new Float32Array(W * H);
    for (let p = 0; p < W * H; p++) {
      luma[p] = model.colour === 'yuv420' ? targets[j * targetFloats + p] : (targets[j * targetFloats + 3 * p] + targets[j * targetFloats + 3 * p + 1] + targets[j * targetFloats + 3 * p + 2]) / 3;
    }
    const averages = levels.map((level) => boxAverage(luma, W, H, level.stride, level.width, level.height));
    levels.forEach((level, l) => {
      const avg = averages[l];
      const coarser = l + 1 < levels.length ? levels[l + 1] : undefined;
      for (let y = 0; y < level.height; y++) {
        for (let x = 0; x < level.width; x++) {
          const parent = coarser ? averages[l + 1][(y >> 1) * coarser.width + (x >> 1)] : 0.5;
          out[j * perFrame + level.offset + y * level.width + x] = gain * (avg[y * level.width + x] - parent);
        }
      }
    });
  }
  return out;
}

function boxAverage(plane: Float32Array, W: number, H: number, stride: number, gw: number, gh: number): Float32Array {
  const out = new Float32Array(gw * gh);
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      let sum = 0;
      let n = 0;
      for (let y = gy * stride; y < Math.min(H, (gy + 1) * stride); y++) {
        for (let x = gx * stride; x < Math.min(W, (gx + 1) * stride); x++) {
          sum += plane[y * W + x];
          n++;
        }
      }
      out[gy * gw + gx] = sum / n;
    }
  }
  return out;
}
