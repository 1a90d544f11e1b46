// Stage 1 of the masked MSE loss on a padded frame batch [frames, PH, PW, C]: invocation
// (padded row, segment) writes grad = 2 (pred - target) / validCount inside the top-left
// VH x VW region and 0 in the padding, and the sum of squared errors of its segment to partial[].
// T is vec4f when a padded row (PW * C floats) is a multiple of 4, else f32.
@group(0) @binding(0) var<storage, read> pred: array<{{T}}>;
@group(0) @binding(1) var<storage, read> reference: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> grad: array<{{T}}>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

const PADDED_HEIGHT: u32 = {{PADDED_HEIGHT}}u;
const VALID_HEIGHT: u32 = {{VALID_HEIGHT}}u;
const ROW_UNITS: u32 = {{ROW_UNITS}}u; // units of T per padded row
const VALID_FLOATS: u32 = {{VALID_FLOATS}}u; // VW * C: valid floats at the start of a row
const SEGMENT: u32 = {{SEGMENT}}u; // units per invocation
const SEGMENTS: u32 = {{SEGMENTS}}u; // invocations per row
const PARTIALS: u32 = {{PARTIALS}}u;
const SCALE: f32 = {{SCALE}}; // 2 / validCount
const GRID_X: u32 = {{GRID_X}}u;

fn squares(d: {{T}}) -> f32 { return {{SQUARES}}; }

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let linear = gid.y * GRID_X + gid.x;
  let id = min(linear, PARTIALS - 1u);
  if (linear >= PARTIALS) { return; }
  let row = id / SEGMENTS;
  let begin = (id % SEGMENTS) * SEGMENT;
  let end = min(begin + SEGMENT, ROW_UNITS);
  let rowValid = {{B}}(row % PADDED_HEIGHT < VALID_HEIGHT);
  var sum = 0.0;
  for (var u = begin; u < end; u++) {
    let index = row * ROW_UNITS + u;
    let inside = ({{U}}(u * {{LANES}}u) + {{LANE_OFFSETS}}) < {{U}}(VALID_FLOATS);
    let d = select({{T}}(0.0), pred[index] - reference[index], inside & rowValid);
    grad[index] = d * SCALE;
    sum += squares(d);
  }
  partial[id] = sum;
}
