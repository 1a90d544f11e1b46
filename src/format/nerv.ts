/**
 * The .nerv container, version 2 (byte-exact specification: docs/format.md).
 *
 *   preamble (magic, version, flags, header length) | header body | CRC-32
 *   group index (count, then offset/size/flags per group) | CRC-32
 *   group chunks, each: networks flag, [per network tensor: flags, step, coded length, symbols],
 *   the latents' rANS stream (length-prefixed), CRC-32
 *
 * The reader trusts nothing: every count and length is checked against fixed limits and against the
 * bytes actually present before anything is allocated, and every failure is a NervFormatError
 * whose `kind` says what was wrong. readNervPrefix works on a partial file so a player can start on
 * group 0 while the rest downloads.
 */
import { BadArgumentError } from '../errors.ts';
import { ByteReader, ByteWriter } from '../entropy/bytes.ts';
import { decodeTensor, encodeTensor, tensorModel, type EntropyModelName } from '../entropy/tensor.ts';
import { MAX_SYMBOL } from '../quant/quantize.ts';
import { crc32 } from './crc32.ts';
import { NervFormatError } from '../errors.ts';
import { modelTensors, type ModelDescription } from '../nn/model.ts';
import { decodeModel, encodeModel } from './model_codec.ts';

export const NERV_MAGIC = Uint8Array.of(0x4e, 0x45, 0x52, 0x56, 0x0d, 0x0a, 0x1a, 0x0a); // "NERV\r\n\x1a\n"
export const NERV_VERSION = 2;

/** Fixed limits (a file beyond them is rejected before any allocation). */
export const NERV_LIMITS = {
  maxDimension: 16384,
  maxFrames: 1_000_000,
  maxFpsTerm: 1_000_000,
  maxGroupSize: 1024,
  maxKeyInterval: 65535,
} as const;

const PREAMBLE_BYTES = 16;
const FIXED_HEADER_BYTES = 4 * 5 + 1 + 1 + 2 + 2 + 4 + 4 + 4;
/** A model description takes at most a few hundred bytes (src/format/model_codec.ts). */
const MAX_HEADER_BYTES = FIXED_HEADER_BYTES + 4096;
const INDEX_ENTRY_BYTES = 9;
const CRC_BYTES = 4;
const MAX_FILE_BYTES = 0xffffffff;

export type NervColorSpace = 'bt601' | 'bt709' | 'srgb';
const COLOR_SPACES: readonly NervColorSpace[] = ['bt601', 'bt709', 'srgb'];
export type NervColorRange = 'limited' | 'full';
const COLOR_RANGES: readonly NervColorRange[] = ['limited', 'full'];

export interface NervTensorInfo {
  name: string;
  size: number;
}

export interface NervHeader {
  width: number;
  height: number;
  frameCount: number;
  fps: { num: number; den: number };
  colorSpace: NervColorSpace;
  /** Code-value range of Y'CbCr samples (informative for RGB-coded files). */
  colorRange: NervColorRange;
  /** Frames per group (the last group may hold fewer). */
  groupSize: number;
  /** Longest distance between key groups: at most keyInterval - 1 predicted groups follow a key group. */
  keyInterval: number;
  /** The rate-distortion trade-off the file was encoded with (loss = D + lambda R); 0 if unknown. Informative. */
  lambda: number;
  /**
   * Where this file sits in a longer video it is a segment of (segments encoded apart and joined
   * by `nervkit join`): the index of its first frame there, and that video's frame count. A whole
   * video has 0 and its own frame count. Decoders ignore them.
   */
  segment: { firstFrame: number; videoFrames: number };
  /** The model (docs/model.md); the network tensors of every group follow from it. */
  model: ModelDescription;
}

export interface NervIndexEntry {
  /** Byte offset of the chunk, relative to dataStart. */
  offset: number;
  /** Chunk size in bytes, its CRC-32 included. */
  size: number;
  key: boolean;
}

export interface NervPrefix {
  version: number;
  header: NervHeader;
  /** The network tensors a group chunk may carry, in coding order (derived from the model). */
  tensors: NervTensorInfo[];
  index: NervIndexEntry[];
  /** Absolute offset of group 0's chunk; chunk k lies at dataStart + index[k].offset. */
  dataStart: number;
  /** Size the complete file must have. */
  fileSize: number;
}

export interface QuantizedTensor {
  symbols: Int32Array;
  /** value = symbol * step; stored as float32. */
  step: number;
}

export interface NervGroup {
  key: boolean;
  /** The group's network tensors; absent: the previous group's, unchanged (never for a key group). */
  tensors?: QuantizedTensor[];
  /** The latents of the group's frames, entropy-coded (src/entropy/latents.ts). */
  latents: Uint8Array;
}

/** A decoded group: the resolved network tensors and the latents' coded bytes. */
export interface NervGroupData {
  tensors: QuantizedTensor[];
  latents: Uint8Array;
  /** The chunk carried its own network tensors (false: inherited from the previous group). */
  networksCoded: boolean;
}

export function groupCountOf(header: Pick<NervHeader, 'frameCount' | 'groupSize'>): number {
  return Math.ceil(header.frameCount / header.groupSize);
}

// Chunk tensor flags.
const FLAG_RESIDUAL = 1;
const FLAG_SAME_STEP = 2;
/** Network steps are powers of two, 2^-s, stored as the signed byte s. */
const MIN_STEP_SHIFT = -16;
const MAX_STEP_SHIFT = 30;
// Chunk flags (first byte of a chunk).
const CHUNK_NETWORKS = 1;

// ------------------------------------------------------------------------------------------ write

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new BadArgumentError(`${name} must be an integer in ${min}..${max}, got ${value}`);
}

function encodeHeaderBody(header: NervHeader): Uint8Array {
  const L = NERV_LIMITS;
  checkInteger('width', header.width, 1, L.maxDimension);
  checkInteger('height', header.height, 1, L.maxDimension);
  checkInteger('frameCount', header.frameCount, 1, L.maxFrames);
  checkInteger('fps.num', header.fps?.num, 1, L.maxFpsTerm);
  checkInteger('fps.den', header.fps?.den, 1, L.maxFpsTerm);
  const colorCode = COLOR_SPACES.indexOf(header.colorSpace);
  if (colorCode < 0) throw new BadArgumentError(`colorSpace must be one of ${COLOR_SPACES.join(', ')}, got ${String(header.colorSpace)}`);
  const rangeCode = COLOR_RANGES.indexOf(header.colorRange);
  if (rangeCode < 0) throw new BadArgumentError(`colorRange must be one of ${COLOR_RANGES.join(', ')}, got ${String(header.colorRange)}`);
  const lambda = Math.fround(header.lambda);
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new BadArgumentError(`lambda must be a finite number >= 0, got ${header.lambda}`);
  const segment = header.segment ?? { firstFrame: 0, videoFrames: header.frameCount };
  checkInteger('segment.videoFrames', segment.videoFrames, header.frameCount, L.maxFrames);
  checkInteger('segment.firstFrame', segment.firstFrame, 0, segment.videoFrames - header.frameCount);
  checkInteger('groupSize', header.groupSize, 1, L.maxGroupSize);
  checkInteger('keyInterval', header.keyInterval, 1, L.maxKeyInterval);
  if (header.model.width !== header.width || header.model.height !== header.height || header.model.groupSize !== header.groupSize) {
    throw new BadArgumentError("the model's frame and group size differ from the header's");
  }
  const out = new ByteWriter();
  out.u32(header.width);
  out.u32(header.height);
  out.u32(header.frameCount);
  out.u32(header.fps.num);
  out.u32(header.fps.den);
  out.u8(colorCode);
  out.u8(rangeCode);
  out.u16(header.groupSize);
  out.u16(header.keyInterval);
  out.f32(lambda);
  out.u32(segment.firstFrame);
  out.u32(segment.videoFrames);
  encodeModel(header.model, out);
  return out.finish();
}

/** The network tensors of a group of this header's model, in coding order. */
export function headerTensors(header: Pick<NervHeader, 'model'>): NervTensorInfo[] {
  return modelTensors(header.model).map((t) => ({ name: t.name, size: t.size }));
}

function checkKeySpacing(keys: boolean[], keyInterval: number, fail: (message: string) => never): void {
  let sinceKey = 0;
  for (let k = 0; k < keys.length; k++) {
    if (keys[k]) sinceKey = 0;
    else if (k === 0) fail('group 0 must be a key group');
    else if (++sinceKey >= keyInterval) fail(`group ${k} is ${sinceKey} groups after a key group; key interval is ${keyInterval}`);
  }
}

/**
 * The body of a group's chunk (CRC-32 not included) and the tensors a decoder will hold after it.
 * Each network tensor is coded as a residual against the previous group's symbols when its step is
 * the same and the residual codes smaller; a group without tensors inherits the previous group's.
 * Rate control calls this too, so what it measures is what the file stores.
 */
export function encodeGroupChunk(
  tensorInfo: NervTensorInfo[],
  group: NervGroup,
  previous: QuantizedTensor[] | undefined,
  k = 0,
): { body: Uint8Array; tensors: QuantizedTensor[] } {
  const out = new ByteWriter();
  if (!group.tensors) {
    if (group.key || !previous) throw new BadArgumentError(`group ${k} must carry its network tensors (a key group, or no group before it)`);
    out.u8(0);
  } else {
    out.u8(CHUNK_NETWORKS);
    if (group.tensors.length !== tensorInfo.length)
      throw new BadArgumentError(`group ${k} has ${group.tensors.length} tensors, header lists ${tensorInfo.length}`);
  }
  const stored: QuantizedTensor[] = [];
  group.tensors?.forEach(({ symbols, step }, i) => {
    const info = tensorInfo[i];
    if (!(symbols instanceof Int32Array) || symbols.length !== info.size) {
      throw new BadArgumentError(`group ${k} tensor ${info.name}: expected an Int32Array of ${info.size} symbols`);
    }
    const shift = -Math.log2(step);
    if (!Number.isInteger(shift) || shift < MIN_STEP_SHIFT || shift > MAX_STEP_SHIFT) {
      throw new BadArgumentError(`group ${k} tensor ${info.name}: step ${step} is not 2^-s with ${MIN_STEP_SHIFT} <= s <= ${MAX_STEP_SHIFT}`);
    }
    const stepF32 = step;
    const prev = group.key ? undefined : previous?.[i];
    const sameStep = prev !== undefined && prev.step === stepF32;
    let coded = encodeTensor(symbols);
    let flags = sameStep ? FLAG_SAME_STEP : 0;
    if (sameStep) {
      const residual = new Int32Array(symbols.length);
      let fits = true;
      for (let j = 0; j < symbols.length; j++) {
        const r = symbols[j] - prev.symbols[j];
        if (r > MAX_SYMBOL || r < -MAX_SYMBOL) {
          fits = false;
          break;
        }
        residual[j] = r;
      }
      const residualCoded = fits ? encodeTensor(residual) : undefined;
      if (residualCoded && residualCoded.length < coded.length) {
        coded = residualCoded;
        flags |= FLAG_RESIDUAL;
      }
    }
    out.u8(flags);
    if (!sameStep) out.u8(shift & 0xff);
    out.varint(coded.length);
    out.bytes(coded);
    stored.push({ symbols, step: stepF32 });
  });
  if (!(group.latents instanceof Uint8Array)) throw new BadArgumentError(`group ${k}: latents must be a Uint8Array`);
  out.varint(group.latents.length);
  out.bytes(group.latents);
  return { body: out.finish(), tensors: group.tensors ? stored : previous! };
}

/** LEB128 length of a varint, as ByteWriter.varint writes it. */
function varintBytes(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return n;
}

/**
 * Bytes a group adds to a file (its chunk with the CRC, and its index entry), for tensors coded
 * absolutely (`tensorBytes`: each tensor's coded length; undefined when the group reuses the
 * networks) and `latentBytes` of latent stream: what encodeGroupChunk and assembleNerv write.
 */
export function groupFileBytes(tensorBytes: number[] | undefined, latentBytes: number): number {
  const tensors = (tensorBytes ?? []).reduce((sum, n) => sum + 2 + varintBytes(n) + n, 0);
  return INDEX_ENTRY_BYTES + 1 + tensors + varintBytes(latentBytes) + latentBytes + CRC_BYTES;
}

/** Bytes of a file besides its groups' (groupFileBytes): preamble, header, header CRC, index count and CRC. */
export function fileFixedBytes(headerBodyBytes: number): number {
  return NERV_MAGIC.length + 2 + 2 + 4 + headerBodyBytes + CRC_BYTES + 4 + CRC_BYTES;
}

/** Serialises a whole file from its groups. */
export function writeNerv(header: NervHeader, groups: NervGroup[]): Uint8Array {
  const body = encodeHeaderBody(header);
  const groupCount = groupCountOf(header);
  if (groups.length !== groupCount) {
    throw new BadArgumentError(`${header.frameCount} frames in groups of ${header.groupSize} make ${groupCount} groups, got ${groups.length}`);
  }
  checkKeySpacing(
    groups.map((g) => g.key),
    header.keyInterval,
    (message) => {
      throw new BadArgumentError(message);
    },
  );
  const chunks: Uint8Array[] = [];
  let previous: QuantizedTensor[] | undefined;
  groups.forEach((group, k) => {
    const coded = encodeGroupChunk(headerTensors(header), group, previous, k);
    const withCrc = new Uint8Array(coded.body.length + CRC_BYTES);
    withCrc.set(coded.body);
    new DataView(withCrc.buffer).setUint32(coded.body.length, crc32(coded.body), true);
    chunks.push(withCrc);
    previous = coded.tensors;
  });
  return assembleNerv(
    body,
    chunks,
    groups.map((g) => g.key),
  );
}

/** Preamble, header, index and chunks (each already ending in its CRC-32) into one file. */
export function assembleNerv(headerBody: Uint8Array, chunks: Uint8Array[], keys: boolean[]): Uint8Array {
  const out = new ByteWriter();
  out.bytes(NERV_MAGIC);
  out.u16(NERV_VERSION);
  out.u16(0);
  out.u32(headerBody.length);
  out.bytes(headerBody);
  out.u32(crc32(out.finish()));
  const indexStart = out.length;
  out.u32(chunks.length);
  let offset = 0;
  chunks.forEach((chunk, k) => {
    out.u32(offset);
    out.u32(chunk.length);
    out.u8(keys[k] ? 1 : 0);
    offset += chunk.length;
  });
  const sofar = out.finish();
  out.u32(crc32(sofar, indexStart));
  if (out.length + offset > MAX_FILE_BYTES) throw new BadArgumentError(`file would exceed ${MAX_FILE_BYTES} bytes`);
  for (const chunk of chunks) out.bytes(chunk);
  return out.finish();
}

export { encodeHeaderBody };

// ------------------------------------------------------------------------------------------- read

function checkMagic(bytes: Uint8Array): void {
  const n = Math.min(bytes.length, NERV_MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== NERV_MAGIC[i]) throw new NervFormatError('magic', 'not a .nerv file (bad magic bytes)', { offset: i });
  }
}

function parseHeaderBody(bytes: Uint8Array, start: number, end: number): NervHeader {
  const L = NERV_LIMITS;
  const r = new ByteReader(bytes, start, end, 'header');
  const bounded = (what: string, value: number, min: number, max: number, at: number) => {
    if (value < min || value > max)
      throw new NervFormatError(value > max ? 'limits' : 'header', `${what} ${value} outside ${min}..${max} (byte offset ${at})`, { offset: at });
    return value;
  };
  const width = bounded('width', r.u32('width'), 1, L.maxDimension, r.pos - 4);
  const height = bounded('height', r.u32('height'), 1, L.maxDimension, r.pos - 4);
  const frameCount = bounded('frame count', r.u32('frame count'), 1, L.maxFrames, r.pos - 4);
  const num = bounded('frame rate numerator', r.u32('frame rate'), 1, L.maxFpsTerm, r.pos - 4);
  const den = bounded('frame rate denominator', r.u32('frame rate'), 1, L.maxFpsTerm, r.pos - 4);
  const colorCode = r.u8('colour space');
  if (colorCode >= COLOR_SPACES.length) r.fail(`unknown colour space code ${colorCode}`, r.pos - 1);
  const rangeCode = r.u8('colour range');
  if (rangeCode >= COLOR_RANGES.length) r.fail(`unknown colour range code ${rangeCode}`, r.pos - 1);
  const groupSize = bounded('group size', r.u16('group size'), 1, L.maxGroupSize, r.pos - 2);
  const keyInterval = bounded('key interval', r.u16('key interval'), 1, L.maxKeyInterval, r.pos - 2);
  const lambda = r.f32('lambda');
  if (!(lambda >= 0) || !Number.isFinite(lambda)) r.fail(`lambda ${lambda} is not a finite number >= 0`, r.pos - 4);
  const firstFrame = r.u32('segment first frame');
  const videoFrames = bounded('video frame count', r.u32('video frame count'), frameCount, L.maxFrames, r.pos - 4);
  if (firstFrame > videoFrames - frameCount)
    r.fail(`segment starts at frame ${firstFrame}: its ${frameCount} frames run past the video's ${videoFrames}`, r.pos - 8);
  const model = decodeModel(r, { width, height, groupSize });
  if (r.pos !== end) r.fail(`${end - r.pos} unexpected bytes at the end of the header`);
  return {
    width,
    height,
    frameCount,
    fps: { num, den },
    colorSpace: COLOR_SPACES[colorCode],
    colorRange: COLOR_RANGES[rangeCode],
    groupSize,
    keyInterval,
    lambda,
    segment: { firstFrame, videoFrames },
    model,
  };
}

const readU32 = (bytes: Uint8Array, at: number): number => (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;

/**
 * Parses the header and group index from the first bytes of a file. Returns `{ needBytes }` (the
 * prefix length needed to get further) while the prefix is too short, and throws NervFormatError as
 * soon as the bytes present are invalid. Chunk k is complete once dataStart + index[k].offset +
 * index[k].size bytes have arrived.
 */
export function readNervPrefix(bytes: Uint8Array): NervPrefix | { needBytes: number } {
  checkMagic(bytes);
  if (bytes.length < PREAMBLE_BYTES) return { needBytes: PREAMBLE_BYTES };
  const version = bytes[8] | (bytes[9] << 8);
  if (version !== NERV_VERSION) {
    const hint = version === 1 ? ' (version 1 files came from nervkit 0.1 and its grid model; re-encode the source with this version)' : '';
    throw new NervFormatError('version', `unsupported .nerv format version ${version}: this decoder reads version ${NERV_VERSION}${hint}`, { offset: 8 });
  }
  const flags = bytes[10] | (bytes[11] << 8);
  if (flags !== 0) throw new NervFormatError('version', `unknown file flags 0x${flags.toString(16)}`, { offset: 10 });
  const headerLength = readU32(bytes, 12);
  if (headerLength > MAX_HEADER_BYTES) throw new NervFormatError('limits', `header length ${headerLength} exceeds ${MAX_HEADER_BYTES}`, { offset: 12 });
  if (headerLength < FIXED_HEADER_BYTES)
    throw new NervFormatError('header', `header length ${headerLength} is below the minimum ${FIXED_HEADER_BYTES}`, { offset: 12 });
  const headerEnd = PREAMBLE_BYTES + headerLength;
  if (bytes.length < headerEnd + CRC_BYTES) return { needBytes: headerEnd + CRC_BYTES };
  if (crc32(bytes, 0, headerEnd) !== readU32(bytes, headerEnd))
    throw new NervFormatError('header-crc', 'header CRC-32 mismatch (corrupt header)', { offset: headerEnd });
  const header = parseHeaderBody(bytes, PREAMBLE_BYTES, headerEnd);
  const groupCount = groupCountOf(header);
  const indexStart = headerEnd + CRC_BYTES;
  const indexEnd = indexStart + 4 + groupCount * INDEX_ENTRY_BYTES;
  if (bytes.length < indexEnd + CRC_BYTES) return { needBytes: indexEnd + CRC_BYTES };
  if (crc32(bytes, indexStart, indexEnd) !== readU32(bytes, indexEnd))
    throw new NervFormatError('index-crc', 'group index CRC-32 mismatch (corrupt index)', { offset: indexEnd });
  const storedCount = readU32(bytes, indexStart);
  if (storedCount !== groupCount) throw new NervFormatError('index', `index lists ${storedCount} groups, header implies ${groupCount}`, { offset: indexStart });
  const dataStart = indexEnd + CRC_BYTES;
  const index: NervIndexEntry[] = [];
  let expectedOffset = 0;
  for (let k = 0; k < groupCount; k++) {
    const at = indexStart + 4 + k * INDEX_ENTRY_BYTES;
    const offset = readU32(bytes, at);
    const size = readU32(bytes, at + 4);
    const entryFlags = bytes[at + 8];
    if (offset !== expectedOffset)
      throw new NervFormatError('index', `group ${k} starts at ${offset}, expected ${expectedOffset} (chunks must be contiguous)`, { offset: at });
    if (size < CRC_BYTES) throw new NervFormatError('index', `group ${k} chunk size ${size} is below ${CRC_BYTES}`, { offset: at + 4 });
    if (entryFlags > 1) throw new NervFormatError('index', `group ${k} has unknown flags 0x${entryFlags.toString(16)}`, { offset: at + 8 });
    expectedOffset += size;
    if (dataStart + expectedOffset > MAX_FILE_BYTES) throw new NervFormatError('limits', `chunks extend past ${MAX_FILE_BYTES} bytes`, { offset: at + 4 });
    index.push({ offset, size, key: entryFlags === 1 });
  }
  checkKeySpacing(
    index.map((e) => e.key),
    header.keyInterval,
    (message) => {
      throw new NervFormatError('index', message, { offset: indexStart + 4 });
    },
  );
  return { version, header, tensors: headerTensors(header), index, dataStart, fileSize: dataStart + expectedOffset };
}

// ------------------------------------------------------------------------------------------ chunks

interface ChunkTensor {
  flags: number;
  step: number | undefined;
  payloadStart: number; // relative to the chunk
  payloadLength: number;
  fieldBytes: number;
}

interface ParsedChunk {
  /** Absent when the group inherits the previous group's tensors. */
  tensors?: ChunkTensor[];
  latentStart: number;
  latentLength: number;
  /** Chunk flags and length fields, CRC included. */
  framingBytes: number;
}

/** Verifies a chunk's CRC and splits it into its records (no entropy decoding). */
function parseChunk(chunk: Uint8Array, prefix: NervPrefix, k: number): ParsedChunk {
  const entry = prefix.index[k];
  const base = prefix.dataStart + entry.offset;
  if (chunk.length !== entry.size) {
    throw new NervFormatError('truncated', `group ${k} chunk has ${chunk.length} bytes, index says ${entry.size}`, { group: k, offset: base });
  }
  const bodyEnd = chunk.length - CRC_BYTES;
  if (crc32(chunk, 0, bodyEnd) !== readU32(chunk, bodyEnd)) {
    throw new NervFormatError('chunk-crc', `group ${k}: chunk CRC-32 mismatch (corrupt chunk at byte offset ${base}, ${entry.size} bytes)`, {
      group: k,
      offset: base,
    });
  }
  const r = new ByteReader(chunk, 0, bodyEnd, 'chunk', base, k);
  const chunkFlags = r.u8(`group ${k} chunk flags`);
  if (chunkFlags > CHUNK_NETWORKS) r.fail(`group ${k}: unknown chunk flags 0x${chunkFlags.toString(16)}`, 0);
  if (!(chunkFlags & CHUNK_NETWORKS) && (entry.key || k === 0)) r.fail(`group ${k} is a key group but inherits the previous group's networks`, 0);
  let tensors: ChunkTensor[] | undefined;
  let framingBytes = 1 + CRC_BYTES;
  if (chunkFlags & CHUNK_NETWORKS) {
    tensors = [];
    for (const info of prefix.tensors) {
      const start = r.pos;
      const flags = r.u8(`group ${k} tensor ${info.name} flags`);
      if (flags !== 0 && flags !== FLAG_SAME_STEP && flags !== (FLAG_SAME_STEP | FLAG_RESIDUAL)) {
        r.fail(`group ${k} tensor ${info.name}: invalid flags 0x${flags.toString(16)}`, start);
      }
      if (entry.key && flags !== 0) r.fail(`group ${k} is a key group but tensor ${info.name} refers to the previous group`, start);
      let step: number | undefined;
      if (!(flags & FLAG_SAME_STEP)) {
        const shift = (r.u8(`group ${k} tensor ${info.name} step`) << 24) >> 24;
        if (shift < MIN_STEP_SHIFT || shift > MAX_STEP_SHIFT)
          r.fail(`group ${k} tensor ${info.name}: step 2^-${shift} outside 2^-${MAX_STEP_SHIFT}..2^${-MIN_STEP_SHIFT}`, r.pos - 1);
        step = 2 ** -shift;
      }
      const payloadLength = r.varint(`group ${k} tensor ${info.name} coded length`);
      r.need(payloadLength, `group ${k} tensor ${info.name} payload`);
      tensors.push({ flags, step, payloadStart: r.pos, payloadLength, fieldBytes: r.pos - start });
      framingBytes += r.pos - start;
      r.pos += payloadLength;
    }
  }
  const lengthAt = r.pos;
  const latentLength = r.varint(`group ${k} latent stream length`);
  r.need(latentLength, `group ${k} latent stream`);
  framingBytes += r.pos - lengthAt;
  const latentStart = r.pos;
  r.pos += latentLength;
  if (r.pos !== bodyEnd) r.fail(`group ${k}: ${bodyEnd - r.pos} unexpected bytes after the latent stream`);
  return { tensors, latentStart, latentLength, framingBytes };
}

function decodeChunk(chunk: Uint8Array, prefix: NervPrefix, k: number, previous: QuantizedTensor[] | undefined): NervGroupData {
  const parsed = parseChunk(chunk, prefix, k);
  const base = prefix.dataStart + prefix.index[k].offset;
  const latents = chunk.subarray(parsed.latentStart, parsed.latentStart + parsed.latentLength);
  if (!parsed.tensors) return { tensors: previous!, latents, networksCoded: false };
  const tensors = parsed.tensors.map((record, i) => {
    const info = prefix.tensors[i];
    let symbols: Int32Array;
    try {
      symbols = decodeTensor(chunk.subarray(record.payloadStart, record.payloadStart + record.payloadLength), info.size);
    } catch (error) {
      if (!(error instanceof NervFormatError)) throw error;
      const offset = base + record.payloadStart + (error.offset ?? 0);
      throw new NervFormatError('entropy', `group ${k} tensor ${info.name}: ${error.message} (chunk at byte offset ${base})`, {
        group: k,
        offset,
        cause: error,
      });
    }
    if (record.step !== undefined) return { symbols, step: record.step };
    const prev = previous![i];
    if (record.flags & FLAG_RESIDUAL) {
      for (let j = 0; j < symbols.length; j++) {
        const value = symbols[j] + prev.symbols[j];
        if (value > MAX_SYMBOL || value < -MAX_SYMBOL) {
          throw new NervFormatError('chunk', `group ${k} tensor ${info.name}: residual leaves the symbol range`, {
            group: k,
            offset: base + record.payloadStart,
          });
        }
        symbols[j] = value;
      }
    }
    return { symbols, step: prev.step };
  });
  return { tensors, latents, networksCoded: true };
}

/**
 * Decodes groups from chunks supplied on demand (for streaming players: getChunk(k) returns chunk k's
 * bytes, exactly index[k].size of them). Network tensors inherited or coded as residuals are
 * resolved back to the nearest key group or cached group; an LRU of recently decoded groups makes
 * sequential decoding one chunk per group.
 */
export class NervGroupDecoder {
  readonly header: NervHeader;
  readonly tensors: NervTensorInfo[];
  readonly index: NervIndexEntry[];
  readonly version: number;
  private readonly cache = new Map<number, NervGroupData>();

  constructor(
    private readonly source: NervPrefix,
    private readonly getChunk: (k: number) => Uint8Array,
    private readonly cacheSize = 4,
  ) {
    this.header = source.header;
    this.tensors = source.tensors;
    this.index = source.index;
    this.version = source.version;
  }

  get groupCount(): number {
    return this.index.length;
  }

  private remember(k: number, data: NervGroupData): void {
    this.cache.delete(k);
    this.cache.set(k, data);
    while (this.cache.size > Math.max(1, this.cacheSize)) this.cache.delete(this.cache.keys().next().value!);
  }

  private decoded(k: number): NervGroupData {
    const hit = this.cache.get(k);
    if (hit) {
      this.remember(k, hit);
      return hit;
    }
    let start = k;
    while (!this.index[start].key && !this.cache.has(start - 1)) start--;
    let previous = this.index[start].key ? undefined : this.cache.get(start - 1);
    for (let g = start; g <= k; g++) {
      previous = decodeChunk(this.getChunk(g), this.source, g, previous?.tensors);
      this.remember(g, previous);
    }
    return previous!;
  }

  /** Network tensors (fresh copies: callers may modify them) and the latent stream of group k. */
  group(k: number): NervGroupData {
    if (!Number.isInteger(k) || k < 0 || k >= this.index.length) throw new BadArgumentError(`group ${k} outside 0..${this.index.length - 1}`);
    const data = this.decoded(k);
    return { tensors: data.tensors.map(({ symbols, step }) => ({ symbols: symbols.slice(), step })), latents: data.latents, networksCoded: data.networksCoded };
  }
}

/** Reads a complete file held in memory. */
export class NervReader extends NervGroupDecoder {
  readonly dataStart: number;
  readonly fileSize: number;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, cacheSize = 4) {
    const prefix = readNervPrefix(bytes);
    if ('needBytes' in prefix) {
      throw new NervFormatError('truncated', `file is truncated: ${bytes.length} bytes, the header and index alone need ${prefix.needBytes}`, {
        offset: bytes.length,
      });
    }
    if (bytes.length < prefix.fileSize) {
      const k = prefix.index.findIndex((e) => prefix.dataStart + e.offset + e.size > bytes.length);
      throw new NervFormatError('truncated', `file is truncated: ${bytes.length} bytes of ${prefix.fileSize} (group ${k} incomplete)`, {
        offset: bytes.length,
        group: k,
      });
    }
    if (bytes.length > prefix.fileSize) {
      throw new NervFormatError('trailing', `${bytes.length - prefix.fileSize} unexpected bytes after the last chunk`, { offset: prefix.fileSize });
    }
    super(
      prefix,
      (k) => {
        const start = prefix.dataStart + prefix.index[k].offset;
        return bytes.subarray(start, start + prefix.index[k].size);
      },
      cacheSize,
    );
    this.dataStart = prefix.dataStart;
    this.fileSize = prefix.fileSize;
    this.bytes = bytes;
  }

  get prefix(): NervPrefix {
    return { version: this.version, header: this.header, tensors: this.tensors, index: this.index, dataStart: this.dataStart, fileSize: this.fileSize };
  }

  /** Checks every chunk's CRC-32 and structure (no entropy decoding). */
  verifyChunks(): void {
    this.index.forEach((entry, k) => {
      const start = this.dataStart + entry.offset;
      parseChunk(this.bytes.subarray(start, start + entry.size), this.prefix, k);
    });
  }
}

// -------------------------------------------------------------------------------------- describe

export interface NervTensorBytes {
  name: string;
  size: number;
  /** Entropy-coded bytes over all groups (model byte included). */
  codedBytes: number;
  /** Per-group flags, step and length fields. */
  fieldBytes: number;
  /** Groups that coded this tensor, and those that coded it as a residual against the previous group. */
  codedGroups: number;
  residualGroups: number;
  models: Partial<Record<EntropyModelName, number>>;
}

export interface NervDescription {
  fileBytes: number;
  /** Preamble, header body and its CRC. */
  header: number;
  /** Group index and its CRC. */
  index: number;
  /** Chunk framing: flags, per-tensor fields, latent stream lengths and CRCs. */
  chunkOverhead: number;
  /** The latents' entropy-coded bytes, over all groups. */
  latents: number;
  /** Entropy-coded bytes per network tensor, summed over all groups. header + index + chunkOverhead + latents + these = fileBytes. */
  tensors: Record<string, number>;
  groups: number;
  keyGroups: number;
  /** Groups that coded their own networks (the others inherit the previous group's). */
  networkGroups: number;
  /** Latent bytes per group. */
  latentsPerGroup: number[];
  tensorDetails: NervTensorBytes[];
}

/** Where the bytes of a file go; the parts add up to fileBytes. Checks CRCs, decodes no symbols. */
export function describeNerv(bytes: Uint8Array): NervDescription {
  const reader = new NervReader(bytes);
  const { index, dataStart } = reader;
  const prefix = reader.prefix;
  const headerBytes = readU32(bytes, 12) + PREAMBLE_BYTES + CRC_BYTES;
  const tensors: NervTensorBytes[] = reader.tensors.map(({ name, size }) => ({
    name,
    size,
    codedBytes: 0,
    fieldBytes: 0,
    codedGroups: 0,
    residualGroups: 0,
    models: {},
  }));
  let framing = 0;
  let networkGroups = 0;
  const latentsPerGroup: number[] = [];
  index.forEach((entry, k) => {
    const start = dataStart + entry.offset;
    const chunk = bytes.subarray(start, start + entry.size);
    const parsed = parseChunk(chunk, prefix, k);
    framing += parsed.framingBytes;
    latentsPerGroup.push(parsed.latentLength);
    if (parsed.tensors) networkGroups++;
    parsed.tensors?.forEach((record, i) => {
      const t = tensors[i];
      t.codedBytes += record.payloadLength;
      t.fieldBytes += record.fieldBytes;
      t.codedGroups++;
      if (record.flags & FLAG_RESIDUAL) t.residualGroups++;
      let model: EntropyModelName;
      try {
        model = tensorModel(chunk.subarray(record.payloadStart, record.payloadStart + record.payloadLength));
      } catch (error) {
        throw new NervFormatError('entropy', `group ${k} tensor ${t.name}: ${(error as Error).message}`, { group: k, offset: start + record.payloadStart });
      }
      t.models[model] = (t.models[model] ?? 0) + 1;
    });
  });
  return {
    fileBytes: bytes.length,
    header: headerBytes,
    index: dataStart - headerBytes,
    chunkOverhead: framing,
    latents: latentsPerGroup.reduce((a, b) => a + b, 0),
    tensors: Object.fromEntries(tensors.map((t) => [t.name, t.codedBytes])),
    groups: index.length,
    keyGroups: index.filter((e) => e.key).length,
    networkGroups,
    latentsPerGroup,
    tensorDetails: tensors,
  };
}
