// Gradient of latent_upsample as a gather (no float atomics in WGSL): each latent of the slot sums
// dF over the pixels whose bilinear taps touch it, weighted exactly as the forward pass weighs it.
// The pixel window is +-(1.5 stride + 1) around the latent's centre, widened at clamped edges.
struct Level { stride: u32, width: u32, height: u32, offset: u32 }

@group(0) @binding(0) var<storage, read> dFeatures: array<f32>;
@group(0) @binding(1) var<uniform> levels: array<Level, 12>;
@group(0) @binding(2) var<storage, read_write> dLatents: array<f32>;

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override LEVELS: u32;
override PER_FRAME: u32;
override GRID_X: u32;

struct Tap { i0: u32, i1: u32, f: f32 }

fn axisTap(p: u32, stride: u32, size: u32) -> Tap {
  let g = clamp((f32(p) + 0.5) / f32(stride) - 0.5, 0.0, f32(size - 1u));
  let i0 = min(u32(g), size - 1u);
  return Tap(i0, min(i0 + 1u, size - 1u), g - f32(i0));
}

/** Weight of latent `i` in pixel p's interpolation along one axis. */
fn weightOf(t: Tap, i: u32) -> f32 {
  return select(0.0, 1.0 - t.f, t.i0 == i) + select(0.0, t.f, t.i1 == i);
}

/** Pixels [lo, hi] along an axis of `size` pixels that may read latent i of a level of `cells` cells. */
fn window(i: u32, stride: u32, cells: u32, size: u32) -> vec2u {
  let centre = i * stride + stride / 2u;
  let reach = stride + stride / 2u + 1u;
  var lo = select(0u, centre - reach, centre > reach);
  var hi = min(size - 1u, centre + reach);
  if (i == 0u) { lo = 0u; }
  if (i + 1u == cells) { hi = size - 1u; }
  return vec2u(lo, hi);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let linear = gid.y * GRID_X + gid.x;
  if (linear >= FRAMES * PER_FRAME) { return; }
  let j = linear / PER_FRAME;
  let r = linear % PER_FRAME;
  var l = 0u;
  for (var k = 1u; k < LEVELS; k++) {
    if (levels[k].offset <= r) { l = k; }
  }
  let level = levels[l];
  let cy = (r - level.offset) / level.width;
  let cx = (r - level.offset) % level.width;
  let xs = window(cx, level.stride, level.width, WIDTH);
  let ys = window(cy, level.stride, level.height, HEIGHT);
  var sum = 0.0;
  for (var py = ys.x; py <= ys.y; py++) {
    let wy = weightOf(axisTap(py, level.stride, level.height), cy);
    if (wy == 0.0) { continue; }
    let row = (j * HEIGHT + py) * WIDTH;
    for (var px = xs.x; px <= xs.y; px++) {
      let wx = weightOf(axisTap(px, level.stride, level.width), cx);
      sum += wy * wx * dFeatures[(row + px) * LEVELS + l];
    }
  }
  dLatents[linear] = sum;
}
