// 3x3 convolution, stride 1, zero "same" padding, NHWC. Also computes dx = conv(dy, flipped and
// transposed w) for the backward pass. Input channels are padded to IC4 vec4s and the weights packed
// as [ky][kx][IC4*4][OC4] vec4 (the factory repacks when a channel count is not a multiple of 4).
// One invocation: TILE_X pixels along x times TILE_OC4 vec4s of output channels, in registers;
// the tile loops below are unrolled by the generator in src/gpu/kernels/conv3x3.ts.
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<{{WEIGHT_SPACE}}> wt: array<vec4f, {{WEIGHT_VEC4S}}>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const N: u32 = {{N}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const IC4: u32 = {{IC4}}u;
const OC4: u32 = {{OC4}}u;
const OUT_C: u32 = {{OUT_C}}u;
const TILE_X: u32 = {{TILE_X}}u;
const TILE_OC4: u32 = {{TILE_OC4}}u;
const TILES_X: u32 = (W + TILE_X - 1u) / TILE_X;
const PIXEL_TILES: u32 = N * H * TILES_X;
const TAP_STRIDE: u32 = IC4 * 4u * OC4; // vec4s per (ky, kx)

// x[row, sx, c4], zero outside the image row (the index is clamped so it is always in bounds).
fn loadX(rowBase: u32, sx: i32, c4: u32) -> vec4f {
  let inside = sx >= 0 && sx < i32(W);
  let v = x[(rowBase + u32(clamp(sx, 0, i32(W) - 1))) * IC4 + c4];
  return select(vec4f(0.0), v, inside);
}

fn loadBias(c4: u32) -> vec4f {
  var b = vec4f(0.0);
  for (var k = 0u; k < 4u; k++) {
    if (c4 * 4u + k < OUT_C) { b[k] = bias[c4 * 4u + k]; }
  }
  return b;
}

fn store(pixel: u32, c4: u32, v: vec4f) {
  let base = pixel * OUT_C + c4 * 4u;
  for (var k = 0u; k < 4u; k++) {
    if (c4 * 4u + k < OUT_C) { y[base + k] = v[k]; }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tile = gid.x;
  if (tile >= PIXEL_TILES) { return; }
  let oc0 = wid.y * TILE_OC4; // first output vec4 of this tile: uniform over the workgroup
  let row = tile / TILES_X; // n * H + py
  let py = row % H;
  let x0 = i32((tile % TILES_X) * TILE_X);
{{DECLARE}}
  for (var ky = 0u; ky < 3u; ky++) {
    let sy = i32(py + ky) - 1;
    if (sy < 0 || sy >= i32(H)) { continue; }
    let rowBase = (row - py + u32(sy)) * W;
    for (var c4 = 0u; c4 < IC4; c4++) {
{{LOAD}}
      let wBase = ky * 3u * TAP_STRIDE + c4 * 4u * OC4 + oc0;
{{ACCUMULATE}}
    }
  }
  let pixel0 = row * W + u32(x0);
{{STORE}}
}
