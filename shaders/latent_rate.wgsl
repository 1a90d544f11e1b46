// Rate of every latent of the slot under the entropy model's Laplace(mu, b): bits of the integer bin
// around yhat, -log2(F(yhat + 1/2) - F(yhat - 1/2)), floored at 2^-16 like the CPU twin. Writes the
// gradient (scaled by rate.scale = lambda / pixels) with respect to the model's two outputs (mu,
// log-scale: MLP and linear path share it) and to the latent, and one partial bit sum per invocation.
struct Slot { first: u32, count: u32, previousValid: u32, unused: u32 }
struct Rate { scale: f32, unused0: f32, unused1: f32, unused2: f32 }

@group(0) @binding(0) var<storage, read> yhat: array<f32>;
@group(0) @binding(1) var<storage, read> mlp: array<f32>;
@group(0) @binding(2) var<storage, read> linearPath: array<f32>;
@group(0) @binding(3) var<uniform> slot: Slot;
@group(0) @binding(4) var<uniform> rate: Rate;
@group(0) @binding(5) var<storage, read_write> dOut: array<f32>;
@group(0) @binding(6) var<storage, read_write> dRate: array<f32>;
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;

override PER_FRAME: u32;
override CHUNK: u32;
override PARTIALS: u32;
override GRID_X: u32;
override LOG_SCALE_SHIFT: f32;
override LOG_SCALE_MIN: f32;
override LOG_SCALE_MAX: f32;

{{LAPLACE_RATE}}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let id = gid.y * GRID_X + gid.x;
  if (id >= PARTIALS) { return; }
  let n = slot.count * PER_FRAME;
  let base = slot.first * PER_FRAME;
  var sum = 0.0;
  for (var i = id * CHUNK; i < min(n, id * CHUNK + CHUNK); i++) {
    let mu = mlp[2u * i] + linearPath[2u * i];
    let rawLog = mlp[2u * i + 1u] + linearPath[2u * i + 1u] + LOG_SCALE_SHIFT;
    let rated = laplaceRate(yhat[base + i], mu, rawLog);
    let bits = rated.x;
    let dr = rated.y;
    let dLog = rated.z;
    sum += bits;
    dOut[2u * i] = -dr * rate.scale;
    dOut[2u * i + 1u] = dLog * rate.scale;
    dRate[i] = dr * rate.scale;
  }
  partial[id] = sum;
}
