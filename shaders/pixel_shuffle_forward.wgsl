// Pixel shuffle (depth to space), PyTorch order: y[n, Y, X, k] = x[n, Y/R, X/R, k*R*R + (Y%R)*R + X%R].
// One invocation per output pixel, all C channels.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

const N: u32 = {{N}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const C: u32 = {{C}}u;
const R: u32 = {{R}}u;
const IN_C: u32 = C * R * R;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let pixel = gid.x;
  if (pixel >= N * H * R * W * R) { return; }
  let px = pixel % (W * R);
  let py = (pixel / (W * R)) % (H * R);
  let b = pixel / (W * R * H * R);
  let src = ((b * H + py / R) * W + px / R) * IN_C + (py % R) * R + px % R;
  for (var k = 0u; k < C; k++) { y[pixel * C + k] = x[src + k * R * R]; }
}
