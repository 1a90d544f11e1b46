// Stage 2 of the dense parameter gradients: sums partial[c, e] over chunks c in order and
// splits e into dw (e < K*N) and db. T is vec4f when N is a multiple of 4, else f32.
@group(0) @binding(0) var<storage, read> partial: array<{{T}}>;
@group(0) @binding(1) var<storage, read_write> dw: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> db: array<{{T}}>;

const WIDTH: u32 = {{WIDTH}}u; // (K + 1) * N in units of T
const DW_WIDTH: u32 = {{DW_WIDTH}}u;
const CHUNKS: u32 = {{CHUNKS}}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  // Clamped before the return, so every lane's index is in bounds by construction.
  let e = min(gid.x, WIDTH - 1u);
  if (gid.x >= WIDTH) { return; }
  var sum = partial[e];
  for (var c = 1u; c < CHUNKS; c++) {
    sum += partial[c * WIDTH + e];
  }
  if (e < DW_WIDTH) {
    dw[e] = sum;
  } else {
    db[e - DW_WIDTH] = sum;
  }
}
