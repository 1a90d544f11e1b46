// Partial sums of the 3x3 weight and bias gradients over chunks of CHUNK_ROWS image rows; a second
// dispatch (conv3x3_reduce_params) adds the chunks in a fixed order, so results are deterministic.
// A weight job owns one tap (ky, kx), TILE_IC4 vec4s of input and TILE_OC4 vec4s of output channels
// (the outer-product tile stays in registers; unrolled by src/gpu/kernels/conv3x3.ts).
@group(0) @binding(0) var<storage, read> x: array<vec4f>;  // [N*H*W, IC4]
@group(0) @binding(1) var<storage, read> dy: array<vec4f>; // [N*H*W, OC4]
@group(0) @binding(2) var<storage, read_write> partial: array<vec4f>; // [CHUNKS][9][IC4*4][OC4], then [CHUNKS][OC4]

const N: u32 = {{N}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const IC4: u32 = {{IC4}}u;
const OC4: u32 = {{OC4}}u;
const TILE_IC4: u32 = {{TILE_IC4}}u;
const TILE_OC4: u32 = {{TILE_OC4}}u;
const CHUNKS: u32 = {{CHUNKS}}u;
const CHUNK_ROWS: u32 = {{CHUNK_ROWS}}u;
const ROWS: u32 = N * H;
const IGROUPS: u32 = IC4 / TILE_IC4;
const OGROUPS: u32 = OC4 / TILE_OC4;
const TILES: u32 = 9u * IGROUPS * OGROUPS;
const WEIGHT_JOBS: u32 = CHUNKS * TILES;
const BIAS_JOBS: u32 = CHUNKS * OGROUPS;
const BIAS_BASE: u32 = CHUNKS * 9u * IC4 * 4u * OC4;

fn weightJob(job: u32) {
  let chunk = job / TILES;
  let t = job % TILES;
  let tap = t / (IGROUPS * OGROUPS);
  let i0 = ((t / OGROUPS) % IGROUPS) * TILE_IC4;
  let o0 = (t % OGROUPS) * TILE_OC4;
  let ky = tap / 3u;
  let kx = tap % 3u;
{{DECLARE}}
  // Only pixels whose shifted source x + kx - 1 lies inside the row contribute.
  let xStart = select(0u, 1u, kx == 0u);
  let xEnd = W - select(0u, 1u, kx == 2u);
  let r0 = chunk * CHUNK_ROWS;
  let r1 = min(r0 + CHUNK_ROWS, ROWS);
  for (var r = r0; r < r1; r++) {
    let py = r % H;
    let sy = i32(py + ky) - 1;
    if (sy < 0 || sy >= i32(H)) { continue; }
    let srcRow = r - py + u32(sy);
    for (var px = xStart; px < xEnd; px++) {
      let xi = (srcRow * W + px + kx - 1u) * IC4 + i0;
      let di = (r * W + px) * OC4 + o0;
{{ACCUMULATE}}
    }
  }
  let base = (chunk * 9u + tap) * IC4 * 4u;
{{STORE}}
}

fn biasJob(job: u32) {
  let chunk = job / OGROUPS;
  let o0 = (job % OGROUPS) * TILE_OC4;
  let p0 = chunk * CHUNK_ROWS * W;
  let p1 = min((chunk + 1u) * CHUNK_ROWS, ROWS) * W;
  for (var o = 0u; o < TILE_OC4; o++) {
    var sum = vec4f(0.0);
    for (var p = p0; p < p1; p++) { sum += dy[p * OC4 + o0 + o]; }
    partial[BIAS_BASE + chunk * OC4 + o0 + o] = sum;
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let job = gid.x;
  if (job < WEIGHT_JOBS) {
    weightJob(job);
  } else if (job < WEIGHT_JOBS + BIAS_JOBS) {
    biasJob(job - WEIGHT_JOBS);
  }
}
