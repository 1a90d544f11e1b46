// From the synthesis output (float [H * W, 3], unclamped) to the 8-bit samples a file stands for:
// the decoder, the encoder's closed-loop measurement and the player all use these.
import { createYuvFrame, type YuvFrame } from '../video/color.ts';

const toCode = (v: number) => {
  const c = Math.round(v * 255);
  return c < 0 ? 0 : c > 255 ? 255 : c;
};

/** Y at full resolution, Cb and Cr as the 2x2 mean of the synthesized samples (the pixels that exist at odd edges). */
export function synthesisToYuv420(out: Float32Array, width: number, height: number): YuvFrame {
  const frame = createYuvFrame(width, height, '420');
  for (let p = 0; p < width * height; p++) frame.y[p] = toCode(out[3 * p]);
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      let u = 0;
      let v = 0;
      let n = 0;
      for (let y = 2 * cy; y < Math.min(height, 2 * cy + 2); y++) {
        for (let x = 2 * cx; x < Math.min(width, 2 * cx + 2); x++) {
          u += out[3 * (y * width + x) + 1];
          v += out[3 * (y * width + x) + 2];
          n++;
        }
      }
      frame.u[cy * cw + cx] = toCode(u / n);
      frame.v[cy * cw + cx] = toCode(v / n);
    }
  }
  return frame;
}

/** 8-bit RGB samples, as floats in [0, 1] (what an RGB-coded file decodes to). */
export function synthesisToRgb(out: Float32Array): Float32Array {
  return out.map((v) => toCode(v) / 255);
}
