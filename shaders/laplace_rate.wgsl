// Not a kernel: the rate of one latent under the entropy model's Laplace, pasted into latent_rate.wgsl
// and arm_step.wgsl at their LAPLACE_RATE placeholder (src/gpu/kernels/latents.ts laplaceRateSource),
// so the generic and the fused step price latents with the same arithmetic. Bits of the integer bin around
// x, -log2(F(x + 1/2) - F(x - 1/2)), floored at 2^-16 like the CPU twin laplaceBits. The including
// shader declares the overrides LOG_SCALE_MIN and LOG_SCALE_MAX.
const FLOOR: f32 = 1.52587890625e-05; // 2^-16
const LN2: f32 = 0.6931471805599453;

/** (bits, d bits / d x, d bits / d log-scale) of latent x under Laplace(mu, exp(rawLog)). */
fn laplaceRate(x: f32, mu: f32, rawLog: f32) -> vec3f {
  let inside = (rawLog > LOG_SCALE_MIN) & (rawLog < LOG_SCALE_MAX);
  let b = exp(clamp(rawLog, LOG_SCALE_MIN, LOG_SCALE_MAX));
  let r = x - mu;
  let a = abs(r);
  var p: f32;
  var dPdr: f32;
  var dPdb: f32;
  if (a >= 0.5) {
    let decay = exp(-1.0 / b);
    p = 0.5 * exp(-(a - 0.5) / b) * (1.0 - decay);
    dPdr = -sign(r) / b * p;
    dPdb = ((a - 0.5) / (b * b) - decay / (b * b * (1.0 - decay))) * p;
  } else {
    let upper = 0.5 * exp(-(0.5 - r) / b);
    let lower = 0.5 * exp(-(0.5 + r) / b);
    p = 1.0 - upper - lower;
    dPdr = (lower - upper) / b;
    dPdb = -(upper * (0.5 - r) + lower * (0.5 + r)) / (b * b);
  }
  var out = vec3f(16.0, 0.0, 0.0);
  if (p > FLOOR) {
    let dBits = -1.0 / (p * LN2);
    out = vec3f(-log2(p), dBits * dPdr, select(0.0, dBits * dPdb * b, inside));
  }
  return out;
}
