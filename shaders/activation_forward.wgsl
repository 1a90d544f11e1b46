// y = f(x) elementwise (GELU tanh approximation, SiLU, sine); one vec4 per invocation.
// x and y may be different buffers: the trainer keeps pre-activations for the backward pass.
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;

const KIND: u32 = {{KIND}}u; // 0 gelu, 1 silu, 2 sine
const OMEGA: f32 = {{OMEGA}};
const VEC_COUNT: u32 = {{VEC_COUNT}}u;
const TAIL: u32 = {{TAIL}}u; // valid lanes of the last vec4
const GRID_X: u32 = {{GRID_X}}u;
const GELU_C: f32 = 0.7978845608028654; // sqrt(2 / pi)
const GELU_A: f32 = 0.044715;

fn activate(v: vec4f) -> vec4f {
  if (KIND == 0u) {
    // tanh saturates long before 15; the clamp keeps exp-based tanh implementations finite.
    let t = tanh(clamp(GELU_C * (v + GELU_A * v * v * v), vec4f(-15.0), vec4f(15.0)));
    return 0.5 * v * (1.0 + t);
  }
  if (KIND == 1u) {
    return v / (1.0 + exp(-v));
  }
  return sin(OMEGA * v);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let linear = gid.y * GRID_X + gid.x;
  let i = min(linear, VEC_COUNT - 1u);
  if (linear >= VEC_COUNT) { return; }
  let v = activate(x[i]);
  // The last vec4 may extend past `count`: never write those lanes (they may belong to someone else).
  if (TAIL == 4u || i + 1u < VEC_COUNT) {
    y[i] = v;
  } else {
    y[i].x = v.x;
    if (TAIL > 1u) { y[i].y = v.y; }
    if (TAIL > 2u) { y[i].z = v.z; }
  }
}
