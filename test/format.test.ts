import test from 'ava';
import fc from 'fast-check';
import { BadArgumentError, NervFormatError, type NervFormatErrorKind } from '../src/errors.ts';
import { crc32 } from '../src/format/crc32.ts';
import {
  NERV_LIMITS,
  NervGroupDecoder,
  NervReader,
  describeNerv,
  readNervPrefix,
  writeNerv,
  type NervGroup,
  type NervHeader,
  type NervPrefix,
} from '../src/format/nerv.ts';
import { open } from '../src/decode/video.ts';
import { describeModel } from '../src/nn/model.ts';
import { syntheticNerv } from './helpers/synthetic.ts';

const synthetic = syntheticNerv({ frameCount: 17, groupSize: 3, keyInterval: 3, seed: 1 });
const { bytes: file, header, groups } = synthetic;

function expectFormatError(
  t: { fail: (m: string) => void; is: (a: unknown, b: unknown, m?: string) => void },
  run: () => unknown,
  kind: NervFormatErrorKind,
): NervFormatError | undefined {
  try {
    run();
  } catch (error) {
    if (!(error instanceof NervFormatError)) throw error;
    t.is(error.code, 'FORMAT');
    t.is(error.kind, kind, error.message);
    return error;
  }
  t.fail(`expected a ${kind} error`);
  return undefined;
}

function assertGroupsMatch(t: { true: (v: boolean, m?: string) => void }, reader: NervGroupDecoder, order: number[]) {
  for (const k of order) {
    const decoded = reader.group(k);
    t.true(decoded.networksCoded === (groups[k].tensors !== undefined), `group ${k} networks flag`);
    t.true(decoded.latents.length === groups[k].latents.length && decoded.latents.every((v, i) => v === groups[k].latents[i]), `group ${k} latent stream`);
    decoded.tensors.forEach((tensor, i) => {
      const expected = synthetic.tensors[k][i];
      t.true(tensor.step === expected.step, `group ${k} tensor ${i} step`);
      t.true(
        tensor.symbols.every((v, j) => v === expected.symbols[j]),
        `group ${k} tensor ${i} symbols`,
      );
    });
  }
}

/** Everything a decoder does: container, network tensors, latents (entropy-decoded) and a synthesized frame per group. */
async function readAll(bytes: Uint8Array): Promise<void> {
  const video = await open(bytes, { backend: 'cpu' });
  for (let k = 0; k < video.info.groupCount; k++) await video.synthesized(k * video.info.groupSize);
}

function readAllContainer(bytes: Uint8Array): void {
  const reader = new NervReader(bytes);
  for (let k = 0; k < reader.index.length; k++) reader.group(k);
}

/** Rewrites a file's header body through `edit` and fixes the header CRC, to reach the field checks. */
function patchHeader(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  edit(view);
  const headerEnd = 16 + view.getUint32(12, true);
  view.setUint32(headerEnd, crc32(out, 0, headerEnd), true);
  return out;
}

test('header, index and every group round trip, in any order and with a tiny cache', async (t) => {
  const reader = new NervReader(file);
  t.deepEqual(reader.header, header);
  t.is(reader.version, 2);
  t.is(reader.index.length, 6);
  t.deepEqual(
    reader.index.map((e) => e.key),
    [true, false, false, true, false, false],
  );
  assertGroupsMatch(t, reader, [0, 1, 2, 3, 4, 5]);
  assertGroupsMatch(t, new NervReader(file, 1), [5, 2, 4, 0, 1, 3, 3, 1]);
  // returned arrays are copies: changing them does not corrupt later decodes
  reader.group(1).tensors[0].symbols.fill(99);
  assertGroupsMatch(t, reader, [1, 2]);
  // and the latents decode to what was coded, in any order
  const video = await open(file, { backend: 'cpu' });
  for (const k of [4, 0, 5, 2]) {
    for (let j = 0; j < synthetic.latents[k].length; j++) {
      const frame = k * 3 + j;
      t.deepEqual(Array.from(video.latents(frame)), Array.from(synthetic.latents[k][j]));
    }
  }
});

test('describeNerv adds up, and inherited networks cost one byte per group', (t) => {
  const info = describeNerv(file);
  const tensorBytes = Object.values(info.tensors).reduce((sum, x) => sum + x, 0);
  t.is(info.header + info.index + info.chunkOverhead + info.latents + tensorBytes, file.length);
  t.is(info.fileBytes, file.length);
  t.is(info.groups, 6);
  t.is(info.keyGroups, 2);
  t.is(info.networkGroups, groups.filter((g) => g.tensors).length);
  t.is(
    info.latents,
    groups.reduce((sum, g) => sum + g.latents.length, 0),
  );
  t.true(info.header < 120, `the binary model header is ${info.header} bytes`);
});

test('property: random frame sizes, group layouts and colour formats round trip', async (t) => {
  const arbitrary = fc.record({
    width: fc.integer({ min: 2, max: 40 }),
    height: fc.integer({ min: 2, max: 30 }),
    frameCount: fc.integer({ min: 1, max: 9 }),
    groupSize: fc.integer({ min: 1, max: 4 }),
    keyInterval: fc.integer({ min: 1, max: 3 }),
    colour: fc.constantFrom('yuv420' as const, 'rgb' as const),
    seed: fc.integer({ min: 1, max: 1000 }),
  });
  await fc.assert(
    fc.asyncProperty(arbitrary, async (options) => {
      const s = syntheticNerv(options);
      const reader = new NervReader(s.bytes);
      if (JSON.stringify(reader.header) !== JSON.stringify(s.header)) return false;
      const video = await open(s.bytes, { backend: 'cpu' });
      const last = s.latents.length - 1;
      const frame = last * options.groupSize + s.latents[last].length - 1;
      const decoded = video.latents(frame);
      return decoded.every((v, i) => v === s.latents[last].at(-1)![i]);
    }),
    { numRuns: 25, seed: 5 },
  );
  t.pass('fast-check found no counter-example'); // fc.assert throws on failure
});

test('readNervPrefix works on every prefix and lets a player decode group 0 early', (t) => {
  let parsedAt = -1;
  let lastNeed = 0;
  for (let length = 0; length <= Math.min(file.length, 400); length++) {
    const result = readNervPrefix(file.subarray(0, length));
    if ('needBytes' in result) {
      t.true(result.needBytes > length && result.needBytes >= lastNeed, `prefix ${length}`);
      lastNeed = result.needBytes;
    } else if (parsedAt < 0) {
      parsedAt = length;
      t.is(length, lastNeed);
    }
  }
  t.true(parsedAt > 0);
  const prefix = readNervPrefix(file.subarray(0, parsedAt)) as NervPrefix;
  t.is(prefix.fileSize, file.length);
  const partial = file.slice(0, prefix.dataStart + prefix.index[0].size);
  const decoder = new NervGroupDecoder(prefix, (k) => {
    const start = prefix.dataStart + prefix.index[k].offset;
    return partial.subarray(start, start + prefix.index[k].size);
  });
  assertGroupsMatch(t, decoder, [0]);
  expectFormatError(t, () => decoder.group(1), 'truncated');
});

test('typed errors: magic, version (with a hint for version 1), CRCs, truncation, trailing bytes', (t) => {
  expectFormatError(t, () => new NervReader(new TextEncoder().encode('RIFF....WAVEfmt ')), 'magic');
  expectFormatError(t, () => readNervPrefix(Uint8Array.of(0x4e, 0x45, 0x52, 0x57)), 'magic');
  const v1 = file.slice();
  v1[8] = 1;
  const old = expectFormatError(t, () => new NervReader(v1), 'version');
  t.regex(old?.message ?? '', /version 1.*re-encode/);
  const v3 = file.slice();
  v3[8] = 3;
  expectFormatError(t, () => new NervReader(v3), 'version');
  const flagged = file.slice();
  flagged[10] = 1;
  expectFormatError(t, () => new NervReader(flagged), 'version');
  const badHeader = file.slice();
  badHeader[20] ^= 4;
  expectFormatError(t, () => new NervReader(badHeader), 'header-crc');
  const prefix = readNervPrefix(file) as NervPrefix;
  const badIndex = file.slice();
  badIndex[prefix.dataStart - 6] ^= 1;
  expectFormatError(t, () => new NervReader(badIndex), 'index-crc');
  const badChunk = file.slice();
  const chunk3 = prefix.dataStart + prefix.index[3].offset;
  badChunk[chunk3 + 10] ^= 0x80;
  const reader = new NervReader(badChunk);
  reader.group(0);
  const error = expectFormatError(t, () => reader.group(4), 'chunk-crc');
  t.is(error?.group, 3);
  t.is(error?.offset, chunk3);
  t.regex(error?.message ?? '', new RegExp(`group 3.*offset ${chunk3}`));
  expectFormatError(t, () => reader.verifyChunks(), 'chunk-crc');
  expectFormatError(t, () => new NervReader(file.subarray(0, file.length - 1)), 'truncated');
  expectFormatError(t, () => new NervReader(file.subarray(0, 30)), 'truncated');
  expectFormatError(t, () => new NervReader(Uint8Array.of(...file, 0)), 'trailing');
});

test('typed errors: absurd dimensions, counts and model fields are rejected before allocation', (t) => {
  const setU32 = (at: number, value: number) => (view: DataView) => view.setUint32(at, value, true);
  const setU8 = (at: number, value: number) => (view: DataView) => view.setUint8(at, value);
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(16, 16385))), 'limits');
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(20, 0))), 'header');
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(24, 2_000_000))), 'limits');
  expectFormatError(t, () => new NervReader(patchHeader(file, setU8(36, 7))), 'header'); // colour space
  expectFormatError(t, () => new NervReader(patchHeader(file, setU8(37, 9))), 'header'); // colour range
  // model: kind byte, then profile name length, then fields (see docs/format.md)
  const model = 16 + 4 * 5 + 1 + 1 + 2 + 2 + 4 + 4 + 4;
  const profile = file[model + 1];
  const fields = model + 2 + profile;
  expectFormatError(t, () => new NervReader(patchHeader(file, setU8(model, 9))), 'header');
  expectFormatError(t, () => new NervReader(patchHeader(file, setU8(fields, 5))), 'header'); // colour format
  expectFormatError(t, () => new NervReader(patchHeader(file, setU8(fields + 1, 200))), 'header'); // 200 latent levels
  expectFormatError(t, () => new NervReader(patchHeader(file, setU8(fields + 3, 250))), 'header'); // 250 synthesis layers
  const longHeader = file.slice(0, 16);
  new DataView(longHeader.buffer).setUint32(12, 0x7fffffff, true);
  expectFormatError(t, () => readNervPrefix(longHeader), 'limits');
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(24, 30))), 'header'); // more frames than the video it is a segment of
  expectFormatError(
    t,
    () =>
      new NervReader(
        patchHeader(file, (v) => {
          v.setUint32(24, 30, true);
          v.setUint32(50, 30, true);
        }),
      ),
    'index-crc',
  );
});

test('typed errors: an index that breaks contiguity or key spacing', (t) => {
  const prefix = readNervPrefix(file) as NervPrefix;
  const indexStart = prefix.dataStart - 8 - 9 * prefix.index.length;
  const patchIndex = (edit: (view: DataView) => void) => {
    const out = file.slice();
    const view = new DataView(out.buffer);
    edit(view);
    view.setUint32(prefix.dataStart - 4, crc32(out, indexStart, prefix.dataStart - 4), true);
    return out;
  };
  expectFormatError(t, () => new NervReader(patchIndex((v) => v.setUint8(indexStart + 4 + 9 * 3 + 8, 0))), 'index'); // 5 predicted in a row, K = 3
  expectFormatError(t, () => new NervReader(patchIndex((v) => v.setUint8(indexStart + 4 + 8, 0))), 'index'); // group 0 not key
  expectFormatError(t, () => new NervReader(patchIndex((v) => v.setUint32(indexStart + 4 + 9, 1, true))), 'index');
  expectFormatError(t, () => new NervReader(patchIndex((v) => v.setUint32(indexStart, 7, true))), 'index');
});

test('writeNerv rejects invalid input with BadArgumentError', (t) => {
  const bad = (h: Partial<NervHeader>, gs: NervGroup[] = groups) => t.throws(() => writeNerv({ ...header, ...h }, gs), { instanceOf: BadArgumentError });
  bad({ width: 0 });
  bad({ height: NERV_LIMITS.maxDimension + 1 });
  bad({ fps: { num: 30, den: 0 } });
  bad({ colorSpace: 'rec2020' as never });
  bad({ colorRange: 'studio' as never });
  bad({ lambda: -1 });
  bad({ model: describeModel(32, 14, 3) }); // model size differs from the header's
  bad({ frameCount: 30 }); // 10 groups expected, 6 given
  bad(
    {},
    groups.map((g, k) => ({ ...g, key: k === 0 })),
  ); // 5 predicted groups in a row with K = 3
  bad(
    {},
    groups.map((g) => (g.tensors ? { ...g, tensors: g.tensors.slice(1) } : g)),
  );
  bad(
    {},
    groups.map((g) => (g.tensors ? { ...g, tensors: g.tensors.map((x) => ({ ...x, step: 0.3 })) } : g)),
  ); // not a power of two
  bad(
    {},
    groups.map((g, k) => (k === 0 ? { ...g, tensors: undefined } : g)),
  ); // a key group must carry networks
});

/** Runs fn and classifies the outcome; anything but a NervFormatError fails the fuzz test. */
async function fuzzOutcome(fn: () => Promise<void> | void): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (error) {
    if (error instanceof NervFormatError) return error.kind;
    throw error;
  }
}

test('fuzz: truncations, bit flips and random bytes only ever raise typed format errors', async (t) => {
  // Every byte is under a CRC, so the container alone must catch these: no entropy decoding needed.
  const small = syntheticNerv({ frameCount: 5, groupSize: 2, keyInterval: 2, seed: 3, model: describeModel(9, 5, 2, { overrides: { levels: 3 } }) }).bytes;
  const started = performance.now();
  const outcomes = new Map<string, number>();
  const count = (kind: string) => outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
  let cases = 0;
  for (let length = 0; length < small.length; length++) {
    const kind = await fuzzOutcome(() => readAllContainer(small.subarray(0, length)));
    t.true(kind === 'truncated' || (length < 8 && kind === 'magic'), `prefix ${length}: ${kind}`);
    count(kind);
    cases++;
  }
  // every byte is covered by a CRC, so every single bit flip must be detected
  for (let bit = 0; bit < small.length * 8; bit++) {
    const flipped = small.slice();
    flipped[bit >> 3] ^= 1 << (bit & 7);
    const kind = await fuzzOutcome(() => readAllContainer(flipped));
    t.not(kind, 'ok', `bit ${bit} flip went unnoticed`);
    count(kind);
    cases++;
  }
  let state = 99;
  const r = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
  for (let i = 0; i < 1500; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256));
    if (i % 2) bytes.set(small.subarray(0, Math.min(bytes.length, 16))); // valid preamble, random rest
    count(await fuzzOutcome(() => readAll(bytes)));
    cases++;
  }
  t.log(`${cases} cases in ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify(Object.fromEntries(outcomes))}`);
});

test('fuzz: corrupt chunk and header contents behind valid CRCs reach the parsers and decoders and still fail cleanly', async (t) => {
  const { bytes } = syntheticNerv({ frameCount: 6, groupSize: 2, keyInterval: 2, seed: 8, model: describeModel(11, 6, 2, { overrides: { levels: 3 } }) });
  const prefix = readNervPrefix(bytes) as NervPrefix;
  let state = 5;
  const r = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
  const started = performance.now();
  const outcomes = new Map<string, number>();
  let cases = 0;
  for (let i = 0; i < 1200; i++) {
    const out = bytes.slice();
    const view = new DataView(out.buffer);
    const k = Math.floor(r() * prefix.index.length);
    const start = prefix.dataStart + prefix.index[k].offset;
    const end = start + prefix.index[k].size - 4;
    const flips = 1 + Math.floor(r() * 4);
    for (let f = 0; f < flips; f++) {
      const at = start + Math.floor(r() * (end - start));
      out[at] = r() < 0.5 ? out[at] ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
    }
    view.setUint32(end, crc32(out, start, end), true);
    const kind = await fuzzOutcome(() => readAll(out));
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    cases++;
  }
  const headerEnd = 16 + new DataView(bytes.buffer).getUint32(12, true);
  for (let i = 0; i < 500; i++) {
    const out = bytes.slice();
    const at = 16 + Math.floor(r() * (headerEnd - 16));
    out[at] = Math.floor(r() * 256);
    new DataView(out.buffer).setUint32(headerEnd, crc32(out, 0, headerEnd), true);
    const kind = await fuzzOutcome(() => readAll(out));
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    cases++;
  }
  t.true(
    (outcomes.get('entropy') ?? 0) > 0 && (outcomes.get('chunk') ?? 0) > 0 && (outcomes.get('header') ?? 0) > 0,
    JSON.stringify(Object.fromEntries(outcomes)),
  );
  t.log(`${cases} cases in ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify(Object.fromEntries(outcomes))}`);
});

test('container reads without entropy decoding agree with the full decoder on what is corrupt', (t) => {
  // A chunk whose latent stream length points past the chunk: the container alone must notice.
  const prefix = readNervPrefix(file) as NervPrefix;
  const at = prefix.dataStart + prefix.index[1].offset;
  const size = prefix.index[1].size;
  const out = file.slice();
  out[at] = 0; // inherited networks...
  out[at + 1] = 0xff; // ...and a latent length varint that runs on
  out[at + 2] = 0xff;
  new DataView(out.buffer).setUint32(at + size - 4, crc32(out, at, at + size - 4), true);
  expectFormatError(t, () => readAllContainer(out), 'chunk');
});

test('the complete example file of docs/format.md, byte for byte', async (t) => {
  const model = describeModel(2, 2, 2, {
    colour: 'rgb',
    overrides: {
      levels: 1,
      firstStride: 1,
      synthesis: [{ op: 'dense', out: 3, act: 'none' }],
      arm: { hidden: [], schedule: 'checkerboard', taps: [{ from: 'previous', dy: 0, dx: 0 }] },
    },
  });
  const tensors = [
    { symbols: Int32Array.of(8, -4, 2), step: 2 ** -4 },
    { symbols: Int32Array.of(64, 64, 64), step: 2 ** -7 },
    { symbols: new Int32Array(6), step: 2 ** -8 },
    { symbols: Int32Array.of(0, 128), step: 2 ** -8 },
    { symbols: Int32Array.of(256, 0, 0, 0, 0, 0), step: 2 ** -8 },
  ];
  const frames = [Int32Array.of(1, 2, 3, 4), Int32Array.of(1, 2, 3, 5)];
  const { latentCoder } = await import('../src/entropy/latents.ts');
  const { armTensorsOf } = await import('../src/quant/networks.ts');
  const { modelTensors } = await import('../src/nn/model.ts');
  const latents = latentCoder(model, armTensorsOf(modelTensors(model), tensors)).encode(frames, undefined).bytes;
  const bytes = writeNerv(
    {
      width: 2,
      height: 2,
      frameCount: 2,
      fps: { num: 25, den: 1 },
      colorSpace: 'srgb',
      colorRange: 'full',
      groupSize: 2,
      keyInterval: 1,
      lambda: 2 ** -9,
      segment: { firstFrame: 0, videoFrames: 2 },
      model,
    },
    [{ key: true, tensors, latents }],
  );
  const expected =
    '4e4552560d0a1a0a020000003a00000002000000020000000200000019000000010000000201020001000000003b000000000200' +
    '00000105736d616c6c0101010100030000000101000013bdcf7001000000000000003400000001d7b144f1010004040010070400' +
    '070301800100080201000008040000800200080800800400000000000a2a7e0802df2152878a92f1e39442';
  t.is(Buffer.from(bytes).toString('hex'), expected);
  const video = await open(bytes, { backend: 'cpu' });
  t.deepEqual(Array.from(video.latents(1)), [1, 2, 3, 5]);
  // syn0: 8/16 * latent + 0.5 for R: latent 1 -> 1.0 -> 255
  t.is(Math.round((await video.frameRgb(0))[0] * 255), 255);
  t.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});
