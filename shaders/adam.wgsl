// One AdamW step, elementwise, one vec4 per invocation. hyper is rewritten by the trainer every
// step: lr, beta1, beta2, epsilon, 1/(1-beta1^t), 1/(1-beta2^t), decoupled weight decay, and a
// gradient scale (e.g. 1/batch or a loss-scaling factor).
struct Hyper {
  lr: f32,
  beta1: f32,
  beta2: f32,
  epsilon: f32,
  correction1: f32,
  correction2: f32,
  weightDecay: f32,
  gradScale: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(1) var<storage, read> grad: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(4) var<uniform> hyper: Hyper;

const VEC_COUNT: u32 = {{VEC_COUNT}}u;
const TAIL: u32 = {{TAIL}}u; // valid lanes of the last vec4
const GRID_X: u32 = {{GRID_X}}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let linear = gid.y * GRID_X + gid.x;
  let i = min(linear, VEC_COUNT - 1u);
  if (linear >= VEC_COUNT) { return; }
  let g = grad[i] * hyper.gradScale;
  let p = param[i];
  let m1 = hyper.beta1 * m[i] + (1.0 - hyper.beta1) * g;
  let v1 = hyper.beta2 * v[i] + (1.0 - hyper.beta2) * g * g;
  let update = (m1 * hyper.correction1) / (sqrt(v1 * hyper.correction2) + hyper.epsilon) + hyper.weightDecay * p;
  let p1 = p - hyper.lr * update;
  if (TAIL == 4u || i + 1u < VEC_COUNT) {
    param[i] = p1;
    m[i] = m1;
    v[i] = v1;
  } else {
    // Lanes past `count` belong to nobody we know of: leave them untouched.
    param[i].x = p1.x; m[i].x = m1.x; v[i].x = v1.x;
    if (TAIL > 1u) { param[i].y = p1.y; m[i].y = m1.y; v[i].y = v1.y; }
    if (TAIL > 2u) { param[i].z = p1.z; m[i].z = m1.z; v[i].z = v1.z; }
  }
}
