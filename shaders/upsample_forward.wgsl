// Bilinear upsampling by S, align_corners=false: x [N,H,W,C] -> y [N,H*S,W*S,C]; one invocation per output pixel.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

const N: u32 = {{N}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const C: u32 = {{C}}u;
const S: u32 = {{S}}u;

struct Tap { i0: u32, i1: u32, f: f32 }

// Source coordinate (o + 0.5) / S - 0.5 written as (2o + 1) / (2S) - 0.5, clamped to [0, size - 1].
fn tap(o: u32, size: u32) -> Tap {
  let g = clamp(f32(2u * o + 1u) / f32(2u * S) - 0.5, 0.0, f32(size - 1u));
  let i0 = min(u32(g), size - 1u);
  return Tap(i0, min(i0 + 1u, size - 1u), g - f32(i0));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let pixel = gid.x;
  if (pixel >= N * H * S * W * S) { return; }
  let ox = pixel % (W * S);
  let oy = (pixel / (W * S)) % (H * S);
  let b = pixel / (W * S * H * S);
  let ty = tap(oy, H);
  let tx = tap(ox, W);
  let r0 = (b * H + ty.i0) * W;
  let r1 = (b * H + ty.i1) * W;
  let p00 = (r0 + tx.i0) * C;
  let p01 = (r0 + tx.i1) * C;
  let p10 = (r1 + tx.i0) * C;
  let p11 = (r1 + tx.i1) * C;
  for (var k = 0u; k < C; k++) {
    let top = mix(x[p00 + k], x[p01 + k], tx.f);
    let bottom = mix(x[p10 + k], x[p11 + k], tx.f);
    y[pixel * C + k] = mix(top, bottom, ty.f);
  }
}
