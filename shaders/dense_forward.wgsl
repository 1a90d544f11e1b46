// y[M, N] = x[M, K] . w[K, N] (+ b[N]): the dense / 1x1-conv layer and the plain matmul.
// Each invocation owns a tile of ROW_TILE rows x COL_GROUPS vec4 column groups held in vec4f
// accumulators; the tile body is generated (src/gpu/kernels/dense.ts) so it unrolls, and
// storage reads are counted, not FLOPs (docs/architecture.md, "Kernel design on CPU WebGPU adapters"). Workgroup y picks the column tile.
{{BINDINGS}}

const M: u32 = {{M}}u;
const ROW_TILES: u32 = {{ROW_TILES}}u;

@compute @workgroup_size({{WORKGROUP}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  // Robustness is off: clamp first so every lane's index is in bounds by construction, then return.
  let rowTile = min(gid.x, ROW_TILES - 1u);
  if (gid.x >= ROW_TILES) { return; }
  let r0 = rowTile * {{ROW_TILE}}u;
  let n4 = wid.y * {{COL_GROUPS}}u;
  // Rows clamp to M-1 (a partial last tile re-reads it); stores to rows >= M are skipped.
{{ROWS}}
{{INIT}}
  for (var k4 = 0u; k4 < {{K4}}u; k4++) {
{{STEP}}
  }
{{REMAINDER}}
{{STORE}}
}
