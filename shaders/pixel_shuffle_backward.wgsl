// Gradient of pixel shuffle: the inverse permutation (space to depth), one invocation per input pixel.
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;

const N: u32 = {{N}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const C: u32 = {{C}}u;
const R: u32 = {{R}}u;
const IN_C: u32 = C * R * R;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let pixel = gid.x;
  if (pixel >= N * H * W) { return; }
  let px = pixel % W;
  let row = pixel / W; // b * H + py
  for (var e = 0u; e < IN_C; e++) {
    let k = e / (R * R);
    let sy = (e / R) % R;
    let sx = e % R;
    dx[pixel * IN_C + e] = dy[((row * R + sy) * W * R + px * R + sx) * C + k];
  }
}
