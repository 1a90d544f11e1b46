// dx = dy * f'(x) for activation_forward.wgsl; x is the pre-activation (slope 1 strictly inside (0, CEILING), SLOPE below 0).
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4f>;

override CEILING: f32;
override SLOPE: f32;
override VEC_COUNT: u32;
override TAIL: u32;
override GRID_X: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * GRID_X + gid.x;
  if (i >= VEC_COUNT) { return; }
  let v = x[i];
  let g = select(select(vec4f(0.0), dy[i], (v > vec4f(0.0)) & (v < vec4f(CEILING))), SLOPE * dy[i], v < vec4f(0.0));
  if (TAIL == 4u || i + 1u < VEC_COUNT) {
    dx[i] = g;
  } else {
    dx[i].x = g.x;
    if (TAIL > 1u) { dx[i].y = g.y; }
    if (TAIL > 2u) { dx[i].z = g.z; }
  }
}
