// Fake quantization for quantization-aware training. quant = [step, mode, seed, 0] (f32):
// mode 0: out = round(param / step) * step, rounding half away from zero;
// mode 1: out = param + step * (u - 0.5), u uniform in [0, 1) from noiseUnit(index, seed).
// A step <= 0 passes param through. The backward pass is straight-through (identity): the
// gradient computed with `out` is applied to `param` unchanged, so there is no backward kernel.
@group(0) @binding(0) var<storage, read> param: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(2) var<uniform> quant: vec4f;

const VEC_COUNT: u32 = {{VEC_COUNT}}u;
const TAIL: u32 = {{TAIL}}u;
const GRID_X: u32 = {{GRID_X}}u;

// "lowbias32" integer hash (Chris Wellons); the CPU twin in src/cpu/fakequant.ts is bit-identical.
fn lowbias32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

// u = top 24 bits of lowbias32(index ^ lowbias32(seed + 0x9e3779b9)) / 2^24: exact in f32.
fn noiseUnit(index: u32, seedHash: u32) -> f32 {
  return f32(lowbias32(index ^ seedHash) >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let linear = gid.y * GRID_X + gid.x;
  let i = min(linear, VEC_COUNT - 1u);
  if (linear >= VEC_COUNT) { return; }
  let step = quant.x;
  let p = param[i];
  var result = p;
  if (step > 0.0) {
    if (quant.y < 0.5) {
      let q = p / step;
      let a = abs(q);
      let whole = trunc(a);
      // a - trunc(a) is exact, so this is Math.round's rule without floor(a + 0.5)'s f32 rounding.
      let rounded = whole + select(vec4f(0.0), vec4f(1.0), a - whole >= vec4f(0.5));
      result = sign(q) * rounded * step;
    } else {
      let seedHash = lowbias32(u32(quant.z) + 0x9e3779b9u);
      let base = i * 4u;
      let u = vec4f(noiseUnit(base, seedHash), noiseUnit(base + 1u, seedHash), noiseUnit(base + 2u, seedHash), noiseUnit(base + 3u, seedHash));
      result = p + step * (u - 0.5);
    }
  }
  if (TAIL == 4u || i + 1u < VEC_COUNT) {
    out[i] = result;
  } else {
    out[i].x = result.x;
    if (TAIL > 1u) { out[i].y = result.y; }
    if (TAIL > 2u) { out[i].z = result.z; }
  }
}
