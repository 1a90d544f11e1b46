// The gradient of the loss with respect to each latent of the slot, gathered (no float atomics):
// distortion (through the upsampling) + its own rate + what every consumer's context row sends
// back (dctxA from the MLP's first layer, dctxB from the linear path), times the slope of the
// quantization proxy. Consumers are the latents whose taps read this one: its non-anchor
// neighbours ('current'), the next frame of the slot ('previous'), its children ('parent'), its
// children in the next frame of the slot ('previous-parent').
struct Level { stride: u32, width: u32, height: u32, offset: u32 }
struct TapInfo { source: u32, dy: i32, dx: i32, unused: u32 }
struct Slot { first: u32, count: u32, previousValid: u32, unused: u32 }

@group(0) @binding(0) var<storage, read> dDistortion: array<f32>;
@group(0) @binding(1) var<storage, read> dRate: array<f32>;
@group(0) @binding(2) var<storage, read> dctxA: array<f32>;
@group(0) @binding(3) var<storage, read> dctxB: array<f32>;
@group(0) @binding(4) var<storage, read> slope: array<f32>;
@group(0) @binding(5) var<uniform> levels: array<Level, 12>;
@group(0) @binding(6) var<uniform> taps: array<TapInfo, 32>;
@group(0) @binding(7) var<uniform> slot: Slot;
@group(0) @binding(8) var<storage, read_write> grad: array<f32>;

override LEVELS: u32;
override TAPS: u32;
override PER_FRAME: u32;
override RASTER: bool;
override GRID_X: u32;

fn consumer(c: u32, k: u32) -> f32 {
  let at = c * (TAPS + 2u) + k;
  return dctxA[at] + dctxB[at];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n = slot.count * PER_FRAME;
  let i = gid.y * GRID_X + gid.x;
  if (i >= n) { return; }
  let j = i / PER_FRAME;
  let frameStart = j * PER_FRAME;
  let r = i % PER_FRAME;
  var l = 0u;
  for (var k = 1u; k < LEVELS; k++) {
    if (levels[k].offset <= r) { l = k; }
  }
  let level = levels[l];
  let y = i32((r - level.offset) / level.width);
  let x = i32((r - level.offset) % level.width);
  let h = i32(level.height);
  let w = i32(level.width);
  var g = dDistortion[i] + dRate[i];
  for (var k = 0u; k < TAPS; k++) {
    let tap = taps[k];
    if (tap.source == 0u) {
      let cy = y - tap.dy;
      let cx = x - tap.dx;
      let readsCurrent = RASTER || ((cx + cy) & 1) == 1;
      if (cy >= 0 && cx >= 0 && cy < h && cx < w && readsCurrent) {
        g += consumer(frameStart + level.offset + u32(cy * w + cx), k);
      }
    } else if (tap.source == 1u) {
      let cy = y - tap.dy;
      let cx = x - tap.dx;
      if (j + 1u < slot.count && cy >= 0 && cx >= 0 && cy < h && cx < w) {
        g += consumer(frameStart + PER_FRAME + level.offset + u32(cy * w + cx), k);
      }
    } else if (l > 0u && (tap.source == 2u || j + 1u < slot.count)) {
      let child = levels[l - 1u];
      let childFrame = select(frameStart, frameStart + PER_FRAME, tap.source == 3u);
      let py = 2 * (y - tap.dy);
      let px = 2 * (x - tap.dx);
      for (var ey = 0; ey < 2; ey++) {
        for (var ex = 0; ex < 2; ex++) {
          let cy = py + ey;
          let cx = px + ex;
          if (cy >= 0 && cx >= 0 && cy < i32(child.height) && cx < i32(child.width)) {
            g += consumer(childFrame + child.offset + u32(cy) * child.width + u32(cx), k);
          }
        }
      }
    }
  }
  grad[i] = g * slope[i];
}
