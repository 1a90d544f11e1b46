// Bilinear upsampling of every latent level to the pixel grid (half-pixel centres, clamped at the
// edges): features[pixel, l] for the FRAMES frames starting at frame `first` of the latent buffer.
// Level strides are powers of two, so (p + 0.5) / s - 0.5 is exact in f32 and matches the CPU twin.
struct Level { stride: u32, width: u32, height: u32, offset: u32 }
struct Slot { first: u32, count: u32, previousValid: u32, unused: u32 }

@group(0) @binding(0) var<storage, read> latents: array<f32>;
@group(0) @binding(1) var<uniform> levels: array<Level, 12>;
@group(0) @binding(2) var<uniform> slot: Slot;
@group(0) @binding(3) var<storage, read_write> features: array<f32>;

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

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let linear = gid.y * GRID_X + gid.x;
  let pixels = FRAMES * HEIGHT * WIDTH;
  if (linear >= pixels) { return; }
  let x = linear % WIDTH;
  let y = (linear / WIDTH) % HEIGHT;
  let j = linear / (WIDTH * HEIGHT);
  let frameBase = (slot.first + j) * PER_FRAME;
  for (var l = 0u; l < LEVELS; l++) {
    let level = levels[l];
    let tx = axisTap(x, level.stride, level.width);
    let ty = axisTap(y, level.stride, level.height);
    let r0 = frameBase + level.offset + ty.i0 * level.width;
    let r1 = frameBase + level.offset + ty.i1 * level.width;
    let a = latents[r0 + tx.i0];
    let top = a + tx.f * (latents[r0 + tx.i1] - a);
    let c = latents[r1 + tx.i0];
    let bottom = c + tx.f * (latents[r1 + tx.i1] - c);
    features[linear * LEVELS + l] = top + ty.f * (bottom - top);
  }
}
