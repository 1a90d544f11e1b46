/**
 * What an encode reports, assembled from its segments: each segment's figures travel as JSON (in a
 * job result or a resume manifest), and the joined file's summary is computed from them as
 * encodeFrames computes a whole encode's.
 */
import { targetOutcome, type EncodeOptions, type EncodeResult, type GroupReport, type RateState } from '../encode/encode.ts';
import { NervReader } from '../format/nerv.ts';
import { meanPsnr, type YuvPsnr } from '../metrics/psnr.ts';
import { macsPerPixel, parameterCount } from '../nn/model.ts';

/** One encoded segment's figures: enough for the joined file's summary, and for the next segment's rate control. */
export interface SegmentOutcome {
  frameCount: number;
  /** Its groups' reports, without the training curves (`reports` is empty). */
  groups: GroupReport[];
  psnrYuv?: YuvPsnr;
  /** Warnings about its groups (the video's targets are judged on the joined file). */
  warnings: string[];
  /** Rate control where the segment ended: where the next segment of a local encode starts. */
  rateState: RateState;
}

export function outcomeOf(result: EncodeResult): SegmentOutcome {
  return {
    frameCount: result.frameCount,
    groups: result.groups.map((g) => ({ ...g, reports: [] })),
    psnrYuv: result.psnrYuv,
    warnings: result.warnings,
    rateState: result.rateState,
  };
}

/** The summary of the file `bytes` joined from segments with these outcomes (in video order). */
export function combineOutcomes(bytes: Uint8Array, outcomes: SegmentOutcome[], targets: Pick<EncodeOptions, 'targetBytes' | 'targetPsnr'>): EncodeResult {
  const { header } = new NervReader(bytes);
  const model = header.model;
  const groups = outcomes.flatMap((o) => o.groups);
  const frameCount = outcomes.reduce((sum, o) => sum + o.frameCount, 0);
  const outcome = targetOutcome(targets, bytes.length, groups);
  const yuv = outcomes.every((o) => o.psnrYuv) ? outcomes.map((o) => ({ ...o.psnrYuv!, frames: o.frameCount })) : undefined;
  // Per-plane means over frames, as encodeFrames takes them: a frame-weighted mean of the segments' means.
  const mean = (plane: 'y' | 'u' | 'v') => yuv!.reduce((sum, s) => sum + s[plane] * s.frames, 0) / frameCount;
  const psnrYuv = yuv && { y: mean('y'), u: mean('u'), v: mean('v'), weighted: (6 * mean('y') + mean('u') + mean('v')) / 8 };
  return {
    bytes,
    model,
    groups,
    frameCount,
    lambda: groups[0].lambda,
    parameterCount: parameterCount(model),
    macsPerPixel: macsPerPixel(model),
    psnr: meanPsnr(groups.flatMap((g) => g.framePsnr)),
    psnrRgb: meanPsnr(groups.flatMap((g) => g.framePsnrRgb)),
    psnrYuv,
    bpp: (bytes.length * 8) / (model.width * model.height * frameCount),
    targets: outcome.targets,
    warnings: [...outcomes.flatMap((o) => o.warnings), ...outcome.warnings],
    rateState: outcomes[outcomes.length - 1].rateState,
  };
}

/** JSON that keeps infinite and NaN numbers (a perfect frame's PSNR is Infinity; JSON would make it null). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { number: String(v) } : v));
}

export function fromJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    const n = (v as { number?: unknown } | null)?.number;
    return v !== null && typeof v === 'object' && Object.keys(v).length === 1 && (n === 'Infinity' || n === '-Infinity' || n === 'NaN') ? Number(n) : v;
  });
}
