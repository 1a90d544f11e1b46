// Distortion of synthesized frames pred [n, H, W, 3] against the source, in the video's colour space
// (src/cpu/latents.ts colourLossCpu): YUV420 = (6 MSE_Y + MSE_Cb + MSE_Cr) / 8 with chroma the 2x2
// average of the synthesized Cb/Cr (fewer pixels at odd edges) against the half-size source planes;
// RGB = mean squared error over all samples. One invocation per row of 2x2 blocks writes the
// gradient of its pixels and one partial sum.
@group(0) @binding(0) var<storage, read> pred: array<f32>;
@group(0) @binding(1) var<storage, read> reference: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override YUV420: bool;
override LUMA_WEIGHT: f32;   // yuv420: 6 / 8 / (n H W); rgb: 1 / (3 n H W)
override CHROMA_WEIGHT: f32; // yuv420: 1 / 8 / (n ceil(H/2) ceil(W/2))
override GRID_X: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let cw = (WIDTH + 1u) / 2u;
  let ch = (HEIGHT + 1u) / 2u;
  let id = gid.y * GRID_X + gid.x;
  if (id >= FRAMES * ch) { return; }
  let j = id / ch;
  let cy = id % ch;
  let frameSize = select(WIDTH * HEIGHT * 3u, WIDTH * HEIGHT + 2u * cw * ch, YUV420);
  let t0 = j * frameSize;
  let y0 = 2u * cy;
  let rows = min(2u, HEIGHT - y0);
  var sum = 0.0;
  for (var cx = 0u; cx < cw; cx++) {
    let x0 = 2u * cx;
    let cols = min(2u, WIDTH - x0);
    if (YUV420) {
      var chroma = vec2f(0.0);
      for (var dy = 0u; dy < rows; dy++) {
        for (var dx = 0u; dx < cols; dx++) {
          let p = (j * HEIGHT + y0 + dy) * WIDTH + x0 + dx;
          let d = pred[3u * p] - reference[t0 + (y0 + dy) * WIDTH + x0 + dx];
          sum += LUMA_WEIGHT * d * d;
          grad[3u * p] = 2.0 * LUMA_WEIGHT * d;
          chroma += vec2f(pred[3u * p + 1u], pred[3u * p + 2u]);
        }
      }
      let count = f32(rows * cols);
      let plane = t0 + WIDTH * HEIGHT + cy * cw + cx;
      let d = chroma / count - vec2f(reference[plane], reference[plane + cw * ch]);
      sum += CHROMA_WEIGHT * dot(d, d);
      let g = 2.0 * CHROMA_WEIGHT * d / count;
      for (var dy = 0u; dy < rows; dy++) {
        for (var dx = 0u; dx < cols; dx++) {
          let p = (j * HEIGHT + y0 + dy) * WIDTH + x0 + dx;
          grad[3u * p + 1u] = g.x;
          grad[3u * p + 2u] = g.y;
        }
      }
    } else {
      for (var dy = 0u; dy < rows; dy++) {
        for (var dx = 0u; dx < cols; dx++) {
          let p = (j * HEIGHT + y0 + dy) * WIDTH + x0 + dx;
          for (var c = 0u; c < 3u; c++) {
            let d = pred[3u * p + c] - reference[3u * p + c];
            sum += LUMA_WEIGHT * d * d;
            grad[3u * p + c] = 2.0 * LUMA_WEIGHT * d;
          }
        }
      }
    }
  }
  partial[id] = sum;
}
