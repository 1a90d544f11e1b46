// Context rows of the entropy model: for each latent of the slot (frames first .. first + count - 1
// of the latent buffer; frame 0 holds the previous group's last frame), the values its taps read
// (0 outside the grid, above the coarsest level, before the first frame, or not yet decoded), then
// the flags "anchor" and "no previous frame". ctx is [count * PER_FRAME, TAPS + 2].
struct Level { stride: u32, width: u32, height: u32, offset: u32 }
struct TapInfo { source: u32, dy: i32, dx: i32, unused: u32 } // source: 0 current, 1 previous, 2 parent, 3 previous-parent
struct Slot { first: u32, count: u32, previousValid: u32, unused: u32 }

@group(0) @binding(0) var<storage, read> latents: array<f32>;
@group(0) @binding(1) var<uniform> levels: array<Level, 12>;
@group(0) @binding(2) var<uniform> taps: array<TapInfo, 32>;
@group(0) @binding(3) var<uniform> slot: Slot;
@group(0) @binding(4) var<storage, read_write> ctx: array<f32>;

override LEVELS: u32;
override TAPS: u32;
override PER_FRAME: u32;
override RASTER: bool; // false: checkerboard schedule
override GRID_X: u32;

fn levelOf(r: u32) -> u32 {
  var l = 0u;
  for (var k = 1u; k < LEVELS; k++) {
    if (levels[k].offset <= r) { l = k; }
  }
  return l;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * GRID_X + gid.x;
  if (i >= slot.count * PER_FRAME) { return; }
  let frame = slot.first + i / PER_FRAME;
  let r = i % PER_FRAME;
  let l = levelOf(r);
  let level = levels[l];
  let y = i32((r - level.offset) / level.width);
  let x = i32((r - level.offset) % level.width);
  let anchor = !RASTER && ((x + y) & 1) == 0;
  let noPrevious = frame == 1u && slot.previousValid == 0u;
  let D = TAPS + 2u;
  for (var k = 0u; k < TAPS; k++) {
    let tap = taps[k];
    var value = 0.0;
    // A tap's frame (this one or the previous) and its level (this one or the next coarser) are independent.
    let fromPrevious = tap.source == 1u || tap.source == 3u;
    let fromParent = tap.source >= 2u;
    let f = select(frame, frame - 1u, fromPrevious);
    let lv = select(l, l + 1u, fromParent);
    let ty = select(y, y >> 1u, fromParent) + tap.dy;
    let tx = select(x, x >> 1u, fromParent) + tap.dx;
    var ok = !(tap.source == 0u && anchor) && !(fromPrevious && noPrevious) && lv < LEVELS;
    let info = levels[min(lv, LEVELS - 1u)];
    ok = ok && ty >= 0 && tx >= 0 && ty < i32(info.height) && tx < i32(info.width);
    if (ok) {
      value = latents[f * PER_FRAME + info.offset + u32(ty) * info.width + u32(tx)];
    }
    ctx[i * D + k] = value;
  }
  ctx[i * D + TAPS] = select(0.0, 1.0, anchor);
  ctx[i * D + TAPS + 1u] = select(0.0, 1.0, noPrevious);
}
