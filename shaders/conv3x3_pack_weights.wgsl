// Packs 3x3 weights [ky][kx][IN][OUT] into the padded [ky][kx][IN_P][OUT_P] layout of conv3x3_forward.
// With TRANSPOSE it builds the kernel of dx = conv(dy, w'): w'[ky][kx][o][i] = w[2-ky][2-kx][i][o].
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

const IN: u32 = {{IN}}u;   // input channels of the original weights
const OUT: u32 = {{OUT}}u; // output channels of the original weights
const ROWS_P: u32 = {{ROWS_P}}u; // padded channel count of the packed kernel's input axis
const COLS_P: u32 = {{COLS_P}}u; // padded channel count of its output axis
const TRANSPOSE: bool = {{TRANSPOSE}};
const COUNT: u32 = 9u * ROWS_P * COLS_P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e >= COUNT) { return; }
  let tap = e / (ROWS_P * COLS_P);
  let r = (e / COLS_P) % ROWS_P;
  let c = e % COLS_P;
  var value = 0.0;
  if (TRANSPOSE) {
    // packed row = original output channel, packed column = original input channel
    if (r < OUT && c < IN) { value = src[((8u - tap) * IN + c) * OUT + r]; }
  } else {
    if (r < IN && c < OUT) { value = src[(tap * IN + r) * OUT + c]; }
  }
  dst[e] = value;
}
