/**
 * The coupling between segments and the encoder. A segment is encodeFrames over its frames with its
 * place in the video (firstGroup: seeds follow the global group index; videoFrames: the header's
 * segment fields). Key groups train from a fixed initialisation and code their latents without the
 * frame before, so with the same seed and rate setting, on the same backend, a segment's chunks
 * equal the same groups of a whole-video encode.
 *
 * The rate setting: a fixed lambda works for any segment anywhere. A size or PSNR target searches
 * lambda group by group and carries its state along; a segment continues that search only from the
 * state where the segment before it ended (RateState: the local encoder does this), otherwise the
 * video's lambda is decided once, on its first group (decideLambda), and fixed for every segment.
 */
import { BadArgumentError, NervError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import { encodeFrames, ENCODE_DEFAULTS, type EncodeProgress, type EncodeResult, type RateState } from '../encode/encode.ts';
import type { RgbFrame } from '../video/frame.ts';
import { encodeOptionsOf, type SegmentSettings } from './params.ts';
import { framesOf, segmentOfFrames, type SegmentRange } from './plan.ts';

type Frames = Iterable<RgbFrame> | AsyncIterable<RgbFrame>;

export interface SegmentTask {
  range: SegmentRange;
  /** Frames in the whole video. */
  videoFrames: number;
  settings: SegmentSettings;
  /** Where the previous segment's rate control ended (a target's search continues from it). */
  rateState?: RateState;
  onProgress?: (event: EncodeProgress) => void;
}

/** Encodes one segment from exactly its frames (`frames` starts at the segment's first frame). */
export async function encodeSegment(ctx: GpuContext, frames: Frames, task: SegmentTask): Promise<EncodeResult> {
  const { range, videoFrames, settings } = task;
  segmentOfFrames(range.firstFrame, range.firstFrame + range.frameCount, videoFrames, settings.groupSize, settings.keyInterval);
  const target = settings.targetBytes !== undefined || settings.targetPsnr !== undefined;
  if (target && range.firstFrame > 0 && !task.rateState) {
    throw new BadArgumentError(
      `the segment at frame ${range.firstFrame} needs a fixed lambda (see decideLambda) or the rate state where the segment before it ended`,
    );
  }
  const result = await encodeFrames(ctx, frames, {
    ...encodeOptionsOf(settings, videoFrames),
    firstGroup: range.firstFrame / settings.groupSize,
    rateState: task.rateState,
    onProgress: task.onProgress,
  });
  if (result.frameCount !== range.frameCount) {
    throw new NervError(
      'BAD_INPUT',
      `the input gave ${result.frameCount} frames from frame ${range.firstFrame}, the segment needs ${range.frameCount} (is the video shorter than ${videoFrames} frames?)`,
    );
  }
  return result;
}

/**
 * The lambda every segment of a distributed (or separately encoded) video uses: the fixed one, or
 * the one the rate search settles on for the video's first group with the size or PSNR target.
 * `frames` is the video from frame 0; only its first group is read.
 */
export async function decideLambda(
  ctx: GpuContext,
  frames: Frames,
  settings: SegmentSettings,
  videoFrames: number,
  onProgress?: (event: EncodeProgress) => void,
): Promise<number> {
  if (settings.targetBytes === undefined && settings.targetPsnr === undefined) return settings.lambda ?? ENCODE_DEFAULTS.lambda;
  const first = await encodeFrames(ctx, framesOf(frames, 0, settings.groupSize), { ...encodeOptionsOf(settings, videoFrames), onProgress });
  return first.groups[0].lambda;
}
