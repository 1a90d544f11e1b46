// One AdamW step over every network tensor at once (the packed layout of src/nn/layers.ts), one
// vec4 per invocation. The gradient of each vec4 is the sum, in chunk order, of the records the
// fused kernels wrote for it (their producer's range is found by the unrolled tests below); each
// tensor keeps its own hyper-parameters (lr, betas, bias corrections...), as adam.wgsl.
struct Hyper { lr: f32, beta1: f32, beta2: f32, epsilon: f32, correction1: f32, correction2: f32, weightDecay: f32, gradScale: f32 }

@group(0) @binding(0) var<storage, read> partial: array<vec4f>;
@group(0) @binding(1) var<uniform> hyper: array<Hyper, {{TENSORS}}>;
@group(0) @binding(2) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4f>;

override VEC4S: u32;
override GRID_X: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let q = gid.y * GRID_X + gid.x;
  if (q >= VEC4S) { return; }
  var g = vec4f(0.0);
{{GATHER}}
  var t = 0u;
{{TENSOR}}
  let h = hyper[t];
  let gs = g * h.gradScale;
  let p = param[q];
  let m1 = h.beta1 * m[q] + (1.0 - h.beta1) * gs;
  let v1 = h.beta2 * v[q] + (1.0 - h.beta2) * gs * gs;
  let update = (m1 * h.correction1) / (sqrt(v1 * h.correction2) + h.epsilon) + h.weightDecay * p;
  param[q] = p - h.lr * update;
  m[q] = m1;
  v[q] = v1;
}
