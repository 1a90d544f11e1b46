// Core YUV4MPEG2 (Y4M) reader and writer, working on byte chunks (no node:* imports).
//
// The reader is incremental: push chunks as they arrive, pull frames as they complete. It keeps the
// unread part of the chunks you pushed plus the one frame it is filling, so a caller that pushes a
// chunk only when read() returns null holds at most about one frame and one chunk.
//
// Y4M has no colour-matrix tag. Frames are read as BT.601 (ffmpeg's assumption for untagged video)
// unless the caller says otherwise or the file has our `XCOLORMATRIX=BT709` extension tag, which
// nervkit writes and other tools ignore. `XCOLORRANGE=FULL|LIMITED` (written by ffmpeg) is honoured.
import { NervError } from '../errors.ts';
import { chromaSize, createYuvFrame, rgbToYuv, yuvToRgb, type ChromaFormat, type ColorOptions, type YuvFrame } from './color.ts';
import { assertRgbFrame, type ColorRange, type ColorSpace, type RgbFrame, type VideoInfo } from './frame.ts';

/** A Y4M stream that is malformed, truncated or in a format we do not read. Code BAD_INPUT. */
export class Y4mError extends NervError {
  constructor(message: string) {
    super('BAD_INPUT', message);
  }
}

/** Sizes beyond these are rejected before anything is allocated (8K is 33 Mpixel). */
export const Y4M_LIMITS = { maxDimension: 16384, maxPixels: 1 << 26, maxHeaderBytes: 4096, maxFrameHeaderBytes: 1024 };

// A Map keeps this order in messages (an object would list the numeric-looking keys first).
const CHROMA_TAGS = new Map<string, ChromaFormat>([
  ['420jpeg', '420'],
  ['420mpeg2', '420'],
  ['420paldv', '420'],
  ['420', '420'],
  ['422', '422'],
  ['444', '444'],
]);
export const SUPPORTED_Y4M_COLOR_FORMATS = [...CHROMA_TAGS.keys()];

export interface Y4mHeader {
  width: number;
  height: number;
  fps: { num: number; den: number };
  chroma: ChromaFormat;
  /** The C tag as written (e.g. `420mpeg2`); `420jpeg` when absent, as the format specifies. */
  colorTag: string;
  /** I tag: p (progressive), t/b (interlaced), m (mixed), ? (unknown). Frames are read as progressive. */
  interlace: string;
  aspect: { num: number; den: number };
  colorRange: ColorRange;
  /** From our XCOLORMATRIX extension; undefined when the file does not say. */
  colorSpace?: ColorSpace;
  /** X tags, without the leading X. */
  extensions: string[];
}

function parseRatio(tag: string, value: string): { num: number; den: number } {
  const match = /^(\d+):(\d+)$/.exec(value);
  if (!match) throw new Y4mError(`Y4M header: malformed ${tag} tag '${tag}${value}' (expected ${tag}num:den)`);
  return { num: Number(match[1]), den: Number(match[2]) };
}

function parseDimension(tag: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new Y4mError(`Y4M header: malformed ${tag} tag '${tag}${value}'`);
  const n = Number(value);
  if (n <= 0 || n > Y4M_LIMITS.maxDimension) {
    throw new Y4mError(`Y4M header: ${tag === 'W' ? 'width' : 'height'} ${n} is out of range (1..${Y4M_LIMITS.maxDimension})`);
  }
  return n;
}

/** Parses the stream header line (without its trailing newline). */
export function parseY4mHeader(line: string): Y4mHeader {
  const tokens = line.split(' ').filter((t) => t.length > 0);
  if (tokens[0] !== 'YUV4MPEG2') {
    throw new Y4mError(`not a Y4M stream: it starts with '${line.slice(0, 16).replace(/[^\x20-\x7e]/g, '?')}' instead of 'YUV4MPEG2'`);
  }
  let width: number | undefined;
  let height: number | undefined;
  let fps = { num: 25, den: 1 }; // the F tag is mandatory in the spec; ffmpeg also assumes 25 without it
  let colorTag = '420jpeg';
  let interlace = 'p';
  let aspect = { num: 0, den: 0 };
  let colorRange: ColorRange = 'limited';
  let colorSpace: ColorSpace | undefined;
  const extensions: string[] = [];
  for (const token of tokens.slice(1)) {
    const tag = token[0];
    const value = token.slice(1);
    switch (tag) {
      case 'W':
        width = parseDimension('W', value);
        break;
      case 'H':
        height = parseDimension('H', value);
        break;
      case 'F':
        fps = parseRatio('F', value);
        if (fps.num === 0 || fps.den === 0) throw new Y4mError(`Y4M header: frame rate F${value} is not positive`);
        break;
      case 'I':
        interlace = value;
        break;
      case 'A':
        aspect = parseRatio('A', value);
        break;
      case 'C':
        colorTag = value;
        break;
      case 'X':
        extensions.push(value);
        if (value === 'COLORRANGE=FULL') colorRange = 'full';
        if (value === 'COLORMATRIX=BT709') colorSpace = 'bt709';
        if (value === 'COLORMATRIX=BT601') colorSpace = 'bt601';
        break;
      default:
        break; // unknown tags are skipped, as the format asks
    }
  }
  if (width === undefined || height === undefined) throw new Y4mError('Y4M header: the W (width) and H (height) tags are required');
  if (width * height > Y4M_LIMITS.maxPixels) {
    throw new Y4mError(`Y4M header: ${width}x${height} exceeds the ${Y4M_LIMITS.maxPixels}-pixel limit`);
  }
  const chroma = CHROMA_TAGS.get(colorTag);
  if (!chroma) {
    const bits = /p(\d+)$/.exec(colorTag);
    throw new Y4mError(
      `unsupported Y4M colour format 'C${colorTag}'${bits ? ` (${bits[1]}-bit)` : ''}; ` +
        `supported: ${SUPPORTED_Y4M_COLOR_FORMATS.map((t) => `C${t}`).join(', ')} (8-bit). ` +
        'Convert with e.g. `ffmpeg -i in.y4m -pix_fmt yuv420p out.y4m`',
    );
  }
  return { width, height, fps, chroma, colorTag, interlace, aspect, colorRange, colorSpace, extensions };
}

export function y4mVideoInfo(header: Y4mHeader, source: string, colorSpace?: ColorSpace): VideoInfo {
  return {
    width: header.width,
    height: header.height,
    fps: { ...header.fps },
    colorSpace: colorSpace ?? header.colorSpace ?? 'bt601',
    colorRange: header.colorRange,
    source,
  };
}

const NEWLINE = 0x0a;
const FRAME_TAG = 'FRAME';

type State = 'header' | 'frameHeader' | 'frameData';

export interface Y4mDecoderOptions {
  /** Matrix for RGB conversion; default: the file's XCOLORMATRIX tag, else bt601. */
  colorSpace?: ColorSpace;
}

/** Incremental Y4M parser: push() bytes, then call read() / readYuv() until they return null. */
export class Y4mDecoder {
  private readonly chunks: Uint8Array[] = [];
  private offset = 0; // into chunks[0]
  private queued = 0; // unread bytes across chunks
  private ended = false;
  private state: State = 'header';
  private parsedHeader: Y4mHeader | null = null;
  private frame: YuvFrame | null = null;
  private filled = 0;
  private frameBytes = 0;
  private framesRead = 0;

  constructor(private readonly options: Y4mDecoderOptions = {}) {}

  push(chunk: Uint8Array): void {
    if (this.ended) throw new Y4mError('Y4M decoder: push() after end()');
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.queued += chunk.length;
  }

  /** No more bytes will come: read() then returns the last complete frame, then null or a truncation error. */
  end(): void {
    this.ended = true;
  }

  /** Bytes pushed but not yet consumed. */
  get bufferedBytes(): number {
    return this.queued;
  }

  get frameCount(): number {
    return this.framesRead;
  }

  /** The stream header once enough bytes have arrived, else null. Throws on a malformed header. */
  header(): Y4mHeader | null {
    if (!this.parsedHeader) this.advanceHeader();
    return this.parsedHeader;
  }

  colorOptions(): ColorOptions {
    const header = this.header();
    return {
      colorSpace: this.options.colorSpace ?? header?.colorSpace ?? 'bt601',
      colorRange: header?.colorRange ?? 'limited',
    };
  }

  /** Bytes per frame, or 0 until the header is known. */
  get frameSize(): number {
    return this.frameBytes;
  }

  /** The next complete frame as planar YUV (a fresh buffer the caller owns), or null if more bytes are needed. */
  readYuv(): YuvFrame | null {
    if (!this.parsedHeader && !this.advanceHeader()) return null;
    const header = this.parsedHeader!;
    for (;;) {
      if (this.state === 'frameHeader') {
        if (this.queued === 0 && this.ended) return null;
        const line = this.takeLine(Y4M_LIMITS.maxFrameHeaderBytes, 'frame header');
        if (line === null) return null;
        if (!line.startsWith(FRAME_TAG) || (line.length > FRAME_TAG.length && line[FRAME_TAG.length] !== ' ')) {
          throw new Y4mError(
            `Y4M frame ${this.framesRead}: expected a 'FRAME' header, found '${line.slice(0, 16).replace(/[^\x20-\x7e]/g, '?')}' ` +
              '(wrong size in the header, or a corrupt file)',
          );
        }
        this.frame = createYuvFrame(header.width, header.height, header.chroma);
        this.filled = 0;
        this.state = 'frameData';
      }
      const frame = this.frame!;
      const ySize = frame.y.length;
      const cSize = frame.u.length;
      while (this.filled < this.frameBytes && this.queued > 0) {
        const f = this.filled;
        const [plane, start] = f < ySize ? [frame.y, f] : f < ySize + cSize ? [frame.u, f - ySize] : [frame.v, f - ySize - cSize];
        this.filled += this.copyInto(plane, start);
      }
      if (this.filled < this.frameBytes) {
        if (this.ended) {
          throw new Y4mError(`Y4M frame ${this.framesRead} is truncated: ${this.filled} of ${this.frameBytes} bytes`);
        }
        return null;
      }
      this.frame = null;
      this.state = 'frameHeader';
      this.framesRead++;
      return frame;
    }
  }

  /** The next complete frame converted to float RGB, or null if more bytes are needed. */
  read(): RgbFrame | null {
    const yuv = this.readYuv();
    if (!yuv) return null;
    const rgb = yuvToRgb(yuv, this.colorOptions());
    rgb.yuv = yuv;
    return rgb;
  }

  private advanceHeader(): boolean {
    if (this.parsedHeader) return true;
    const line = this.takeLine(Y4M_LIMITS.maxHeaderBytes, 'stream header');
    if (line === null) {
      if (this.ended) {
        throw new Y4mError(this.queued === 0 ? 'empty Y4M stream (no header)' : 'Y4M stream header is truncated (no newline)');
      }
      return false;
    }
    const header = parseY4mHeader(line);
    const c = chromaSize(header.width, header.height, header.chroma);
    this.frameBytes = header.width * header.height + 2 * c.width * c.height;
    this.parsedHeader = header;
    this.state = 'frameHeader';
    return true;
  }

  /** Consumes and returns bytes up to a newline (excluded), or null if no newline has arrived yet. */
  private takeLine(maxBytes: number, what: string): string | null {
    let length = 0;
    let found = false;
    scan: for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c];
      for (let i = c === 0 ? this.offset : 0; i < chunk.length; i++) {
        if (chunk[i] === NEWLINE) {
          found = true;
          break scan;
        }
        if (++length > maxBytes) throw new Y4mError(`Y4M ${what} is longer than ${maxBytes} bytes: not a Y4M stream, or corrupt`);
      }
    }
    if (!found) {
      if (this.ended && this.queued > 0) throw new Y4mError(`Y4M ${what} is truncated (no newline)`);
      return null;
    }
    const bytes = new Uint8Array(length);
    let pos = 0;
    while (pos < length) pos += this.copyInto(bytes, pos);
    this.skip(1);
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return text;
  }

  /** Copies queued bytes into target[start..], as many as fit; returns the count. */
  private copyInto(target: Uint8Array, start: number): number {
    const chunk = this.chunks[0];
    const n = Math.min(target.length - start, chunk.length - this.offset);
    target.set(chunk.subarray(this.offset, this.offset + n), start);
    this.skip(n);
    return n;
  }

  private skip(n: number): void {
    this.offset += n;
    this.queued -= n;
    while (this.chunks.length > 0 && this.offset >= this.chunks[0].length) {
      this.offset -= this.chunks[0].length;
      this.chunks.shift();
    }
  }
}

/** Decodes a whole Y4M file held in memory (convenient for small clips and tests). */
export function decodeY4m(bytes: Uint8Array, options: Y4mDecoderOptions & { source?: string } = {}): { info: VideoInfo; frames: RgbFrame[] } {
  const decoder = new Y4mDecoder(options);
  decoder.push(bytes);
  decoder.end();
  const frames: RgbFrame[] = [];
  for (let frame = decoder.read(); frame; frame = decoder.read()) frames.push(frame);
  const info = y4mVideoInfo(decoder.header()!, options.source ?? 'memory', options.colorSpace);
  info.frameCount = frames.length;
  return { info, frames };
}

/** Decodes Y4M from any (async) stream of chunks, pulling a chunk only when a frame needs more bytes. */
export async function* decodeY4mChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: Y4mDecoderOptions = {}): AsyncGenerator<RgbFrame> {
  const decoder = new Y4mDecoder(options);
  for await (const chunk of chunks) {
    decoder.push(chunk);
    for (let frame = decoder.read(); frame; frame = decoder.read()) yield frame;
  }
  decoder.end();
  for (let frame = decoder.read(); frame; frame = decoder.read()) yield frame;
}

export interface Y4mWriteOptions extends ColorOptions {
  /** Default 4:2:0. */
  chroma?: ChromaFormat;
}

const CHROMA_HEADER: Record<ChromaFormat, string> = {
  // Chroma is averaged over its 2x2 block, i.e. sited at the block centre: that is 420jpeg.
  '420': 'C420jpeg',
  '422': 'C422',
  '444': 'C444',
};

/** Turns RGB frames into Y4M bytes: `header` once, then `frame(rgb)` per frame. */
export class Y4mEncoder {
  readonly header: Uint8Array;
  private readonly chroma: ChromaFormat;
  private readonly color: ColorOptions;

  constructor(
    private readonly info: Pick<VideoInfo, 'width' | 'height' | 'fps'> & Partial<Pick<VideoInfo, 'colorSpace' | 'colorRange'>>,
    options: Y4mWriteOptions = {},
  ) {
    if (
      !Number.isInteger(info.width) ||
      !Number.isInteger(info.height) ||
      info.width <= 0 ||
      info.height <= 0 ||
      info.width > Y4M_LIMITS.maxDimension ||
      info.height > Y4M_LIMITS.maxDimension
    ) {
      throw new NervError('BAD_ARGUMENT', `Y4M: cannot write a ${info.width}x${info.height} video`);
    }
    const { num, den } = info.fps;
    if (!Number.isInteger(num) || !Number.isInteger(den) || num <= 0 || den <= 0) {
      throw new NervError('BAD_ARGUMENT', `Y4M: frame rate must be positive integers num/den, got ${num}/${den}`);
    }
    this.chroma = options.chroma ?? '420';
    if (!CHROMA_HEADER[this.chroma]) throw new NervError('BAD_ARGUMENT', `Y4M: unknown chroma format '${this.chroma}' (420, 422, 444)`);
    this.color = {
      colorSpace: options.colorSpace ?? info.colorSpace ?? 'bt601',
      colorRange: options.colorRange ?? info.colorRange ?? 'limited',
    };
    const tags = ['YUV4MPEG2', `W${info.width}`, `H${info.height}`, `F${num}:${den}`, 'Ip', 'A1:1', CHROMA_HEADER[this.chroma]];
    // ffmpeg rejects headers over 96 bytes, so only the non-default tags are written.
    if (this.color.colorRange === 'full') tags.push('XCOLORRANGE=FULL');
    if (this.color.colorSpace === 'bt709') tags.push('XCOLORMATRIX=BT709');
    this.header = asciiBytes(tags.join(' ') + '\n');
  }

  /** One frame: 'FRAME\n' followed by the Y, U, V planes. */
  frame(rgb: RgbFrame): Uint8Array {
    assertRgbFrame(rgb);
    if (rgb.width !== this.info.width || rgb.height !== this.info.height) {
      throw new NervError('BAD_ARGUMENT', `Y4M: frame is ${rgb.width}x${rgb.height}, the stream is ${this.info.width}x${this.info.height}`);
    }
    // Frames that carry their Y'CbCr samples (read from Y4M, or decoded from a yuv420 .nerv) are written as they are.
    if (rgb.yuv?.chroma === this.chroma) return this.frameYuv(rgb.yuv);
    return this.frameYuv(rgbToYuv(rgb, this.chroma, this.color));
  }

  frameYuv(yuv: YuvFrame): Uint8Array {
    if (yuv.width !== this.info.width || yuv.height !== this.info.height || yuv.chroma !== this.chroma) {
      throw new NervError(
        'BAD_ARGUMENT',
        `Y4M: frame is ${yuv.width}x${yuv.height} ${yuv.chroma}, the stream is ${this.info.width}x${this.info.height} ${this.chroma}`,
      );
    }
    const out = new Uint8Array(FRAME_LINE.length + yuv.y.length + yuv.u.length + yuv.v.length);
    out.set(FRAME_LINE, 0);
    out.set(yuv.y, FRAME_LINE.length);
    out.set(yuv.u, FRAME_LINE.length + yuv.y.length);
    out.set(yuv.v, FRAME_LINE.length + yuv.y.length + yuv.u.length);
    return out;
  }
}

const FRAME_LINE = asciiBytes('FRAME\n');

function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Encodes frames into one Y4M byte array (for small clips; stream with Y4mEncoder otherwise). */
export function encodeY4m(
  info: Pick<VideoInfo, 'width' | 'height' | 'fps'> & Partial<Pick<VideoInfo, 'colorSpace' | 'colorRange'>>,
  frames: Iterable<RgbFrame>,
  options: Y4mWriteOptions = {},
): Uint8Array {
  const encoder = new Y4mEncoder(info, options);
  const parts = [encoder.header];
  for (const frame of frames) parts.push(encoder.frame(frame));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}
