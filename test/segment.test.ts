// Segments and join at container level, on synthetic v2 files (no GPU): a join equals the whole file
// written at once, partial joins compose, and every kind of misfit is refused with the file and
// field named.
import test from 'ava';
import { NervError } from '../src/errors.ts';
import { NervReader, writeNerv, type NervHeader } from '../src/format/nerv.ts';
import { joinSegments, SegmentMismatchError, type SegmentFile } from '../src/segment/join.ts';
import { framesOf, planSegments, segmentAt, segmentOfFrames } from '../src/segment/plan.ts';
import { fromJson, toJson } from '../src/segment/summary.ts';
import { syntheticNerv } from './helpers/synthetic.ts';

// G = 2, K = 2: segments of 4 frames; a 10-frame video makes segments of 4, 4 and 2 frames.
const video = syntheticNerv({ width: 16, height: 12, frameCount: 10, groupSize: 2, keyInterval: 2, seed: 5 });

/** Frames [first, first + count) of `video` as a segment file, as `encode --frames-from` writes it. */
function segment(first: number, count: number, over: Partial<NervHeader> = {}, from = video): Uint8Array {
  const h = from.header;
  const groups = from.groups.slice(first / h.groupSize, Math.ceil((first + count) / h.groupSize));
  return writeNerv({ ...h, frameCount: count, segment: { firstFrame: first, videoFrames: h.frameCount }, ...over }, groups);
}

const named = (...files: [string, Uint8Array][]): SegmentFile[] => files.map(([name, bytes]) => ({ name, bytes }));
const headerOf = (bytes: Uint8Array) => new NervReader(bytes).header;

test('joining the segments of a video gives the file written whole, byte for byte', (t) => {
  const parts = planSegments(10, 2, 2).map((s, i) => ({ name: `s${i}.nerv`, bytes: segment(s.firstFrame, s.frameCount) }));
  t.is(parts.length, 3);
  t.deepEqual(headerOf(parts[1].bytes).segment, { firstFrame: 4, videoFrames: 10 });
  t.deepEqual(joinSegments(parts), video.bytes);
  t.deepEqual(joinSegments([{ name: 'whole', bytes: video.bytes }]), video.bytes, 'a whole file is its own only segment');
});

test('a join of some segments is itself a segment, and joins with the rest', (t) => {
  const tail = joinSegments(named(['b', segment(4, 4)], ['c', segment(8, 2)]));
  t.deepEqual(headerOf(tail).segment, { firstFrame: 4, videoFrames: 10 });
  t.is(headerOf(tail).frameCount, 6);
  const head = joinSegments(named(['a', segment(0, 4)], ['b', segment(4, 4)]));
  t.deepEqual(headerOf(head).segment, { firstFrame: 0, videoFrames: 10 });
  t.deepEqual(joinSegments(named(['a', segment(0, 4)], ['tail', tail])), video.bytes);
  t.deepEqual(joinSegments(named(['head', head], ['c', segment(8, 2)])), video.bytes);
});

function refusal(t: import('ava').ExecutionContext, files: SegmentFile[], file: string, field: string, message: RegExp): void {
  const error = t.throws(() => joinSegments(files), { instanceOf: SegmentMismatchError });
  t.is(error?.code, 'BAD_INPUT');
  t.is(error?.file, file);
  t.is(error?.field, field);
  t.regex(error?.message ?? '', message);
}

test('join refuses overlapping, out-of-order and missing segments', (t) => {
  const [a, b, c] = [segment(0, 4), segment(4, 4), segment(8, 2)];
  refusal(
    t,
    named(['a', a], ['b', b], ['b again', b]),
    'b again',
    'order',
    /^b again \(frames 4\.\.7\) overlaps or comes before b \(frames 4\.\.7\): give segments in video order, each once$/,
  );
  refusal(t, named(['b', b], ['a', a]), 'a', 'order', /overlaps or comes before/);
  refusal(
    t,
    named(['a', a], ['c', c]),
    'c',
    'order',
    /^c starts at frame 8, but a ends at frame 3: frames 4\.\.7 are missing or the segments are out of order$/,
  );
  refusal(t, named(['a', a], ['ab', segment(0, 8)]), 'ab', 'order', /overlaps/);
  // The whole video after a segment: it belongs to a video of the same length but starts at frame 0.
  refusal(t, named(['a', a], ['whole', video.bytes]), 'whole', 'order', /overlaps/);
});

test('join refuses segments of other videos or settings, naming the first mismatch', (t) => {
  const a = segment(0, 4);
  const other = (options: Parameters<typeof syntheticNerv>[0]) =>
    syntheticNerv({ width: 16, height: 12, frameCount: 10, groupSize: 2, keyInterval: 2, seed: 5, ...options });
  refusal(t, named(['a', a], ['b', segment(4, 4, {}, other({ width: 24 }))]), 'b', 'size', /^b: size 24x12 differs from a's 16x12$/);
  refusal(t, named(['a', a], ['b', segment(4, 4, { fps: { num: 25, den: 1 } })]), 'b', 'frame rate', /^b: frame rate 25\/1 differs from a's 30000\/1001$/);
  refusal(t, named(['a', a], ['b', segment(4, 4, { colorSpace: 'bt601' })]), 'b', 'colour space', /bt601 differs from a's bt709/);
  refusal(t, named(['a', a], ['b', segment(4, 4, { colorRange: 'full' })]), 'b', 'colour range', /full differs from a's limited/);
  refusal(t, named(['a', a], ['b', segment(4, 4, {}, other({ colour: 'rgb' }))]), 'b', 'colour space', /srgb/);
  refusal(t, named(['a', a], ['b', segment(4, 4, { lambda: 2 ** -8 })]), 'b', 'lambda', /^b: lambda 0\.00390625 differs from a's 0\.001953125$/);
  refusal(
    t,
    named(['a', a], ['b', segment(4, 4, { segment: { firstFrame: 4, videoFrames: 12 } })]),
    'b',
    'video length',
    /12 frames differs from a's 10 frames/,
  );
  // Another key interval changes the segment length too: the header field is named first.
  refusal(t, named(['a', segment(0, 8, {}, other({ keyInterval: 4 }))], ['b', segment(8, 2)]), 'b', 'key interval', /^b: key interval 2 differs from a's 4$/);
  refusal(t, named(['a', a], ['b', segment(4, 4, {}, other({ groupSize: 4, keyInterval: 1 }))]), 'b', 'group size', /group size 4 differs from a's 2/);
});

test("join compares models, and takes mixed lambdas only when told (one local encode's parts)", (t) => {
  const a = segment(0, 4);
  const model = { ...video.header.model, profile: 'other' };
  refusal(t, named(['a', a], ['b', segment(4, 4, { model })]), 'b', 'model', /^b: model .* differs from a's /);
  const mixed = named(['a', a], ['b', segment(4, 4, { lambda: 2 ** -8 })], ['c', segment(8, 2, { lambda: 2 ** -7 })]);
  const joined = joinSegments(mixed, { mixedLambda: true });
  t.is(headerOf(joined).lambda, 2 ** -9, 'the joined header keeps the first lambda');
  t.deepEqual(joined, video.bytes);
});

test('join refuses a segment that is not whole key intervals or does not start one', (t) => {
  // Frames 0..5 then 6..9: 6 frames is not a whole number of 4-frame key intervals, and 6 starts none.
  const odd = segment(0, 6);
  const h = video.header;
  const rest = writeNerv({ ...h, frameCount: 4, segment: { firstFrame: 6, videoFrames: 10 } }, [
    { ...video.groups[3], key: true, tensors: video.tensors[3] },
    video.groups[4],
  ]);
  refusal(
    t,
    named(['odd', odd], ['rest', rest]),
    'odd',
    'length',
    /^odd holds 6 frames, not a whole number of key intervals \(4 frames\): only the video's last segment may be shorter$/,
  );
  refusal(t, named(['rest', rest]), 'rest', 'start', /^rest starts at frame 6, not on a key interval boundary \(multiples of 4 frames\)$/);
  refusal(t, named(['short', segment(0, 2)], ['next', segment(4, 4)]), 'next', 'order', /frames 2\.\.3 are missing/);
  t.throws(() => joinSegments([]), { instanceOf: NervError, message: 'join needs at least one segment' });
});

test('join names the file of a corrupt segment and never copies a bad chunk', (t) => {
  const b = segment(4, 4).slice();
  b[b.length - 3] ^= 0x40; // inside the last chunk's CRC
  const error = t.throws(() => joinSegments(named(['a.nerv', segment(0, 4)], ['b.nerv', b])), { instanceOf: NervError });
  t.is(error?.code, 'FORMAT');
  t.regex(error?.message ?? '', /^b\.nerv: group 1: chunk CRC-32 mismatch/);
});

test('segment plans: whole key intervals, boundaries checked with the numbers to use', async (t) => {
  t.deepEqual(planSegments(10, 2, 2), [
    { firstFrame: 0, frameCount: 4 },
    { firstFrame: 4, frameCount: 4 },
    { firstFrame: 8, frameCount: 2 },
  ]);
  t.deepEqual(segmentAt(2, 10, 2, 2), { firstFrame: 8, frameCount: 2 });
  t.throws(() => segmentAt(3, 10, 2, 2), { message: /segments 0\.\.2/ });
  t.deepEqual(segmentOfFrames(4, undefined, 10, 2, 2), { firstFrame: 4, frameCount: 6 });
  t.throws(() => segmentOfFrames(6, 10, 10, 2, 2), {
    message: /--frames-from 6 is not on a key-group boundary: segments start at multiples of 4 frames .* e\.g\. 4 or 8/,
  });
  t.throws(() => segmentOfFrames(4, 7, 10, 2, 2), { message: /--frames-to 7 .* multiple of 4 frames or the end of the video \(10\)/ });
  const taken: number[] = [];
  for await (const frame of framesOf([0, 1, 2, 3, 4, 5], 2, 3)) taken.push(frame);
  t.deepEqual(taken, [2, 3, 4]);
});

test('outcomes travel as JSON with their infinite PSNRs', (t) => {
  const value = { psnr: Infinity, frames: [1.5, -Infinity, NaN], name: 'Infinity', nested: { number: 'x' } };
  t.deepEqual(fromJson(toJson(value)), value);
});
