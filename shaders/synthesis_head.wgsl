// The synthesis network's per-pixel head, fused: bilinear upsampling of every latent level (its
// strides, sizes and offsets unrolled as constants by src/gpu/kernels/synthesis_fused.ts, same
// arithmetic as latent_upsample.wgsl) followed by the leading dense layers and their activations
// (weights read from the packed parameters in uniform memory). Each invocation does 4 consecutive
// pixels of a row: levels of stride >= 8 interpolate all 4 between the same latents, so those are
// read once. Writes the head's output (at most 4 channels) as one vec4 per pixel and, when
// training, the features for the backward pass.
struct Slot { first: u32, count: u32, previousValid: u32, unused: u32 }

@group(0) @binding(0) var<storage, read> latents: array<f32>;
@group(0) @binding(1) var<uniform> params: array<vec4f, {{PARAM_VEC4S}}>;
@group(0) @binding(2) var<uniform> slot: Slot;
@group(0) @binding(3) var<storage, read_write> head: array<vec4f>;
{{FEATURE_BINDING}}

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override PER_FRAME: u32;
override QUADS_X: u32;
override GRID_X: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let quad = gid.y * GRID_X + gid.x;
  if (quad >= FRAMES * HEIGHT * QUADS_X) { return; }
  let row = quad / QUADS_X;
  let y = row % HEIGHT;
  let base = (slot.first + row / HEIGHT) * PER_FRAME;
  let fy = f32(y) + 0.5;
{{PIXELS}}
{{UPSAMPLE}}
{{LAYERS}}
}
