// Fourier features: for dim d and frequency k, channels OFFSET + 2(d K + k) and + 1 of y [ROWS, OUT_C]
// get sin and cos of 2 pi f_k x[r, d]; channels outside the slice are untouched. One invocation per row.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

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
    for (var k = 0u; k < K; k++) {
      // sin(2 pi f x) only depends on frac(f x): reducing first keeps high frequencies accurate.
      let phase = TWO_PI * fract(FREQUENCIES[k] * v);
      y[channel] = sin(phase);
      y[channel + 1u] = cos(phase);
      channel += 2u;
    }
  }
}
