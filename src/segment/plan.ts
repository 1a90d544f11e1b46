/**
 * Segments: a video cut at key groups. A segment is a run of whole key intervals (K groups of G
 * frames) that starts with a key group, so it depends on nothing before it and can be encoded
 * anywhere; only the video's last segment may be shorter.
 */
import { BadArgumentError } from '../errors.ts';

export interface SegmentRange {
  /** Frame index (in the whole video) of the segment's first frame. */
  firstFrame: number;
  frameCount: number;
}

/** Frames in one key interval: the unit segments are made of. */
export function keyIntervalFrames(groupSize: number, keyInterval: number): number {
  return groupSize * keyInterval;
}

/** The video cut into segments of one key interval each. */
export function planSegments(videoFrames: number, groupSize: number, keyInterval: number): SegmentRange[] {
  const length = keyIntervalFrames(groupSize, keyInterval);
  const segments: SegmentRange[] = [];
  for (let first = 0; first < videoFrames; first += length) segments.push({ firstFrame: first, frameCount: Math.min(length, videoFrames - first) });
  return segments;
}

/** Segment `index` of the plan (`--segment I`). */
export function segmentAt(index: number, videoFrames: number, groupSize: number, keyInterval: number): SegmentRange {
  const segments = planSegments(videoFrames, groupSize, keyInterval);
  if (!Number.isInteger(index) || index < 0 || index >= segments.length) {
    throw new BadArgumentError(
      `segment ${index} does not exist: ${videoFrames} frames in segments of ${keyIntervalFrames(groupSize, keyInterval)} ` +
        `(key interval ${keyInterval} x group ${groupSize}) make segments 0..${segments.length - 1}`,
    );
  }
  return segments[index];
}

/**
 * Frames [from, to) as a segment (`--frames-from A --frames-to B`): A must start a key interval, and B
 * must end one or be the end of the video, so that the segments fit together when joined.
 */
export function segmentOfFrames(from: number, to: number | undefined, videoFrames: number, groupSize: number, keyInterval: number): SegmentRange {
  const length = keyIntervalFrames(groupSize, keyInterval);
  const end = to ?? videoFrames;
  if (!Number.isInteger(from) || from < 0 || from >= videoFrames)
    throw new BadArgumentError(`--frames-from ${from} is outside the video's frames 0..${videoFrames - 1}`);
  if (from % length !== 0) {
    throw new BadArgumentError(
      `--frames-from ${from} is not on a key-group boundary: segments start at multiples of ${length} frames ` +
        `(key interval ${keyInterval} x group ${groupSize}), e.g. ${from - (from % length)} or ${from - (from % length) + length}`,
    );
  }
  if (!Number.isInteger(end) || end <= from || end > videoFrames)
    throw new BadArgumentError(`--frames-to ${end} must be after --frames-from ${from} and at most the video's ${videoFrames} frames`);
  if (end !== videoFrames && end % length !== 0) {
    throw new BadArgumentError(`--frames-to ${end} (exclusive) must be a multiple of ${length} frames or the end of the video (${videoFrames})`);
  }
  return { firstFrame: from, frameCount: end - from };
}

/** Frames [first, first + count) of a stream, decoding and dropping the ones before (training dominates by far). */
export async function* framesOf<T>(frames: AsyncIterable<T> | Iterable<T>, first: number, count: number): AsyncGenerator<T> {
  let index = 0;
  if (count <= 0) return;
  for await (const frame of frames) {
    if (index >= first) yield frame;
    if (++index >= first + count) return; // without reading a frame past the range
  }
}
