// Backward pass of the synthesis head (synthesis_head.wgsl), fused: each invocation walks one image
// row, recomputes the dense layers from the stored features, runs them backward from d loss / d
// head output, and streams d loss / d features through the upsampling along x: each level's running
// sums for the two latent columns the pixel interpolates between are written out when the walk
// passes a column (latent_step then sums these rows along y). The dense layers' parameter gradients
// are summed over the row into one partial record (adam_packed adds the records in order).
// Unrolled by src/gpu/kernels/synthesis_fused.ts.
@group(0) @binding(0) var<storage, read> dHead: array<vec4f>;
@group(0) @binding(1) var<storage, read> features: array<vec4f>;
@group(0) @binding(2) var<uniform> params: array<vec4f, {{PARAM_VEC4S}}>;
@group(0) @binding(3) var<storage, read_write> dRows: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<vec4f>;

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override GRID_X: u32;
override PARTIAL_BASE: u32;

@compute @workgroup_size(32)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let chunk = gid.y * GRID_X + gid.x;
  if (chunk >= FRAMES * HEIGHT) { return; }
  let row = chunk;
{{ACCUMULATORS}}
{{STREAM_DECLARE}}
  for (var x = 0u; x < WIDTH; x++) {
    let p = row * WIDTH + x;
{{PIXEL}}
{{STREAM}}
  }
{{STREAM_FINISH}}
{{STORE}}
}
