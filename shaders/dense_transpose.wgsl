// out[N, K] = in[K, N]^T: lets dx = dy . w^T reuse the tiled forward kernel.
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

const K: u32 = {{K}}u;
const N: u32 = {{N}}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  // Clamped before the return, so every lane's index is in bounds by construction.
  let e = min(gid.x, K * N - 1u);
  if (gid.x >= K * N) { return; }
  let k = e / N;
  let n = e % N;
  dst[n * K + k] = src[e];
}
