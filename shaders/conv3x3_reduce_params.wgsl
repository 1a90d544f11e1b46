// Sums the per-chunk partials of conv3x3_backward_params in chunk order into dw [3,3,IN,OUT] and db [OUT].
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

const IN: u32 = {{IN}}u;
const OUT: u32 = {{OUT}}u;
const IN_P: u32 = {{IN_P}}u;
const OUT_P: u32 = {{OUT_P}}u;
const CHUNKS: u32 = {{CHUNKS}}u;
const WEIGHTS: u32 = 9u * IN * OUT;
const BIAS_BASE: u32 = CHUNKS * 9u * IN_P * OUT_P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  if (e < WEIGHTS) {
    let tap = e / (IN * OUT);
    let i = (e / OUT) % IN;
    let o = e % OUT;
    let offset = (tap * IN_P + i) * OUT_P + o;
    var sum = 0.0;
    for (var chunk = 0u; chunk < CHUNKS; chunk++) { sum += partial[chunk * 9u * IN_P * OUT_P + offset]; }
    dw[e] = sum;
  } else if (e < WEIGHTS + OUT) {
    let o = e - WEIGHTS;
    var sum = 0.0;
    for (var chunk = 0u; chunk < CHUNKS; chunk++) { sum += partial[BIAS_BASE + chunk * OUT_P + o]; }
    db[o] = sum;
  }
}
