// NervStream: header/index parsed from a partial download, groups usable as their chunks arrive,
// and truncation, trailing bytes and corrupt prefixes reported as typed errors.
import test from 'ava';
import { NervStream, type StreamProgress } from '../src/decode/stream.ts';
import { NervFormatError, NervReader } from '../src/format/index.ts';
import { syntheticNerv } from './helpers/synthetic.ts';

function sampleFile(): Uint8Array {
  return syntheticNerv({ width: 5, height: 3, frameCount: 7, groupSize: 2, keyInterval: 2, seed: 4 }).bytes;
}

/** A stream whose pieces are released one at a time by `next()`. */
function controlledStream(bytes: Uint8Array, cuts: number[]) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const bounds = [0, ...cuts, bytes.length];
  let piece = 0;
  return {
    stream,
    next() {
      if (piece < bounds.length - 1) controller.enqueue(bytes.slice(bounds[piece], bounds[piece + 1]));
      piece++;
      if (piece === bounds.length - 1) controller.close();
    },
    fail(error: Error) {
      controller.error(error);
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test('parses the prefix early and releases groups as their chunks arrive', async (t) => {
  const bytes = sampleFile();
  const reference = new NervReader(bytes);
  const chunkEnd = (k: number) => reference.dataStart + reference.index[k].offset + reference.index[k].size;
  // Pieces: 10 bytes of preamble, the rest of the prefix plus part of chunk 0, up to the end of chunk 1, the rest.
  const source = controlledStream(bytes, [10, reference.dataStart + 3, chunkEnd(1)]);
  const progress: StreamProgress[] = [];
  const opening = NervStream.open(source.stream, { onProgress: (p) => progress.push({ ...p }) });
  source.next();
  source.next();
  const stream = await opening;
  t.deepEqual(stream.prefix.header, reference.header);
  t.is(stream.bytes.length, bytes.length);
  t.false(stream.groupReady(0));
  let group1 = false;
  void stream.waitForGroup(1).then(() => (group1 = true));
  await tick();
  t.false(group1);
  source.next();
  await tick();
  t.true(group1);
  t.is(stream.groupsReady, 2);
  t.false(stream.complete);
  // Groups that arrived decode exactly as from the complete file, through an ordinary reader on `bytes`.
  const partial = new NervReader(stream.bytes);
  t.deepEqual(partial.group(1), reference.group(1));
  source.next();
  await stream.done;
  t.true(stream.complete);
  t.deepEqual(stream.bytes, bytes);
  t.deepEqual(partial.group(3), reference.group(3));
  const last = progress.at(-1)!;
  t.deepEqual(last, { loaded: bytes.length, total: bytes.length, groupsReady: 4 });
});

test('a download that ends early rejects waiters with a truncation error naming the group', async (t) => {
  const bytes = sampleFile();
  const reference = new NervReader(bytes);
  const cut = reference.dataStart + reference.index[2].offset + 2;
  const stream = await NervStream.open(bytes.slice(0, cut));
  await t.notThrowsAsync(stream.waitForGroup(1));
  const error = await t.throwsAsync(stream.waitForGroup(3), { instanceOf: NervFormatError });
  t.is(error!.kind, 'truncated');
  t.is(error!.group, 2);
  await t.throwsAsync(stream.done, { instanceOf: NervFormatError });
});

test('trailing bytes, a corrupt header and a network error are typed errors', async (t) => {
  const bytes = sampleFile();
  const longer = new Uint8Array(bytes.length + 3);
  longer.set(bytes);
  const stream = await NervStream.open(longer);
  const trailing = await t.throwsAsync(stream.done, { instanceOf: NervFormatError });
  t.is(trailing!.kind, 'trailing');

  const corrupt = bytes.slice();
  corrupt[20] ^= 0x40;
  const bad = await t.throwsAsync(NervStream.open(corrupt), { instanceOf: NervFormatError });
  t.is(bad!.kind, 'header-crc');

  const notNerv = await t.throwsAsync(NervStream.open(new TextEncoder().encode('<html>not found</html>')), { instanceOf: NervFormatError });
  t.is(notNerv!.kind, 'magic');

  const source = controlledStream(bytes, [bytes.length - 5]);
  source.next();
  const broken = await NervStream.open(source.stream);
  source.fail(new Error('connection reset'));
  const network = await t.throwsAsync(broken.waitForGroup(3));
  t.is((network as { code?: string }).code, 'IO');
  t.regex(network!.message, /connection reset/);
});
