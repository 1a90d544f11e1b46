/**
 * The .nerv container, version 1 (byte-exact specification: docs/format.md).
 *
 *   preamble (magic, version, flags, header length) | header body | CRC-32
 *   group index (count, then offset/size/flags per group) | CRC-32
 *   group chunks (per tensor: flags, step, coded length, entropy-coded symbols) each ending in its CRC-32
 *
 * The reader trusts nothing: every count and length is checked against fixed limits and against the
 * bytes actually present before anything is allocated, and every failure is a NervFormatError
 * whose `kind` says what was wrong. readNervPrefix works on a partial file so a player can start on
 * group 0 while the rest downloads.
 */
import { BadArgumentError } from '../errors.ts';
import { ByteReader, ByteWriter, varintLength } from '../entropy/bytes.ts';
import { decodeTensor, encodeTensor, tensorModel, type EntropyModelName } from '../entropy/tensor.ts';
import { MAX_SYMBOL } from '../quant/quantize.ts';
import { crc32 } from './crc32.ts';
import { NervFormatError } from './errors.ts';

export const NERV_MAGIC = Uint8Array.of(0x4e, 0x45, 0x52, 0x56, 0x0d, 0x0a, 0x1a, 0x0a); // "NERV\r\n\x1a\n"
export const NERV_VERSION = 1;

/** Fixed limits (a file beyond them is rejected before any allocation). */
export const NERV_LIMITS = {
  maxDimension: 16384,
  maxFrames: 1_000_000,
  maxFpsTerm: 1_000_000,
  maxGroupSize: 1024,
  maxKeyInterval: 65535,
  maxModelJsonBytes: 65536,
  maxTensors: 4096,
  maxTensorNameBytes: 255,
  maxTensorSize: 2 ** 26,
  maxSymbolsPerGroup: 2 ** 26,
} as const;

const PREAMBLE_BYTES = 16;
const FIXED_HEADER_BYTES = 4 * 5 + 1 + 2 + 2 + 4 + 2;
const MAX_HEADER_BYTES =
  FIXED_HEADER_BYTES + NERV_LIMITS.maxModelJsonBytes + NERV_LIMITS.maxTensors * (1 + NERV_LIMITS.maxTensorNameBytes + 4);
const INDEX_ENTRY_BYTES = 9;
const CRC_BYTES = 4;
const MAX_FILE_BYTES = 0xffffffff;

export type NervColorSpace = 'bt601' | 'bt709' | 'srgb';
const COLOR_SPACES: readonly NervColorSpace[] = ['bt601', 'bt709', 'srgb'];

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
  /** Frames per group (the last group may hold fewer). */
  groupSize: number;
  /** Longest distance between key groups: at most keyInterval - 1 predicted groups follow a key group. */
  keyInterval: number;
  /** Model description (architecture, hyper-parameters): a JSON object, opaque to the container. */
  model: unknown;
  /** Quantized tensors of every group's network, in coding order. */
  tensors: NervTensorInfo[];
}

export interface NervIndexEntry {
  /** Byte offset of the chunk, relative to dataStart. */
  offset: number;
  /** Chunk size in bytes, its CRC-32 included. */
  size: number;
  key: boolean;
}

export interface NervPrefix {
  header: NervHeader;
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
  tensors: QuantizedTensor[];
}

export function groupCountOf(header: Pick<NervHeader, 'frameCount' | 'groupSize'>): number {
  return Math.ceil(header.frameCount / header.groupSize);
}

// Chunk tensor flags.
const FLAG_RESIDUAL = 1;
const FLAG_SAME_STEP = 2;
/** The coded symbols are differences along a stride inside the tensor (a varint stride follows the flags). */
const FLAG_PREDICTED = 4;

export interface WriteOptions {
  /**
   * Per tensor, strides along which neighbouring symbols are alike (a grid's time or x axis): the
   * writer also tries coding differences along each and keeps whatever is smallest.
   */
  predictionStrides?: number[][];
}

/** Differences along `stride`, last to first so the decoder can undo them first to last. */
function predictAlong(symbols: Int32Array, stride: number): Int32Array | undefined {
  const out = Int32Array.from(symbols);
  for (let j = symbols.length - 1; j >= stride; j--) {
    const d = symbols[j] - symbols[j - stride];
    if (d > MAX_SYMBOL || d < -MAX_SYMBOL) return undefined;
    out[j] = d;
  }
  return out;
}

/** The smallest coding of `symbols`: plain, or differences along one of `strides` (stride 0: plain). */
export function smallestCoding(symbols: Int32Array, strides: readonly number[]): { coded: Uint8Array; stride: number } {
  let best = { coded: encodeTensor(symbols), stride: 0 };
  for (const stride of strides) {
    if (!Number.isInteger(stride) || stride < 1 || stride >= symbols.length) continue;
    const predicted = predictAlong(symbols, stride);
    if (!predicted) continue;
    const coded = encodeTensor(predicted);
    if (coded.length + varintLength(stride) < best.coded.length + (best.stride ? varintLength(best.stride) : 0)) best = { coded, stride };
  }
  return best;
}

// ------------------------------------------------------------------------------------------ write

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isJsonObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

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
  checkInteger('groupSize', header.groupSize, 1, L.maxGroupSize);
  checkInteger('keyInterval', header.keyInterval, 1, L.maxKeyInterval);
  if (!isJsonObject(header.model)) throw new BadArgumentError('model must be a JSON object');
  let json: string;
  try {
    json = JSON.stringify(header.model);
  } catch (error) {
    throw new BadArgumentError(`model is not JSON-serialisable: ${(error as Error).message}`);
  }
  const jsonBytes = utf8Encoder.encode(json);
  if (jsonBytes.length > L.maxModelJsonBytes) throw new BadArgumentError(`model JSON is ${jsonBytes.length} bytes, limit ${L.maxModelJsonBytes}`);
  if (!Array.isArray(header.tensors) || header.tensors.length > L.maxTensors) throw new BadArgumentError(`at most ${L.maxTensors} tensors`);
  const out = new ByteWriter();
  out.u32(header.width);
  out.u32(header.height);
  out.u32(header.frameCount);
  out.u32(header.fps.num);
  out.u32(header.fps.den);
  out.u8(colorCode);
  out.u16(header.groupSize);
  out.u16(header.keyInterval);
  out.u32(jsonBytes.length);
  out.bytes(jsonBytes);
  out.u16(header.tensors.length);
  const names = new Set<string>();
  let total = 0;
  for (const { name, size } of header.tensors) {
    const nameBytes = utf8Encoder.encode(name);
    if (typeof name !== 'string' || nameBytes.length < 1 || nameBytes.length > L.maxTensorNameBytes) {
      throw new BadArgumentError(`tensor name must be 1..${L.maxTensorNameBytes} UTF-8 bytes: ${JSON.stringify(name)}`);
    }
    if (utf8Decoder.decode(nameBytes) !== name) throw new BadArgumentError(`tensor name ${JSON.stringify(name)} is not valid Unicode`);
    if (names.has(name)) throw new BadArgumentError(`duplicate tensor name ${JSON.stringify(name)}`);
    names.add(name);
    checkInteger(`size of tensor ${name}`, size, 1, L.maxTensorSize);
    total += size;
    out.u8(nameBytes.length);
    out.bytes(nameBytes);
    out.u32(size);
  }
  if (total > L.maxSymbolsPerGroup) throw new BadArgumentError(`tensors hold ${total} symbols per group, limit ${L.maxSymbolsPerGroup}`);
  return out.finish();
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
 * Serialises a whole file. For predicted groups each tensor is coded as a residual against the
 * previous group's symbols when its step is the same and the residual codes smaller.
 */
export function writeNerv(header: NervHeader, groups: NervGroup[], options: WriteOptions = {}): Uint8Array {
  const body = encodeHeaderBody(header);
  const groupCount = groupCountOf(header);
  if (groups.length !== groupCount) {
    throw new BadArgumentError(`${header.frameCount} frames in groups of ${header.groupSize} make ${groupCount} groups, got ${groups.length}`);
  }
  checkKeySpacing(groups.map((g) => g.key), header.keyInterval, (message) => {
    throw new BadArgumentError(message);
  });
  const tensorCount = header.tensors.length;
  const chunks: Uint8Array[] = [];
  let previous: QuantizedTensor[] | undefined;
  groups.forEach((group, k) => {
    if (group.tensors.length !== tensorCount) throw new BadArgumentError(`group ${k} has ${group.tensors.length} tensors, header lists ${tensorCount}`);
    const out = new ByteWriter();
    const stored: QuantizedTensor[] = [];
    group.tensors.forEach(({ symbols, step }, i) => {
      const info = header.tensors[i];
      if (!(symbols instanceof Int32Array) || symbols.length !== info.size) {
        throw new BadArgumentError(`group ${k} tensor ${info.name}: expected an Int32Array of ${info.size} symbols`);
      }
      const stepF32 = Math.fround(step);
      if (!Number.isFinite(stepF32) || !(stepF32 > 0)) throw new BadArgumentError(`group ${k} tensor ${info.name}: step ${step} is not a positive finite float32`);
      const prev = group.key ? undefined : previous![i];
      const sameStep = prev !== undefined && prev.step === stepF32;
      const strides = options.predictionStrides?.[i] ?? [];
      let { coded, stride } = smallestCoding(symbols, strides);
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
        if (fits) {
          const residualCoding = smallestCoding(residual, strides);
          const size = (c: { coded: Uint8Array; stride: number }) => c.coded.length + (c.stride ? varintLength(c.stride) : 0);
          if (size(residualCoding) < size({ coded, stride })) {
            ({ coded, stride } = residualCoding);
            flags |= FLAG_RESIDUAL;
          }
        }
      }
      if (stride) flags |= FLAG_PREDICTED;
      out.u8(flags);
      if (stride) out.varint(stride);
      if (!sameStep) out.f32(stepF32);
      out.varint(coded.length);
      out.bytes(coded);
      stored.push({ symbols, step: stepF32 });
    });
    const chunk = out.finish();
    const withCrc = new Uint8Array(chunk.length + CRC_BYTES);
    withCrc.set(chunk);
    new DataView(withCrc.buffer).setUint32(chunk.length, crc32(chunk), true);
    chunks.push(withCrc);
    previous = stored;
  });

  const out = new ByteWriter();
  out.bytes(NERV_MAGIC);
  out.u16(NERV_VERSION);
  out.u16(0);
  out.u32(body.length);
  out.bytes(body);
  out.u32(crc32(out.finish()));
  const indexStart = out.length;
  out.u32(groupCount);
  let offset = 0;
  groups.forEach((group, k) => {
    out.u32(offset);
    out.u32(chunks[k].length);
    out.u8(group.key ? 1 : 0);
    offset += chunks[k].length;
  });
  const sofar = out.finish();
  out.u32(crc32(sofar, indexStart));
  if (out.length + offset > MAX_FILE_BYTES) throw new BadArgumentError(`file would exceed ${MAX_FILE_BYTES} bytes`);
  for (const chunk of chunks) out.bytes(chunk);
  return out.finish();
}

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
    if (value < min || value > max) throw new NervFormatError(value > max ? 'limits' : 'header', `${what} ${value} outside ${min}..${max} (byte offset ${at})`, { offset: at });
    return value;
  };
  const width = bounded('width', r.u32('width'), 1, L.maxDimension, r.pos - 4);
  const height = bounded('height', r.u32('height'), 1, L.maxDimension, r.pos - 4);
  const frameCount = bounded('frame count', r.u32('frame count'), 1, L.maxFrames, r.pos - 4);
  const num = bounded('frame rate numerator', r.u32('frame rate'), 1, L.maxFpsTerm, r.pos - 4);
  const den = bounded('frame rate denominator', r.u32('frame rate'), 1, L.maxFpsTerm, r.pos - 4);
  const colorCode = r.u8('colour space');
  if (colorCode >= COLOR_SPACES.length) r.fail(`unknown colour space code ${colorCode}`, r.pos - 1);
  const groupSize = bounded('group size', r.u16('group size'), 1, L.maxGroupSize, r.pos - 2);
  const keyInterval = bounded('key interval', r.u16('key interval'), 1, L.maxKeyInterval, r.pos - 2);
  const jsonLength = bounded('model JSON length', r.u32('model JSON length'), 0, L.maxModelJsonBytes, r.pos - 4);
  const jsonAt = r.pos;
  const jsonBytes = r.take(jsonLength, 'model JSON');
  let model: unknown;
  try {
    model = JSON.parse(utf8Decoder.decode(jsonBytes));
  } catch {
    r.fail('model description is not valid UTF-8 JSON', jsonAt);
  }
  if (!isJsonObject(model)) r.fail('model description is not a JSON object', jsonAt);
  const tensorCount = bounded('tensor count', r.u16('tensor count'), 0, L.maxTensors, r.pos - 2);
  // Each tensor entry takes at least 6 bytes: reject an absurd count before allocating the list.
  if (tensorCount * 6 > r.end - r.pos) r.fail(`${tensorCount} tensors cannot fit in the rest of the header`);
  const tensors: NervTensorInfo[] = [];
  const names = new Set<string>();
  let total = 0;
  for (let i = 0; i < tensorCount; i++) {
    const nameAt = r.pos;
    const nameLength = r.u8('tensor name length');
    if (nameLength === 0) r.fail('empty tensor name', nameAt);
    let name = '';
    try {
      name = utf8Decoder.decode(r.take(nameLength, 'tensor name'));
    } catch (error) {
      if (error instanceof NervFormatError) throw error;
      r.fail('tensor name is not valid UTF-8', nameAt);
    }
    if (names.has(name)) r.fail(`duplicate tensor name ${JSON.stringify(name)}`, nameAt);
    names.add(name);
    const size = bounded(`size of tensor ${JSON.stringify(name)}`, r.u32('tensor size'), 1, L.maxTensorSize, r.pos - 4);
    total += size;
    if (total > L.maxSymbolsPerGroup) throw new NervFormatError('limits', `tensors hold more than ${L.maxSymbolsPerGroup} symbols per group`, { offset: r.pos - 4 });
    tensors.push({ name, size });
  }
  if (r.pos !== end) r.fail(`${end - r.pos} unexpected bytes at the end of the header`);
  return {
    width,
    height,
    frameCount,
    fps: { num, den },
    colorSpace: COLOR_SPACES[colorCode],
    groupSize,
    keyInterval,
    model,
    tensors,
  };
}

const readU32 = (bytes: Uint8Array, at: number): number =>
  (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;

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
  if (version !== NERV_VERSION) throw new NervFormatError('version', `unsupported .nerv format version ${version} (this decoder reads ${NERV_VERSION})`, { offset: 8 });
  const flags = bytes[10] | (bytes[11] << 8);
  if (flags !== 0) throw new NervFormatError('version', `unknown file flags 0x${flags.toString(16)}`, { offset: 10 });
  const headerLength = readU32(bytes, 12);
  if (headerLength > MAX_HEADER_BYTES) throw new NervFormatError('limits', `header length ${headerLength} exceeds ${MAX_HEADER_BYTES}`, { offset: 12 });
  if (headerLength < FIXED_HEADER_BYTES) throw new NervFormatError('header', `header length ${headerLength} is below the minimum ${FIXED_HEADER_BYTES}`, { offset: 12 });
  const headerEnd = PREAMBLE_BYTES + headerLength;
  if (bytes.length < headerEnd + CRC_BYTES) return { needBytes: headerEnd + CRC_BYTES };
  if (crc32(bytes, 0, headerEnd) !== readU32(bytes, headerEnd)) throw new NervFormatError('header-crc', 'header CRC-32 mismatch (corrupt header)', { offset: headerEnd });
  const header = parseHeaderBody(bytes, PREAMBLE_BYTES, headerEnd);
  const groupCount = groupCountOf(header);
  const indexStart = headerEnd + CRC_BYTES;
  const indexEnd = indexStart + 4 + groupCount * INDEX_ENTRY_BYTES;
  if (bytes.length < indexEnd + CRC_BYTES) return { needBytes: indexEnd + CRC_BYTES };
  if (crc32(bytes, indexStart, indexEnd) !== readU32(bytes, indexEnd)) throw new NervFormatError('index-crc', 'group index CRC-32 mismatch (corrupt index)', { offset: indexEnd });
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
    if (offset !== expectedOffset) throw new NervFormatError('index', `group ${k} starts at ${offset}, expected ${expectedOffset} (chunks must be contiguous)`, { offset: at });
    if (size < CRC_BYTES) throw new NervFormatError('index', `group ${k} chunk size ${size} is below ${CRC_BYTES}`, { offset: at + 4 });
    if (entryFlags > 1) throw new NervFormatError('index', `group ${k} has unknown flags 0x${entryFlags.toString(16)}`, { offset: at + 8 });
    expectedOffset += size;
    if (dataStart + expectedOffset > MAX_FILE_BYTES) throw new NervFormatError('limits', `chunks extend past ${MAX_FILE_BYTES} bytes`, { offset: at + 4 });
    index.push({ offset, size, key: entryFlags === 1 });
  }
  checkKeySpacing(index.map((e) => e.key), header.keyInterval, (message) => {
    throw new NervFormatError('index', message, { offset: indexStart + 4 });
  });
  return { header, index, dataStart, fileSize: dataStart + expectedOffset };
}

// ------------------------------------------------------------------------------------------ chunks

interface ChunkTensor {
  flags: number;
  /** Prediction stride, 0 for none. */
  stride: number;
  step: number | undefined;
  payloadStart: number; // relative to the chunk
  payloadLength: number;
  fieldBytes: number;
}

/** Verifies a chunk's CRC and splits it into per-tensor records (no entropy decoding). */
function parseChunk(chunk: Uint8Array, prefix: NervPrefix, k: number): ChunkTensor[] {
  const entry = prefix.index[k];
  const base = prefix.dataStart + entry.offset;
  if (chunk.length !== entry.size) {
    throw new NervFormatError('truncated', `group ${k} chunk has ${chunk.length} bytes, index says ${entry.size}`, { group: k, offset: base });
  }
  const bodyEnd = chunk.length - CRC_BYTES;
  if (crc32(chunk, 0, bodyEnd) !== readU32(chunk, bodyEnd)) {
    throw new NervFormatError('chunk-crc', `group ${k}: chunk CRC-32 mismatch (corrupt chunk at byte offset ${base}, ${entry.size} bytes)`, { group: k, offset: base });
  }
  const r = new ByteReader(chunk, 0, bodyEnd, 'chunk', base, k);
  const out: ChunkTensor[] = [];
  for (const info of prefix.header.tensors) {
    const start = r.pos;
    const flags = r.u8(`group ${k} tensor ${info.name} flags`);
    const reference = flags & ~FLAG_PREDICTED;
    if (reference !== 0 && reference !== FLAG_SAME_STEP && reference !== (FLAG_SAME_STEP | FLAG_RESIDUAL)) {
      r.fail(`group ${k} tensor ${info.name}: invalid flags 0x${flags.toString(16)}`, start);
    }
    if (entry.key && reference !== 0) r.fail(`group ${k} is a key group but tensor ${info.name} refers to the previous group`, start);
    let stride = 0;
    if (flags & FLAG_PREDICTED) {
      stride = r.varint(`group ${k} tensor ${info.name} prediction stride`);
      if (stride < 1 || stride >= info.size) r.fail(`group ${k} tensor ${info.name}: prediction stride ${stride} outside 1..${info.size - 1}`, start + 1);
    }
    let step: number | undefined;
    if (!(flags & FLAG_SAME_STEP)) {
      step = r.f32(`group ${k} tensor ${info.name} step`);
      if (!Number.isFinite(step) || !(step > 0)) r.fail(`group ${k} tensor ${info.name}: step ${step} is not positive and finite`, r.pos - 4);
    }
    const payloadLength = r.varint(`group ${k} tensor ${info.name} coded length`);
    r.need(payloadLength, `group ${k} tensor ${info.name} payload`);
    out.push({ flags, stride, step, payloadStart: r.pos, payloadLength, fieldBytes: r.pos - start });
    r.pos += payloadLength;
  }
  if (r.pos !== bodyEnd) r.fail(`group ${k}: ${bodyEnd - r.pos} unexpected bytes after the last tensor`);
  return out;
}

function decodeChunk(chunk: Uint8Array, prefix: NervPrefix, k: number, previous: QuantizedTensor[] | undefined): QuantizedTensor[] {
  const records = parseChunk(chunk, prefix, k);
  const base = prefix.dataStart + prefix.index[k].offset;
  return records.map((record, i) => {
    const info = prefix.header.tensors[i];
    let symbols: Int32Array;
    try {
      symbols = decodeTensor(chunk.subarray(record.payloadStart, record.payloadStart + record.payloadLength), info.size);
    } catch (error) {
      if (!(error instanceof NervFormatError)) throw error;
      const offset = base + record.payloadStart + (error.offset ?? 0);
      throw new NervFormatError('entropy', `group ${k} tensor ${info.name}: ${error.message} (chunk at byte offset ${base})`, { group: k, offset, cause: error });
    }
    if (record.stride) {
      for (let j = record.stride; j < symbols.length; j++) {
        const value = symbols[j] + symbols[j - record.stride];
        if (value > MAX_SYMBOL || value < -MAX_SYMBOL) {
          throw new NervFormatError('chunk', `group ${k} tensor ${info.name}: prediction leaves the symbol range`, { group: k, offset: base + record.payloadStart });
        }
        symbols[j] = value;
      }
    }
    if (record.step !== undefined) return { symbols, step: record.step };
    const prev = previous![i];
    if (record.flags & FLAG_RESIDUAL) {
      const prevSymbols = prev.symbols;
      for (let j = 0; j < symbols.length; j++) {
        const value = symbols[j] + prevSymbols[j];
        if (value > MAX_SYMBOL || value < -MAX_SYMBOL) {
          throw new NervFormatError('chunk', `group ${k} tensor ${info.name}: residual leaves the symbol range`, { group: k, offset: base + record.payloadStart });
        }
        symbols[j] = value;
      }
    }
    return { symbols, step: prev.step };
  });
}

/**
 * Decodes groups from chunks supplied on demand (for streaming players: getChunk(k) returns chunk k's
 * bytes, exactly index[k].size of them). Residual chains are resolved back to the nearest key group
 * or cached group; an LRU of recently decoded groups makes sequential decoding one chunk per group.
 */
export class NervGroupDecoder {
  readonly header: NervHeader;
  readonly index: NervIndexEntry[];
  private readonly cache = new Map<number, QuantizedTensor[]>();

  constructor(
    private readonly prefix: NervPrefix,
    private readonly getChunk: (k: number) => Uint8Array,
    private readonly cacheSize = 4,
  ) {
    this.header = prefix.header;
    this.index = prefix.index;
  }

  get groupCount(): number {
    return this.index.length;
  }

  private remember(k: number, tensors: QuantizedTensor[]): void {
    this.cache.delete(k);
    this.cache.set(k, tensors);
    while (this.cache.size > Math.max(1, this.cacheSize)) this.cache.delete(this.cache.keys().next().value!);
  }

  private decoded(k: number): QuantizedTensor[] {
    const hit = this.cache.get(k);
    if (hit) {
      this.remember(k, hit);
      return hit;
    }
    let start = k;
    while (!this.index[start].key && !this.cache.has(start - 1)) start--;
    let previous = this.index[start].key ? undefined : this.cache.get(start - 1);
    for (let g = start; g <= k; g++) {
      previous = decodeChunk(this.getChunk(g), this.prefix, g, previous);
      this.remember(g, previous);
    }
    return previous!;
  }

  /** Symbols and step of every tensor of group k (fresh copies: callers may modify them). */
  groupTensors(k: number): QuantizedTensor[] {
    if (!Number.isInteger(k) || k < 0 || k >= this.index.length) throw new BadArgumentError(`group ${k} outside 0..${this.index.length - 1}`);
    return this.decoded(k).map(({ symbols, step }) => ({ symbols: symbols.slice(), step }));
  }
}

/** Reads a complete file held in memory. */
export class NervReader extends NervGroupDecoder {
  /** Format version of the file (the only one this reader accepts). */
  readonly version = NERV_VERSION;
  readonly dataStart: number;
  readonly fileSize: number;

  constructor(bytes: Uint8Array, cacheSize = 4) {
    const prefix = readNervPrefix(bytes);
    if ('needBytes' in prefix) {
      throw new NervFormatError('truncated', `file is truncated: ${bytes.length} bytes, the header and index alone need ${prefix.needBytes}`, { offset: bytes.length });
    }
    if (bytes.length < prefix.fileSize) {
      const k = prefix.index.findIndex((e) => prefix.dataStart + e.offset + e.size > bytes.length);
      throw new NervFormatError('truncated', `file is truncated: ${bytes.length} bytes of ${prefix.fileSize} (group ${k} incomplete)`, { offset: bytes.length, group: k });
    }
    if (bytes.length > prefix.fileSize) {
      throw new NervFormatError('trailing', `${bytes.length - prefix.fileSize} unexpected bytes after the last chunk`, { offset: prefix.fileSize });
    }
    super(prefix, (k) => {
      const start = prefix.dataStart + prefix.index[k].offset;
      return bytes.subarray(start, start + prefix.index[k].size);
    }, cacheSize);
    this.dataStart = prefix.dataStart;
    this.fileSize = prefix.fileSize;
    this.bytes = bytes;
  }

  private readonly bytes: Uint8Array;

  /** Checks every chunk's CRC-32 and structure (no entropy decoding). */
  verifyChunks(): void {
    const prefix = { header: this.header, index: this.index, dataStart: this.dataStart, fileSize: this.fileSize };
    this.index.forEach((entry, k) => {
      const start = this.dataStart + entry.offset;
      parseChunk(this.bytes.subarray(start, start + entry.size), prefix, k);
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
  /** Groups where the tensor was coded as a residual against the previous group. */
  residualGroups: number;
  models: Partial<Record<EntropyModelName, number>>;
}

export interface NervDescription {
  fileBytes: number;
  /** Preamble, header body and its CRC. */
  header: number;
  /** Group index and its CRC. */
  index: number;
  /** Chunk framing: per chunk its CRC-32, per tensor and group its flags, step and length fields. */
  chunkOverhead: number;
  /** Entropy-coded bytes per tensor name, summed over all groups. header + index + chunkOverhead + these = fileBytes. */
  tensors: Record<string, number>;
  groups: number;
  keyGroups: number;
  /** The same per tensor, with the framing bytes, residual use and chosen models. */
  tensorDetails: NervTensorBytes[];
}

/** Where the bytes of a file go; the parts add up to fileBytes. Checks CRCs, decodes no symbols. */
export function describeNerv(bytes: Uint8Array): NervDescription {
  const reader = new NervReader(bytes);
  const { header, index, dataStart } = reader;
  const prefix: NervPrefix = { header, index, dataStart, fileSize: reader.fileSize };
  const headerBytes = readU32(bytes, 12) + PREAMBLE_BYTES + CRC_BYTES;
  const tensors: NervTensorBytes[] = header.tensors.map(({ name, size }) => ({ name, size, codedBytes: 0, fieldBytes: 0, residualGroups: 0, models: {} }));
  index.forEach((entry, k) => {
    const start = dataStart + entry.offset;
    const chunk = bytes.subarray(start, start + entry.size);
    parseChunk(chunk, prefix, k).forEach((record, i) => {
      const t = tensors[i];
      t.codedBytes += record.payloadLength;
      t.fieldBytes += record.fieldBytes;
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
    chunkOverhead: CRC_BYTES * index.length + tensors.reduce((sum, t) => sum + t.fieldBytes, 0),
    tensors: Object.fromEntries(tensors.map((t) => [t.name, t.codedBytes])),
    groups: index.length,
    keyGroups: index.filter((e) => e.key).length,
    tensorDetails: tensors,
  };
}
