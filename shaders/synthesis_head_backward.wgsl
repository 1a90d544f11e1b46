// Backward pass of the synthesis head (synthesis_head.wgsl), fused: each invocation walks one image
// row 4 pixels at a time, recomputes the dense layers from the stored features, runs them backward
// from d loss / d head output, writes d loss / d features into per-level planes (one vec4 per level
// per 4 pixels: what latent_step gathers) and sums the dense layers' parameter gradients over the
// row into one partial record (adam_packed adds the records in order). Unrolled by
// src/gpu/kernels/synthesis_fused.ts.
@group(0) @binding(0) var<storage, read> dHead: array<vec4f>;
@group(0) @binding(1) var<storage, read> features: array<vec4f>;
@group(0) @binding(2) var<uniform> params: array<vec4f, {{PARAM_VEC4S}}>;
@group(0) @binding(3) var<storage, read_write> dFeatures: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> partial: array<vec4f>;

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override ROW_VEC4S: u32;
override GRID_X: u32;
override PARTIAL_BASE: u32;

@compute @workgroup_size(32)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let chunk = gid.y * GRID_X + gid.x;
  if (chunk >= FRAMES * HEIGHT) { return; }
  let rowStart = chunk * WIDTH;
{{ACCUMULATORS}}
  for (var q = 0u; q < ROW_VEC4S; q++) {
{{DECLARE_PLANES}}
    for (var t = 0u; t < 4u; t++) {
      let x = 4u * q + t;
      let valid = x < WIDTH;
      let p = rowStart + min(x, WIDTH - 1u);
{{PIXEL}}
    }
{{STORE_PLANES}}
  }
{{STORE}}
}
