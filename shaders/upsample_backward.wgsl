// Gradient of bilinear upsampling as a gather (no atomics): one invocation per input pixel and CG
// channels sums dy over the output pixels [(i-1)S, (i+2)S) per axis, the superset of those whose taps
// reach it; each weight is recomputed with the forward's formula (both taps count at clamped borders).
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;

const N: u32 = {{N}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const C: u32 = {{C}}u;
const S: u32 = {{S}}u;
const CG: u32 = {{CG}}u;
const GROUPS: u32 = (C + CG - 1u) / CG;

struct Tap { i0: u32, i1: u32, f: f32 }

fn tap(o: u32, size: u32) -> Tap {
  let g = clamp(f32(2u * o + 1u) / f32(2u * S) - 0.5, 0.0, f32(size - 1u));
  let i0 = min(u32(g), size - 1u);
  return Tap(i0, min(i0 + 1u, size - 1u), g - f32(i0));
}

fn tapWeight(t: Tap, cell: u32) -> f32 {
  return select(0.0, 1.0 - t.f, t.i0 == cell) + select(0.0, t.f, t.i1 == cell);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let job = gid.x;
  if (job >= N * H * W * GROUPS) { return; }
  let c0 = (job % GROUPS) * CG;
  let pixel = job / GROUPS;
  let ix = pixel % W;
  let iy = (pixel / W) % H;
  let b = pixel / (W * H);
  let y0 = max(i32(iy) - 1, 0) * i32(S);
  let y1 = min((iy + 2u) * S, H * S);
  let x0 = max(i32(ix) - 1, 0) * i32(S);
  let x1 = min((ix + 2u) * S, W * S);
  var acc: array<f32, CG>;
  for (var oy = u32(y0); oy < y1; oy++) {
    let wy = tapWeight(tap(oy, H), iy);
    if (wy == 0.0) { continue; }
    for (var ox = u32(x0); ox < x1; ox++) {
      let weight = wy * tapWeight(tap(ox, W), ix);
      let base = ((b * H * S + oy) * W * S + ox) * C + c0;
      for (var k = 0u; k < CG; k++) {
        if (c0 + k < C) { acc[k] += weight * dy[base + k]; }
      }
    }
  }
  for (var k = 0u; k < CG; k++) {
    if (c0 + k < C) { dx[pixel * C + c0 + k] = acc[k]; }
  }
}
