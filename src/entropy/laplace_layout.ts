/**
 * How the context model's (mu, log-scale) map onto the integer probability tables of the latents
 * (docs/format.md, "Latent probabilities"). Both come out of the fixed-point model with 8 fractional
 * bits; mu is split into a rounded integer centre and one of `offsets` buckets of its remainder,
 * the log-scale (natural log of the Laplace scale b) into `scales` buckets of 1/scalesPerUnit.
 */
export const LAPLACE_TABLE_LAYOUT = {
  logScaleMin: -5,
  scalesPerUnit: 8,
  scales: 80,
  offsets: 8,
  /** Largest split exponent: at most 2^8 direct magnitude tokens. */
  maxSplit: 8,
  /** Magnitudes of residuals stay below 2^12 (latents and centres within +-2047). */
  magnitudeBits: 12,
} as const;
