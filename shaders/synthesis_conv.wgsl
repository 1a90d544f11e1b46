// A narrow 3x3 convolution (at most 4 input and 4 output channels, one vec4 per pixel; zero "same"
// padding) with its activation, fused: each invocation computes a tile of 2 rows x TILE_X pixels
// from the 4 x (TILE_X + 2) input pixels around it, weights read from the packed parameters in
// uniform memory. The tile body is unrolled by src/gpu/kernels/synthesis_fused.ts. Modes: store the
// output as vec4s (a layer the next one reads), write it as OUT_C packed floats per pixel (the
// decoder's output), or (the last layer in training) compute the colour loss of the tile against
// the targets as colour_loss.wgsl does, write d loss / d output and one partial loss sum per tile.
@group(0) @binding(0) var<storage, read> input: array<vec4f>;
@group(0) @binding(1) var<uniform> params: array<vec4f, {{PARAM_VEC4S}}>;
{{MODE_BINDINGS}}

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override TILES_X: u32;
override TILES: u32;
override GRID_X: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let tile = gid.y * GRID_X + gid.x;
  if (tile >= TILES) { return; }
  let rowPair = tile / TILES_X;
  let x0 = (tile % TILES_X) * {{TILE_X}}u;
  let j = rowPair / ((HEIGHT + 1u) / 2u);
  let y0 = (rowPair % ((HEIGHT + 1u) / 2u)) * 2u;
  let frameRow = j * HEIGHT;
{{LOAD}}
{{COMPUTE}}
{{FINISH}}
}
