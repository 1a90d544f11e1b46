/**
 * Node edge: a single-machine encode, segment by segment, each finished segment kept in OUT.parts/
 * (src/segment/workdir.ts) so that a killed or interrupted encode resumes where it stopped. Rate
 * control goes on from segment to segment as in a whole encode: each segment starts from the state
 * the one before it ended in, which the manifest keeps, so an encode resumed any number of times
 * writes the bytes of an uninterrupted one, and those are the bytes of encodeFrames over the whole
 * video. At the end the parts are joined into OUT (atomically) and the work directory is removed.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { EncodeProgress, EncodeResult, RateState } from '../encode/encode.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import type { RgbFrame } from '../video/frame.ts';
import { encodeSegment } from './encode.ts';
import { joinSegments } from './join.ts';
import type { SegmentSettings } from './params.ts';
import { framesOf, planSegments } from './plan.ts';
import { combineOutcomes, outcomeOf } from './summary.ts';
import { PartsDirectory } from './workdir.ts';

export interface LocalEncodeOptions {
  output: string;
  /** Replace an existing output (-y); otherwise the final write refuses one that appeared meanwhile. */
  overwrite: boolean;
  settings: SegmentSettings;
  videoFrames: number;
  /** Identifies the encode (settings, input): a resume with anything else is refused. */
  identity: Record<string, unknown>;
  resume: boolean;
  onProgress?: (event: EncodeProgress) => void;
  /** Once the work directory is read (`index` undefined), then after each stored segment. */
  onSegment?: (event: { done: number; segments: number; parts: PartsDirectory; index?: number }) => void;
}

/** `frames` yields the video from frame 0; it is read once, the frames of finished segments decoded and dropped. */
export async function encodeLocally(ctx: GpuContext, frames: AsyncIterable<RgbFrame>, options: LocalEncodeOptions): Promise<EncodeResult> {
  const { settings, videoFrames } = options;
  const plan = planSegments(videoFrames, settings.groupSize, settings.keyInterval);
  const parts = await PartsDirectory.open(options.output, options.identity, plan.length, options.resume);
  options.onSegment?.({ done: parts.finishedCount, segments: plan.length, parts });
  const stream = frames[Symbol.asyncIterator]();
  // One pass over the input: each segment takes its frames from the same iterator (never closing it).
  const rest: AsyncIterable<RgbFrame> = { [Symbol.asyncIterator]: () => ({ next: () => stream.next() }) };
  let rateState: RateState | undefined;
  let only: EncodeResult | undefined;
  try {
    for (const [index, range] of plan.entries()) {
      const segmentFrames = framesOf(rest, 0, range.frameCount);
      const finished = parts.finished(index);
      if (finished) {
        for await (const _ of segmentFrames); // the stream has no seek
        rateState = finished.rateState;
        continue;
      }
      const result = await encodeSegment(ctx, segmentFrames, { range, videoFrames, settings, rateState, onProgress: options.onProgress });
      rateState = result.rateState;
      if (plan.length === 1)
        only = result; // nothing to resume: no work directory
      else {
        await parts.addPart(index, result.bytes, outcomeOf(result));
        options.onSegment?.({ done: parts.finishedCount, segments: plan.length, parts, index });
      }
    }
  } finally {
    await stream.return?.();
  }
  if (only) {
    await writeFileAtomic(options.output, only.bytes, { overwrite: options.overwrite });
    return only;
  }
  // The parts' lambdas are where rate control stood at each; the joined header keeps the first's, as a whole encode's does.
  const bytes = joinSegments(await parts.readParts(), { mixedLambda: true });
  await writeFileAtomic(options.output, bytes, { overwrite: options.overwrite });
  await parts.remove();
  return combineOutcomes(
    bytes,
    plan.map((_, index) => parts.finished(index)!),
    settings,
  );
}
