// dx[r, d] = sum_k 2 pi f_k (cos * dy_sin - sin * dy_cos), reading dy from the forward's channel slice.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

const ROWS: u32 = {{ROWS}}u;
const DIMS: u32 = {{DIMS}}u;
const K: u32 = {{K}}u;
const OUT_C: u32 = {{OUT_C}}u;
const OFFSET: u32 = {{OFFSET}}u;
const FREQUENCIES = array<f32, K>({{FREQUENCIES}});
const TWO_PI: f32 = 6.283185307179586;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= ROWS) { return; }
  var channel = r * OUT_C + OFFSET;
  for (var d = 0u; d < DIMS; d++) {
    let v = x[r * DIMS + d];
    var sum = 0.0;
    for (var k = 0u; k < K; k++) {
      let f = FREQUENCIES[k];
      let phase = TWO_PI * fract(f * v);
      sum += TWO_PI * f * (cos(phase) * dy[channel] - sin(phase) * dy[channel + 1u]);
      channel += 2u;
    }
    dx[r * DIMS + d] = sum;
  }
}
