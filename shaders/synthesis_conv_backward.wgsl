// Backward pass of a narrow 3x3 convolution (see synthesis_conv.wgsl), fused: each invocation walks
// one pair of image rows in tiles of 2 x TILE_X pixels, reading dy and the layer's input around the
// tile once for both gradients: dx (masked by the ReLU that produced the input, if any) for the
// tile's pixels, and the weight and bias gradients summed over the row pair into one partial
// record (adam_packed adds the records in order). Unrolled by src/gpu/kernels/synthesis_fused.ts.
@group(0) @binding(0) var<storage, read> dy: array<vec4f>;
@group(0) @binding(1) var<storage, read> input: array<vec4f>;
@group(0) @binding(2) var<uniform> params: array<vec4f, {{PARAM_VEC4S}}>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> partial: array<vec4f>;

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override TILES_X: u32;
override CHUNKS: u32;
override GRID_X: u32;
override PARTIAL_BASE: u32;

@compute @workgroup_size(32)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let chunk = gid.y * GRID_X + gid.x;
  if (chunk >= CHUNKS) { return; }
  let j = chunk / ((HEIGHT + 1u) / 2u);
  let y0 = (chunk % ((HEIGHT + 1u) / 2u)) * 2u;
  let frameRow = j * HEIGHT;
{{ACCUMULATORS}}
  for (var tx = 0u; tx < TILES_X; tx++) {
    let x0 = tx * {{TILE_X}}u;
{{LOAD}}
{{COMPUTE}}
  }
{{STORE}}
}
