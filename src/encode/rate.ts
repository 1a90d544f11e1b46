/**
 * Rate control: lambda is the one knob (loss = distortion + lambda * bits / pixels). A size target
 * is met by giving each group a share of the remaining budget and searching lambda until the group's
 * real coded bytes land near its share; a PSNR target by searching lambda until the group's decoded
 * PSNR reaches it. The search works in log(lambda): bytes and PSNR are close to linear there.
 */

/** Where one group should land. */
export type GroupTarget = { kind: 'lambda' } | { kind: 'bytes'; bytes: number; tolerance: number } | { kind: 'psnr'; psnr: number; tolerance: number };

export interface RatePoint {
  lambda: number;
  bytes: number;
  psnr: number;
}

/** d log(bytes) / d log(lambda) and d PSNR / d log2(lambda) before a group has two points of its own. */
const DEFAULT_BYTES_SLOPE = -0.6;
const DEFAULT_PSNR_SLOPE = -1.0;
/** One search step changes lambda by at most this factor. */
const MAX_STEP = 8;

export function targetMet(target: GroupTarget, point: RatePoint): boolean {
  if (target.kind === 'lambda') return true;
  if (target.kind === 'bytes') return Math.abs(point.bytes - target.bytes) <= target.tolerance * target.bytes;
  return point.psnr >= target.psnr && point.psnr <= target.psnr + target.tolerance;
}

/** The next lambda to try, from the points measured on this group so far (secant in log space). */
export function nextLambda(target: GroupTarget, points: RatePoint[]): number {
  const last = points[points.length - 1];
  if (target.kind === 'lambda') return last.lambda;
  const x = (p: RatePoint) => Math.log2(p.lambda);
  const y = (p: RatePoint) => (target.kind === 'bytes' ? Math.log2(Math.max(1, p.bytes)) : p.psnr);
  const goal = target.kind === 'bytes' ? Math.log2(target.bytes) : target.psnr + target.tolerance / 2;
  let slope = target.kind === 'bytes' ? DEFAULT_BYTES_SLOPE : DEFAULT_PSNR_SLOPE;
  // The two most recent points that differ in lambda give the local slope, if it has the expected sign.
  for (let i = points.length - 2; i >= 0; i--) {
    const dx = x(last) - x(points[i]);
    if (Math.abs(dx) < 1e-6) continue;
    const measured = (y(last) - y(points[i])) / dx;
    if (measured < 0) slope = Math.min(-0.05, measured);
    break;
  }
  const step = Math.max(-Math.log2(MAX_STEP), Math.min(Math.log2(MAX_STEP), (goal - y(last)) / slope));
  return 2 ** (x(last) + step);
}

/**
 * Byte share of the next group: the remaining budget split over the remaining frames, with a key
 * group's frames weighing more than a predicted group's (it carries networks and has no previous
 * frame to predict from). `predictedWeight` is the measured cost of a predicted frame relative to a
 * key frame once known.
 */
export function groupShare(
  remainingBytes: number,
  frames: number,
  key: boolean,
  remaining: { keyFrames: number; predictedFrames: number },
  predictedWeight: number,
): number {
  const weight = (isKey: boolean) => (isKey ? 1 : predictedWeight);
  const total = remaining.keyFrames * weight(true) + remaining.predictedFrames * weight(false);
  return total > 0 ? (remainingBytes * frames * weight(key)) / total : remainingBytes;
}
