// The entropy model in fixed point (src/entropy/latents.ts, ArmFixedPoint): per context row of
// integers, (mu, log-scale) with 8 fractional bits. i32 arithmetic wraps in WGSL exactly as
// Math.imul / | 0 do in JavaScript, and >> on i32 is arithmetic in both, so every decoder derives
// bit-identical probabilities. Layer l: weights at layers[l].z, biases at layers[l].w in `params`.
struct Layer { inC: u32, outC: u32, weights: u32, biases: u32 }

@group(0) @binding(0) var<storage, read> context: array<i32>;
@group(0) @binding(1) var<storage, read> params: array<i32>;
@group(0) @binding(2) var<uniform> layers: array<Layer, 8>;
@group(0) @binding(3) var<storage, read_write> out: array<i32>;

override ROWS: u32;
override INPUTS: u32;
override LAYERS: u32;       // hidden layers + the output layer
override LINEAR: u32;       // offset of the linear path's [INPUTS, 2] weights in params
override HIDDEN_CEILING: i32;
override LOG_SCALE_SHIFT: i32;
override GRID_X: u32;

const MAX_WIDTH: u32 = 34u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.y * GRID_X + gid.x;
  if (row >= ROWS) { return; }
  var x: array<i32, 34>;
  var y: array<i32, 34>;
  for (var i = 0u; i < INPUTS; i++) { x[i] = context[row * INPUTS + i]; }
  for (var l = 0u; l < LAYERS; l++) {
    let layer = layers[l];
    let hidden = l + 1u < LAYERS;
    for (var o = 0u; o < min(layer.outC, MAX_WIDTH); o++) {
      var acc = params[layer.biases + o];
      for (var i = 0u; i < min(layer.inC, MAX_WIDTH); i++) { acc += x[i] * params[layer.weights + i * layer.outC + o]; }
      if (l > 0u) { acc = (acc + 128) >> 8u; }
      if (hidden) { acc = clamp(acc, 0, HIDDEN_CEILING); }
      y[o] = acc;
    }
    for (var o = 0u; o < MAX_WIDTH; o++) { x[o] = y[o]; }
  }
  var mu = x[0];
  var logScale = x[1];
  for (var i = 0u; i < INPUTS; i++) {
    let c = context[row * INPUTS + i];
    mu += c * params[LINEAR + 2u * i];
    logScale += c * params[LINEAR + 2u * i + 1u];
  }
  out[2u * row] = mu;
  out[2u * row + 1u] = logScale + LOG_SCALE_SHIFT;
}
