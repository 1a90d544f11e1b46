/**
 * Joining segment files into one .nerv file at container level: the chunks are copied byte for byte;
 * only the header (frame count, segment fields), the index and their CRCs are written anew. Nothing
 * is decoded or re-encoded. Runtime-neutral (browsers, Deno): file IO is the caller's.
 *
 * Why copying chunks is enough (docs/format.md, "Segments and join"): every segment starts with a
 * key group, and a key group's chunk carries its networks and codes its latents without the frame
 * before it, so no chunk refers to anything outside its segment.
 */
import { NervError } from '../errors.ts';
import { assembleNerv, encodeHeaderBody, NervReader, type NervHeader } from '../format/nerv.ts';
import { keyIntervalFrames } from './plan.ts';

/** A segment file and the name errors call it by. */
export interface SegmentFile {
  name: string;
  bytes: Uint8Array;
}

/** Segments that do not fit together: which file, which field; code BAD_INPUT. */
export class SegmentMismatchError extends NervError {
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super('BAD_INPUT', message);
  }
}

export interface JoinOptions {
  /**
   * Accept segments of different lambdas. Only for the parts of one local encode whose rate control
   * went on from part to part (src/segment/local.ts): each part's header holds the lambda its first
   * group settled on, and the joined file keeps the first's, as a whole encode's header does.
   */
  mixedLambda?: boolean;
}

interface Parsed {
  name: string;
  header: NervHeader;
  chunks: Uint8Array[];
  keys: boolean[];
}

function parse(file: SegmentFile): Parsed {
  let reader: NervReader;
  try {
    reader = new NervReader(file.bytes);
    reader.verifyChunks(); // never copy a corrupt chunk into the joined file
  } catch (error) {
    if (error instanceof NervError) throw new NervError(error.code, `${file.name}: ${error.message}`, { cause: error });
    throw error;
  }
  const { index, dataStart } = reader;
  return {
    name: file.name,
    header: reader.header,
    chunks: index.map((e) => file.bytes.subarray(dataStart + e.offset, dataStart + e.offset + e.size)),
    keys: index.map((e) => e.key),
  };
}

const range = (p: Parsed) => `frames ${p.header.segment.firstFrame}..${p.header.segment.firstFrame + p.header.frameCount - 1}`;

/** What every segment of one video shares, field by field: [name, value as text]. */
function sharedFields(h: NervHeader, options: JoinOptions): [string, string][] {
  const fields: [string, string][] = [
    ['size', `${h.width}x${h.height}`],
    ['frame rate', `${h.fps.num}/${h.fps.den}`],
    ['colour space', h.colorSpace],
    ['colour range', h.colorRange],
    ['group size', String(h.groupSize)],
    ['key interval', String(h.keyInterval)],
    ['model', JSON.stringify(h.model)],
    ['video length', `${h.segment.videoFrames} frames`],
  ];
  if (!options.mixedLambda) fields.push(['lambda', String(h.lambda)]);
  return fields;
}

/**
 * Joins segments given in video order into one file. Refuses, naming the first mismatch and its
 * file: a different size, frame rate, colour space or range, group size, key interval, model,
 * lambda or video length; a segment that does not start a key interval; overlapping, out-of-order
 * or missing frames; a segment other than the last that is not a whole number of key intervals.
 * The result covers the frames from the first segment's start: a whole video when that is all of
 * it, otherwise a segment again (so joins compose).
 */
export function joinSegments(files: SegmentFile[], options: JoinOptions = {}): Uint8Array {
  if (files.length === 0) throw new NervError('BAD_ARGUMENT', 'join needs at least one segment');
  const parsed = files.map(parse);
  const first = parsed[0];
  const h0 = first.header;
  const unit = keyIntervalFrames(h0.groupSize, h0.keyInterval);
  const expected = sharedFields(h0, options);
  let frameCount = 0;
  parsed.forEach((file, i) => {
    sharedFields(file.header, options).forEach(([field, mine], j) => {
      const theirs = expected[j][1];
      if (mine === theirs) return;
      const shown = (v: string) => (v.length > 60 ? `${v.slice(0, 57)}...` : v);
      throw new SegmentMismatchError(file.name, field, `${file.name}: ${field} ${shown(mine)} differs from ${first.name}'s ${shown(theirs)}`);
    });
    const start = file.header.segment.firstFrame;
    if (i > 0) {
      const before = parsed[i - 1];
      const end = before.header.segment.firstFrame + before.header.frameCount;
      if (start < end) {
        throw new SegmentMismatchError(
          file.name,
          'order',
          `${file.name} (${range(file)}) overlaps or comes before ${before.name} (${range(before)}): give segments in video order, each once`,
        );
      }
      if (start > end) {
        throw new SegmentMismatchError(
          file.name,
          'order',
          `${file.name} starts at frame ${start}, but ${before.name} ends at frame ${end - 1}: frames ${end}..${start - 1} are missing or the segments are out of order`,
        );
      }
      if (before.header.frameCount % unit !== 0) {
        throw new SegmentMismatchError(
          before.name,
          'length',
          `${before.name} holds ${before.header.frameCount} frames, not a whole number of key intervals (${unit} frames): only the video's last segment may be shorter`,
        );
      }
    }
    if (start % unit !== 0) {
      throw new SegmentMismatchError(file.name, 'start', `${file.name} starts at frame ${start}, not on a key interval boundary (multiples of ${unit} frames)`);
    }
    frameCount += file.header.frameCount;
  });
  const header: NervHeader = { ...h0, frameCount, segment: { firstFrame: h0.segment.firstFrame, videoFrames: h0.segment.videoFrames } };
  return assembleNerv(
    encodeHeaderBody(header),
    parsed.flatMap((p) => p.chunks),
    parsed.flatMap((p) => p.keys),
  );
}
