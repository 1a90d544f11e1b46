// Stage 1 of dw = x^T . dy and db = column sums of dy: invocation (chunk, i tile, o tile) sums
// its chunk of rows into partial[chunk, (K + 1) * N] (row K of each chunk holds db).
// Stage 2 (dense_reduce) adds the chunks in a fixed order, so results are bit-reproducible.
{{BINDINGS}}

const M: u32 = {{M}}u;
const CHUNK: u32 = {{CHUNK}}u;
const CHUNKS: u32 = {{CHUNKS}}u;

@compute @workgroup_size({{WORKGROUP}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  // Clamped before the return, so every lane's index is in bounds by construction.
  let chunk = min(gid.x, CHUNKS - 1u);
  if (gid.x >= CHUNKS) { return; }
  let i4 = wid.y * {{IN_GROUPS}}u;
  let n4 = wid.z * {{COL_GROUPS}}u;
  let rBegin = chunk * CHUNK;
  let rEnd = min(rBegin + CHUNK, M);
{{INIT}}
  for (var r = rBegin; r < rEnd; r++) {
{{STEP}}
  }
{{STORE}}
}
