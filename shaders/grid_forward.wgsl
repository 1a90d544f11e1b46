// Samples a learned grid [T, HG, WG, C] trilinearly at every pixel of frame j (time times[j]) and
// writes the C values into channels [OFFSET, OFFSET + C) of y [N, H, W, OUT_C]; other channels untouched.
@group(0) @binding(0) var<storage, read> grid: array<f32>;
@group(0) @binding(1) var<storage, read> times: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const N: u32 = {{N}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const T: u32 = {{T}}u;
const HG: u32 = {{HG}}u;
const WG: u32 = {{WG}}u;
const C: u32 = {{C}}u;
const OUT_C: u32 = {{OUT_C}}u;
const OFFSET: u32 = {{OFFSET}}u;

struct Tap { i0: u32, i1: u32, f: f32 }

// align_corners=false: g = (2p + 1) * gridSize / (2 size) - 0.5, clamped to the grid.
fn axisTap(p: u32, size: u32, gridSize: u32) -> Tap {
  let g = clamp(f32((2u * p + 1u) * gridSize) / f32(2u * size) - 0.5, 0.0, f32(gridSize - 1u));
  let i0 = min(u32(g), gridSize - 1u);
  return Tap(i0, min(i0 + 1u, gridSize - 1u), g - f32(i0));
}

fn timeTap(t: f32) -> Tap {
  let g = clamp(t, 0.0, f32(T - 1u));
  let i0 = min(u32(g), T - 1u); // also in bounds for a NaN time
  return Tap(i0, min(i0 + 1u, T - 1u), g - f32(i0));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let pixel = gid.x;
  if (pixel >= N * H * W) { return; }
  let px = pixel % W;
  let py = (pixel / W) % H;
  let j = pixel / (W * H);
  let tt = timeTap(times[j]);
  let ty = axisTap(py, H, HG);
  let tx = axisTap(px, W, WG);
  // The 8 corners: (time, row) pairs with their weights, each blending two columns.
  let r00 = ((tt.i0 * HG + ty.i0) * WG) * C;
  let r01 = ((tt.i0 * HG + ty.i1) * WG) * C;
  let r10 = ((tt.i1 * HG + ty.i0) * WG) * C;
  let r11 = ((tt.i1 * HG + ty.i1) * WG) * C;
  let w00 = (1.0 - tt.f) * (1.0 - ty.f);
  let w01 = (1.0 - tt.f) * ty.f;
  let w10 = tt.f * (1.0 - ty.f);
  let w11 = tt.f * ty.f;
  let c0 = tx.i0 * C;
  let c1 = tx.i1 * C;
  let fx = tx.f;
  let base = pixel * OUT_C + OFFSET;
  for (var c = 0u; c < C; c++) {
    let v00 = mix(grid[r00 + c0 + c], grid[r00 + c1 + c], fx);
    let v01 = mix(grid[r01 + c0 + c], grid[r01 + c1 + c], fx);
    let v10 = mix(grid[r10 + c0 + c], grid[r10 + c1 + c], fx);
    let v11 = mix(grid[r11 + c0 + c], grid[r11 + c1 + c], fx);
    y[base + c] = w00 * v00 + w01 * v01 + w10 * v10 + w11 * v11;
  }
}
