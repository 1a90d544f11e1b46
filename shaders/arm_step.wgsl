// The context model's whole step, fused: each invocation walks CHUNK consecutive latents of the slot
// and for each gathers its context (taps unrolled by src/gpu/kernels/arm_step.ts), runs the MLP and
// the linear path (weights read from the packed parameters in uniform memory), prices the latent
// under the predicted Laplace like latent_rate.wgsl and, when training, runs the backward pass: a row
// of dctx (gradient of the rate with respect to each tap's value, then to the latent itself) and the
// ARM's parameter gradients summed over the chunk into one partial record (adam_packed adds the
// records in chunk order, so results are deterministic). Replaces arm_context, the dense and
// activation dispatches of the ARM, latent_rate and their backward passes.
struct Level { stride: u32, width: u32, height: u32, offset: u32 }
struct Slot { first: u32, count: u32, previousValid: u32, unused: u32 }
struct Rate { scale: f32, unused0: f32, unused1: f32, unused2: f32 }

@group(0) @binding(0) var<storage, read> yhat: array<f32>;
@group(0) @binding(1) var<uniform> params: array<vec4f, {{PARAM_VEC4S}}>;
@group(0) @binding(2) var<uniform> levels: array<Level, 12>;
@group(0) @binding(3) var<uniform> slot: Slot;
@group(0) @binding(4) var<storage, read_write> bitsPartial: array<f32>;
{{TRAIN_BINDINGS}}

override PER_FRAME: u32;
override LEVELS: u32;
override FRAMES: u32;
override CHUNK: u32;
override CHUNKS: u32;
override GRID_X: u32;
override LOG_SCALE_SHIFT: f32;
override LOG_SCALE_MIN: f32;
override LOG_SCALE_MAX: f32;

{{LAPLACE_RATE}}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let chunk = gid.y * GRID_X + gid.x;
  if (chunk >= CHUNKS) { return; }
  let begin = chunk * CHUNK;
  let end = min(begin + CHUNK, FRAMES * PER_FRAME);
  // Position of the chunk's first latent; later ones step along rows, levels and frames.
  var j = begin / PER_FRAME;
  let r = begin % PER_FRAME;
  var l = 0u;
  for (var k = 1u; k < LEVELS; k++) {
    if (levels[k].offset <= r) { l = k; }
  }
  // Level tables read once per chunk and per level change (a uniform array indexed per lane is slow).
  var info = levels[l];
  var parentInfo = levels[min(l + 1u, LEVELS - 1u)];
  var x = (r - info.offset) % info.width;
  var y = (r - info.offset) / info.width;
  var bits = 0.0;
{{ACCUMULATORS}}
  for (var i = begin; i < end; i++) {
    let frame = slot.first + j;
    let hasParent = l + 1u < LEVELS;
    let cur = frame * PER_FRAME + info.offset;
    let prev = (frame - 1u) * PER_FRAME + info.offset;
    let par = frame * PER_FRAME + parentInfo.offset;
    let prevPar = (frame - 1u) * PER_FRAME + parentInfo.offset;
    let ix = i32(x);
    let iy = i32(y);
    let w = i32(info.width);
    let h = i32(info.height);
    let pw = i32(parentInfo.width);
    let ph = i32(parentInfo.height);
    let px = ix >> 1u;
    let py = iy >> 1u;
    let at = iy * w + ix;
    let pAt = py * pw + px;
    let anchor = {{ANCHOR}};
    let noPrevious = (frame == 1u) & (slot.previousValid == 0u);
{{GATHER}}
{{FORWARD}}
    let rated = laplaceRate(yhat[cur + y * info.width + x], mu, rawLog);
    bits += rated.x;
{{BACKWARD}}
    x++;
    if (x == info.width) {
      x = 0u;
      y++;
      if (y == info.height) {
        y = 0u;
        l++;
        if (l == LEVELS) {
          l = 0u;
          j++;
        }
        info = levels[l];
        parentInfo = levels[min(l + 1u, LEVELS - 1u)];
      }
    }
  }
  bitsPartial[chunk] = bits;
{{STORE}}
}
