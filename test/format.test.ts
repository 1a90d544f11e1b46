import test from 'ava';
import fc from 'fast-check';
import { BadArgumentError } from '../src/errors.ts';
import { encodeTensor } from '../src/entropy/tensor.ts';
import { crc32 } from '../src/format/crc32.ts';
import { NervFormatError, type NervFormatErrorKind } from '../src/errors.ts';
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

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

function laplaceSymbols(n: number, b: number, r: () => number): Int32Array {
  return Int32Array.from({ length: n }, () => {
    const u = r() - 0.5;
    return Math.round(-b * Math.sign(u) * Math.log(1 - 2 * Math.abs(u) + 1e-12));
  });
}

const baseHeader = (over: Partial<NervHeader> = {}): NervHeader => ({
  width: 320,
  height: 190,
  frameCount: 22,
  fps: { num: 30000, den: 1001 },
  colorSpace: 'bt709',
  groupSize: 4,
  keyInterval: 3,
  model: { profile: 'tiny', channels: [16, 8], note: 'ü→✓' },
  tensors: [
    { name: 'grid.level0', size: 3001 },
    { name: 'synth.conv1.weight', size: 577 },
    { name: 'synth.conv1.bias', size: 3 },
  ],
  ...over,
});

/** Groups that look like training output: keys every keyInterval, predicted groups change a few symbols. */
function sampleGroups(header: NervHeader, seed: number): NervGroup[] {
  const r = random(seed);
  const count = Math.ceil(header.frameCount / header.groupSize);
  const groups: NervGroup[] = [];
  for (let k = 0; k < count; k++) {
    const key = k % header.keyInterval === 0;
    const tensors = header.tensors.map((info, i) => {
      if (key || r() < 0.2) return { symbols: laplaceSymbols(info.size, 1 + i, r), step: 0.01 * (i + 1) * (key ? 1 : 1.5) };
      const prev = groups[k - 1].tensors[i];
      const symbols = prev.symbols.slice();
      for (let j = 0; j < symbols.length; j += 17) symbols[j] += Math.round((r() - 0.5) * 4);
      return { symbols, step: prev.step };
    });
    groups.push({ key, tensors });
  }
  return groups;
}

function assertGroupsEqual(t: { true: (v: boolean, m?: string) => void }, reader: NervGroupDecoder, groups: NervGroup[], order: number[]) {
  for (const k of order) {
    const decoded = reader.groupTensors(k);
    decoded.forEach((tensor, i) => {
      const expected = groups[k].tensors[i];
      t.true(tensor.step === Math.fround(expected.step), `group ${k} tensor ${i} step`);
      t.true(tensor.symbols.length === expected.symbols.length && tensor.symbols.every((v, j) => v === expected.symbols[j]), `group ${k} tensor ${i} symbols`);
    });
  }
}

const header = baseHeader();
const groups = sampleGroups(header, 1);
const file = writeNerv(header, groups);

function expectFormatError(t: { fail: (m: string) => void; is: (a: unknown, b: unknown, m?: string) => void }, run: () => unknown, kind: NervFormatErrorKind): NervFormatError | undefined {
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

/** Reads every group: the complete check a player or decoder would do. */
function readAll(bytes: Uint8Array): void {
  const reader = new NervReader(bytes);
  for (let k = 0; k < reader.index.length; k++) reader.groupTensors(k);
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

test('header, index and every group round trip, in any order and with a tiny cache', (t) => {
  const reader = new NervReader(file);
  t.deepEqual(reader.header, header);
  t.is(reader.index.length, 6);
  t.deepEqual(reader.index.map((e) => e.key), [true, false, false, true, false, false]);
  assertGroupsEqual(t, reader, groups, [0, 1, 2, 3, 4, 5]);
  assertGroupsEqual(t, new NervReader(file, 1), groups, [5, 2, 4, 0, 1, 3, 3, 1]);
  // returned arrays are copies: changing them does not corrupt later decodes
  reader.groupTensors(1)[0].symbols.fill(99);
  assertGroupsEqual(t, reader, groups, [1, 2]);
});

test('predicted groups are coded as residuals where that is smaller, and describeNerv adds up', (t) => {
  const info = describeNerv(file);
  const tensorBytes = Object.values(info.tensors).reduce((sum, x) => sum + x, 0);
  t.is(info.header + info.index + info.chunkOverhead + tensorBytes, file.length);
  t.is(info.fileBytes, file.length);
  t.is(info.groups, 6);
  t.is(info.keyGroups, 2);
  t.true(info.tensorDetails[0].residualGroups > 0);
  t.deepEqual(Object.keys(info.tensors), header.tensors.map((x) => x.name));
  t.deepEqual(info.tensorDetails.map((x) => x.codedBytes), Object.values(info.tensors));
  // an unchanged tensor costs two bytes in a predicted group: only the two key groups pay for it
  const unchanged = groups.map((_, k) => ({ key: k % 3 === 0, tensors: groups[0].tensors }));
  const still = describeNerv(writeNerv(header, unchanged));
  t.is(still.tensors['grid.level0'], 2 * encodeTensor(groups[0].tensors[0].symbols).length + 4 * 2);
  t.is(still.tensorDetails[0].models.const, 4);
  t.is(still.tensorDetails[0].residualGroups, 4);
});

test('property: random headers and groups round trip', (t) => {
  const arbitrary = fc.record({
    frameCount: fc.integer({ min: 1, max: 40 }),
    groupSize: fc.integer({ min: 1, max: 9 }),
    keyInterval: fc.integer({ min: 1, max: 5 }),
    sizes: fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 0, maxLength: 4 }),
    colorSpace: fc.constantFrom('bt601' as const, 'bt709' as const, 'srgb' as const),
    model: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
    seed: fc.integer(),
  });
  fc.assert(
    fc.property(arbitrary, ({ sizes, seed, ...rest }) => {
      const h = baseHeader({ ...rest, tensors: sizes.map((size, i) => ({ name: `t${i}.${'é'.repeat(i)}`, size })) });
      const gs = sampleGroups(h, seed);
      const bytes = writeNerv(h, gs);
      const reader = new NervReader(bytes);
      if (JSON.stringify(reader.header) !== JSON.stringify(JSON.parse(JSON.stringify(h)))) return false;
      assertGroupsEqual({ true: (v, m) => { if (!v) throw new Error(m); } }, reader, gs, [...gs.keys()].reverse());
      return true;
    }),
    { numRuns: 60, seed: 5 },
  );
  t.pass();
});

test('readNervPrefix works on every prefix and lets a player decode group 0 early', (t) => {
  let parsedAt = -1;
  let lastNeed = 0;
  for (let length = 0; length <= file.length; length++) {
    const result = readNervPrefix(file.subarray(0, length));
    if ('needBytes' in result) {
      t.true(result.needBytes > length && result.needBytes >= lastNeed, `prefix ${length}`);
      lastNeed = result.needBytes;
    } else if (parsedAt < 0) {
      parsedAt = length;
      t.is(length, lastNeed);
    }
  }
  const prefix = readNervPrefix(file.subarray(0, parsedAt)) as NervPrefix;
  t.is(prefix.fileSize, file.length);
  // bytes up to the end of chunk 0 suffice for group 0
  const partial = file.slice(0, prefix.dataStart + prefix.index[0].size);
  const decoder = new NervGroupDecoder(prefix, (k) => {
    const start = prefix.dataStart + prefix.index[k].offset;
    return partial.subarray(start, start + prefix.index[k].size);
  });
  assertGroupsEqual(t, decoder, groups, [0]);
  expectFormatError(t, () => decoder.groupTensors(1), 'truncated');
});

test('typed errors: magic, version, CRCs, truncation, trailing bytes', (t) => {
  expectFormatError(t, () => new NervReader(new TextEncoder().encode('RIFF....WAVEfmt ')), 'magic');
  expectFormatError(t, () => readNervPrefix(Uint8Array.of(0x4e, 0x45, 0x52, 0x57)), 'magic'); // fails before 16 bytes arrive
  const v2 = file.slice();
  v2[8] = 2;
  expectFormatError(t, () => new NervReader(v2), 'version');
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
  reader.groupTensors(0); // other groups still decode
  const error = expectFormatError(t, () => reader.groupTensors(4), 'chunk-crc');
  t.is(error?.group, 3);
  t.is(error?.offset, chunk3);
  t.regex(error?.message ?? '', new RegExp(`group 3.*offset ${chunk3}`));
  expectFormatError(t, () => reader.verifyChunks(), 'chunk-crc');
  expectFormatError(t, () => new NervReader(file.subarray(0, file.length - 1)), 'truncated');
  expectFormatError(t, () => new NervReader(file.subarray(0, 30)), 'truncated');
  expectFormatError(t, () => new NervReader(Uint8Array.of(...file, 0)), 'trailing');
});

test('typed errors: absurd dimensions and counts are rejected before allocation', (t) => {
  const setU32 = (at: number, value: number) => (view: DataView) => view.setUint32(at, value, true);
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(16, 16385))), 'limits');
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(20, 0))), 'header');
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(24, 2_000_000))), 'limits');
  expectFormatError(t, () => new NervReader(patchHeader(file, (v) => v.setUint8(36, 7))), 'header');
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(41, 0xfffffff0))), 'limits');
  // a huge header length is refused from the preamble alone, before the bytes arrive
  const longHeader = file.slice(0, 16);
  new DataView(longHeader.buffer).setUint32(12, 0x7fffffff, true);
  expectFormatError(t, () => readNervPrefix(longHeader), 'limits');
  // more frames means more groups than the index holds
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(24, 30))), 'index-crc');
  // a JSON length that runs past the header, and invalid JSON
  expectFormatError(t, () => new NervReader(patchHeader(file, setU32(41, 60000))), 'header');
  expectFormatError(t, () => new NervReader(patchHeader(file, (v) => v.setUint8(45, 0x5b))), 'header');
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
  const bad = (h: Partial<NervHeader>, gs: NervGroup[] = groups) => t.throws(() => writeNerv(baseHeader(h), gs), { instanceOf: BadArgumentError });
  bad({ width: 0 });
  bad({ height: NERV_LIMITS.maxDimension + 1 });
  bad({ fps: { num: 30, den: 0 } });
  bad({ colorSpace: 'rec2020' as never });
  bad({ model: [1, 2] });
  bad({ model: { big: 'x'.repeat(70_000) } });
  bad({ tensors: [...header.tensors, { name: 'grid.level0', size: 3 }] });
  bad({ tensors: [{ name: '', size: 3 }] });
  bad({ frameCount: 30 }); // 8 groups expected, 6 given
  bad({}, groups.map((g, k) => ({ ...g, key: k === 0 }))); // 5 predicted groups in a row with K = 3
  bad({}, groups.map((g) => ({ ...g, tensors: g.tensors.slice(1) })));
  bad({}, groups.map((g) => ({ ...g, tensors: g.tensors.map((x) => ({ ...x, step: 0 })) })));
  bad({}, groups.map((g) => ({ ...g, tensors: g.tensors.map((x) => ({ ...x, symbols: x.symbols.subarray(1) })) })));
});

/** Runs fn and classifies the outcome; anything but a NervFormatError fails the fuzz test. */
function fuzzOutcome(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof NervFormatError) return error.kind;
    throw error;
  }
}

test('fuzz: truncations, bit flips and random bytes only ever raise typed format errors', (t) => {
  const small = writeNerv(
    baseHeader({ frameCount: 7, groupSize: 2, tensors: [{ name: 'a', size: 40 }, { name: 'b.w', size: 9 }, { name: 'b.b', size: 2 }] }),
    sampleGroups(baseHeader({ frameCount: 7, groupSize: 2, tensors: [{ name: 'a', size: 40 }, { name: 'b.w', size: 9 }, { name: 'b.b', size: 2 }] }), 3),
  );
  const started = performance.now();
  const outcomes = new Map<string, number>();
  const count = (kind: string) => outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
  let cases = 0;
  for (let length = 0; length < small.length; length++) {
    const kind = fuzzOutcome(() => readAll(small.subarray(0, length)));
    t.true(kind === 'truncated' || (length < 8 && kind === 'magic'), `prefix ${length}: ${kind}`);
    count(kind);
    cases++;
  }
  // every byte is covered by a CRC, so every single bit flip must be detected
  for (let bit = 0; bit < small.length * 8; bit++) {
    const flipped = small.slice();
    flipped[bit >> 3] ^= 1 << (bit & 7);
    const kind = fuzzOutcome(() => readAll(flipped));
    t.not(kind, 'ok', `bit ${bit} flip went unnoticed`);
    count(kind);
    cases++;
  }
  const r = random(99);
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256));
    if (i % 2) bytes.set(small.subarray(0, Math.min(bytes.length, 16))); // valid preamble, random rest
    count(fuzzOutcome(() => readAll(bytes)));
    cases++;
  }
  t.log(`${cases} cases in ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify(Object.fromEntries(outcomes))}`);
});

test('grid-like tensors are coded as differences along a stride where that is smaller', (t) => {
  // Four "time samples" of 250 symbols that barely change: differences along stride 250 are mostly 0.
  const r = random(11);
  const base = laplaceSymbols(250, 6, r);
  const symbols = new Int32Array(1000);
  for (let s = 0; s < 4; s++) for (let j = 0; j < 250; j++) symbols[s * 250 + j] = base[j] + (r() < 0.05 ? 1 : 0);
  const h = baseHeader({ frameCount: 8, groupSize: 4, keyInterval: 2, tensors: [{ name: 'grid0', size: 1000 }, { name: 'w', size: 40 }] });
  const groups: NervGroup[] = [0, 1].map((k) => ({
    key: k === 0,
    tensors: [{ symbols: k === 0 ? symbols : symbols.map((v, j) => (j % 97 === 0 ? v + 2 : v)), step: 0.5 }, { symbols: laplaceSymbols(40, 3, r), step: 0.1 }],
  }));
  const plain = writeNerv(h, groups);
  const predicted = writeNerv(h, groups, { predictionStrides: [[250, 1], []] });
  t.true(predicted.length < plain.length * 0.75, `${predicted.length} vs ${plain.length} bytes`);
  const reader = new NervReader(predicted);
  for (const k of [1, 0]) t.deepEqual(reader.groupTensors(k)[0].symbols, groups[k].tensors[0].symbols);
  // The chunk of group 0 starts with tensor 0's flags (bit 2 set) and its stride: make the stride absurd.
  const prefix = readNervPrefix(predicted) as NervPrefix;
  const at = prefix.dataStart + prefix.index[0].offset;
  t.is(predicted[at] & 4, 4);
  const bad = predicted.slice();
  bad.set([0xe8, 0x07], at + 1); // varint 1000 = the tensor size: out of range
  const end = at + prefix.index[0].size - 4;
  new DataView(bad.buffer).setUint32(end, crc32(bad, at, end), true);
  const error = expectFormatError(t, () => new NervReader(bad).groupTensors(0), 'chunk');
  t.regex(error?.message ?? '', /prediction stride/);
});

test('fuzz: corrupt chunk and header contents behind valid CRCs reach the parsers and still fail cleanly', (t) => {
  const h = baseHeader({ frameCount: 9, groupSize: 3, keyInterval: 2, tensors: [{ name: 'g', size: 300 }, { name: 'w', size: 50 }, { name: 'b', size: 4 }] });
  const bytes = writeNerv(h, sampleGroups(h, 8));
  const prefix = readNervPrefix(bytes) as NervPrefix;
  const r = random(5);
  const started = performance.now();
  const outcomes = new Map<string, number>();
  let cases = 0;
  for (let i = 0; i < 3000; i++) {
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
    const kind = fuzzOutcome(() => readAll(out));
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    cases++;
  }
  const headerEnd = 16 + new DataView(bytes.buffer).getUint32(12, true);
  for (let i = 0; i < 1000; i++) {
    const out = patchHeader(bytes, () => undefined);
    const at = 16 + Math.floor(r() * (headerEnd - 16));
    out[at] = Math.floor(r() * 256);
    new DataView(out.buffer).setUint32(headerEnd, crc32(out, 0, headerEnd), true);
    const kind = fuzzOutcome(() => readAll(out));
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    cases++;
  }
  t.true((outcomes.get('entropy') ?? 0) > 0 && (outcomes.get('chunk') ?? 0) > 0);
  t.log(`${cases} cases in ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify(Object.fromEntries(outcomes))}`);
});

test('the complete example file of docs/format.md, byte for byte', (t) => {
  const bytes = writeNerv(
    { width: 16, height: 8, frameCount: 3, fps: { num: 25, den: 1 }, colorSpace: 'srgb', groupSize: 2, keyInterval: 2, model: { a: 1 }, tensors: [{ name: 'w', size: 3 }] },
    [
      { key: true, tensors: [{ symbols: Int32Array.of(1, -2, 300), step: 0.5 }] },
      { key: false, tensors: [{ symbols: Int32Array.of(1, -2, 300), step: 0.5 }] },
    ],
  );
  const expected =
    '4e4552560d0a1a0a010000002c000000100000000800000003000000190000000100000002020002000700000' +
    '07b2261223a317d01000177030000008633f1e802000000000000000f000000010f000000080000' +
    '0000b823e6d0000000003f05000203d8043808a28303020100dd956e29';
  t.is(Buffer.from(bytes).toString('hex'), expected);
  t.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});
