// Copies [PIXELS, C] into [PIXELS, C_P] with zeros in the extra channels, so kernels can read vec4s.
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

const PIXELS: u32 = {{PIXELS}}u;
const C: u32 = {{C}}u;
const C_P: u32 = {{C_P}}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let pixel = gid.x;
  if (pixel >= PIXELS) { return; }
  for (var c = 0u; c < C_P; c++) {
    var value = 0.0;
    if (c < C) { value = src[pixel * C + c]; }
    dst[pixel * C_P + c] = value;
  }
}
