// dgrid [T, HG, WG, C] (overwritten) as a deterministic gather: one invocation per grid cell and
// CG channels sums dy over exactly the pixels and frames whose interpolation footprint includes the
// cell. The pixel window is computed analytically (plus a margin of one), and each pixel's weight is
// recomputed with the forward's formula, so clamped borders (where both taps land on one cell) count twice.
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> times: array<f32>;
@group(0) @binding(2) var<storage, read_write> dgrid: array<f32>;

const N: u32 = {{N}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const T: u32 = {{T}}u;
const HG: u32 = {{HG}}u;
const WG: u32 = {{WG}}u;
const C: u32 = {{C}}u;
const OUT_C: u32 = {{OUT_C}}u;
const OFFSET: u32 = {{OFFSET}}u;
const CG: u32 = {{CG}}u; // channels per invocation
const GROUPS: u32 = (C + CG - 1u) / CG;

struct Tap { i0: u32, i1: u32, f: f32 }

fn axisTap(p: u32, size: u32, gridSize: u32) -> Tap {
  let g = clamp(f32((2u * p + 1u) * gridSize) / f32(2u * size) - 0.5, 0.0, f32(gridSize - 1u));
  let i0 = min(u32(g), gridSize - 1u);
  return Tap(i0, min(i0 + 1u, gridSize - 1u), g - f32(i0));
}

fn timeTap(t: f32) -> Tap {
  let g = clamp(t, 0.0, f32(T - 1u));
  let i0 = min(u32(g), T - 1u);
  return Tap(i0, min(i0 + 1u, T - 1u), g - f32(i0));
}

// Weight that a tap gives to `cell` (both halves when clamping made i0 == i1 == cell).
fn tapWeight(tap: Tap, cell: u32) -> f32 {
  return select(0.0, 1.0 - tap.f, tap.i0 == cell) + select(0.0, tap.f, tap.i1 == cell);
}

// Pixels p whose grid coordinate lies in (cell - 1, cell + 1): p in ((2cell - 1) size - gridSize) / (2 gridSize)
// .. ((2cell + 3) size - gridSize) / (2 gridSize), widened by one for rounding; pixels beyond the
// clamped edges are inside this range at cell 0 and gridSize - 1.
fn windowStart(cell: u32, size: u32, gridSize: u32) -> u32 {
  let lo = (i32(2u * cell) - 1) * i32(size) - i32(gridSize);
  return u32(max(lo / i32(2u * gridSize) - 1, 0));
}

fn windowEnd(cell: u32, size: u32, gridSize: u32) -> u32 {
  let hi = i32((2u * cell + 3u) * size) - i32(gridSize);
  return u32(clamp(hi / i32(2u * gridSize) + 2, 0, i32(size)));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let job = gid.x;
  if (job >= T * HG * WG * GROUPS) { return; }
  let c0 = (job % GROUPS) * CG;
  let cell = job / GROUPS;
  let gx = cell % WG;
  let gy = (cell / WG) % HG;
  let t = cell / (WG * HG);
  let y0 = windowStart(gy, H, HG);
  let y1 = windowEnd(gy, H, HG);
  let x0 = windowStart(gx, W, WG);
  let x1 = windowEnd(gx, W, WG);
  var acc: array<f32, CG>;
  for (var j = 0u; j < N; j++) {
    let wt = tapWeight(timeTap(times[j]), t);
    if (wt == 0.0) { continue; }
    for (var py = y0; py < y1; py++) {
      let wy = wt * tapWeight(axisTap(py, H, HG), gy);
      if (wy == 0.0) { continue; }
      let rowBase = (j * H + py) * W;
      for (var px = x0; px < x1; px++) {
        let weight = wy * tapWeight(axisTap(px, W, WG), gx);
        let base = (rowBase + px) * OUT_C + OFFSET + c0;
        for (var k = 0u; k < CG; k++) {
          if (c0 + k < C) { acc[k] += weight * dy[base + k]; }
        }
      }
    }
  }
  for (var k = 0u; k < CG; k++) {
    if (c0 + k < C) { dgrid[cell * C + c0 + k] = acc[k]; }
  }
}
