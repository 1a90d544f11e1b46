// y = f(x) elementwise, one vec4 per invocation: ReLU (SLOPE 0), leaky ReLU (SLOPE > 0), or ReLU
// capped at CEILING (the context model's hidden layers, whose fixed-point twin must stay in int32).
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;

override CEILING: f32; // +inf for plain ReLU
override SLOPE: f32;
override VEC_COUNT: u32;
override TAIL: u32; // valid lanes of the last vec4
override GRID_X: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * GRID_X + gid.x;
  if (i >= VEC_COUNT) { return; }
  let a = x[i];
  let v = select(min(a, vec4f(CEILING)), SLOPE * a, a < vec4f(0.0));
  // The last vec4 may extend past `count`: never write those lanes (they may belong to someone else).
  if (TAIL == 4u || i + 1u < VEC_COUNT) {
    y[i] = v;
  } else {
    y[i].x = v.x;
    if (TAIL > 1u) { y[i].y = v.y; }
    if (TAIL > 2u) { y[i].z = v.z; }
  }
}
