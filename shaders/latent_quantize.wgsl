// Training-time quantization proxy for the slot's latents (see src/cpu/latents.ts):
// mode 0 'soft': softround(softround(y, T) + sigma n, T), n ~ N(0, 1) from a hash of the absolute
// index and the step's seed; mode 1 'ste': round(y) with softround's slope; mode 2 'hard': round(y),
// slope 0. Rounding is half away from zero, the encoder's symbol rule.
struct Settings { mode: u32, temperature: f32, noise: f32, seed: u32 }
struct Slot { first: u32, count: u32, previousValid: u32, unused: u32 }

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<uniform> settings: Settings;
@group(0) @binding(2) var<uniform> slot: Slot;
@group(0) @binding(3) var<storage, read_write> yhat: array<f32>;
@group(0) @binding(4) var<storage, read_write> slope: array<f32>;

override PER_FRAME: u32;
override GRID_X: u32;

fn hash32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn gaussian(index: u32, seed: u32) -> f32 {
  let a = hash32((index * 2u) ^ (seed * 0x9e3779b9u));
  let b = hash32((index * 2u + 1u) ^ hash32(seed));
  let u1 = (f32(a >> 8u) + 0.5) / 16777216.0;
  let u2 = (f32(b >> 8u) + 0.5) / 16777216.0;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/** tanh of the softround argument at x, and the normaliser tanh(1 / 2T): each used by both softround and its slope. */
fn softTanh(x: f32, t: f32) -> f32 {
  return tanh(clamp((x - floor(x) - 0.5) / t, -15.0, 15.0));
}

fn softRound(x: f32, th: f32, norm: f32) -> f32 {
  return floor(x) + 0.5 * th / norm + 0.5;
}

fn softRoundSlope(th: f32, t: f32, norm: f32) -> f32 {
  return 0.5 * (1.0 - th * th) / (t * norm);
}

fn roundSymbol(v: f32) -> f32 {
  return select(floor(v + 0.5), -floor(-v + 0.5), v < 0.0);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * GRID_X + gid.x;
  if (i >= slot.count * PER_FRAME) { return; }
  let at = slot.first * PER_FRAME + i;
  let v = y[i]; // y holds the slot's own latents (GroupGraph keeps one buffer per slot)
  let t = settings.temperature;
  // Shared by every softround of the step (tanh is the costly part on CPU adapters).
  let norm = tanh(min(1.0 / (2.0 * t), 15.0));
  let thV = softTanh(v, t);
  if (settings.mode == 0u) {
    let noisy = softRound(v, thV, norm) + settings.noise * gaussian(at, settings.seed);
    let thN = softTanh(noisy, t);
    yhat[at] = softRound(noisy, thN, norm);
    slope[i] = softRoundSlope(thN, t, norm) * softRoundSlope(thV, t, norm);
  } else {
    yhat[at] = roundSymbol(v);
    slope[i] = select(0.0, softRoundSlope(thV, t, norm), settings.mode == 1u);
  }
}
