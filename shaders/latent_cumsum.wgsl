// Latents of a group parametrised as changes: frame t's latents are base + delta_0 + ... + delta_t,
// with base the previous group's last frame (zeros for a key group). Training then keeps a latent
// the same from frame to frame unless changing it pays, which is what makes static content cheap.
// Forward (SUFFIX false): out[t] = base + prefix sum of in; backward (SUFFIX true): out[t] = suffix sum of in.
@group(0) @binding(0) var<storage, read> base: array<f32>;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override PER_FRAME: u32;
override FRAMES: u32;
override SUFFIX: bool;
override GRID_X: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * GRID_X + gid.x;
  if (i >= PER_FRAME) { return; }
  if (SUFFIX) {
    var acc = 0.0;
    for (var t = FRAMES; t > 0u; t--) {
      acc += values[(t - 1u) * PER_FRAME + i];
      out[(t - 1u) * PER_FRAME + i] = acc;
    }
  } else {
    var acc = base[i];
    for (var t = 0u; t < FRAMES; t++) {
      acc += values[t * PER_FRAME + i];
      out[t * PER_FRAME + i] = acc;
    }
  }
}
