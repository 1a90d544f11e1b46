// dx = dy * f'(x) elementwise for the activations of activation_forward.wgsl; x is the pre-activation.
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4f>;

const KIND: u32 = {{KIND}}u; // 0 gelu, 1 silu, 2 sine
const OMEGA: f32 = {{OMEGA}};
const VEC_COUNT: u32 = {{VEC_COUNT}}u;
const TAIL: u32 = {{TAIL}}u;
const GRID_X: u32 = {{GRID_X}}u;
const GELU_C: f32 = 0.7978845608028654;
const GELU_A: f32 = 0.044715;

fn derivative(v: vec4f) -> vec4f {
  if (KIND == 0u) {
    let t = tanh(clamp(GELU_C * (v + GELU_A * v * v * v), vec4f(-15.0), vec4f(15.0)));
    return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * v * v);
  }
  if (KIND == 1u) {
    let s = 1.0 / (1.0 + exp(-v));
    return s * (1.0 + v * (1.0 - s));
  }
  return OMEGA * cos(OMEGA * v);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let linear = gid.y * GRID_X + gid.x;
  let i = min(linear, VEC_COUNT - 1u);
  if (linear >= VEC_COUNT) { return; }
  let g = dy[i] * derivative(x[i]);
  if (TAIL == 4u || i + 1u < VEC_COUNT) {
    dx[i] = g;
  } else {
    dx[i].x = g.x;
    if (TAIL > 1u) { dx[i].y = g.y; }
    if (TAIL > 2u) { dx[i].z = g.z; }
  }
}
