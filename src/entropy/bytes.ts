/** Little helpers for building and parsing byte strings with bounds checks and typed errors. */
import { NervFormatError, type NervFormatErrorKind } from '../errors.ts';

/** Growable little-endian byte builder. */
export class ByteWriter {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }
  u8(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }
  u16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, value, true);
    this.length += 2;
  }
  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }
  f32(value: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
  }
  /** Unsigned LEB128, value < 2^32. */
  varint(value: number): void {
    this.reserve(5);
    while (value >= 0x80) {
      this.buffer[this.length++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[this.length++] = value;
  }
  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }
  /** Overwrites 4 bytes already written (used for lengths known only later). */
  patchU32(at: number, value: number): void {
    this.view.setUint32(at, value, true);
  }
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/**
 * Bounds-checked little-endian reader over bytes[start, end). Every read that would pass `end`
 * throws a NervFormatError of the given kind; offsets in messages are absolute (`base` + position).
 */
export class ByteReader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
    readonly kind: NervFormatErrorKind,
    readonly base = 0,
    readonly group?: number,
  ) {
    this.pos = start;
  }
  fail(message: string, at = this.pos): never {
    throw new NervFormatError(this.kind, `${message} (byte offset ${this.base + at})`, { group: this.group, offset: this.base + at });
  }
  need(count: number, what: string): void {
    if (count > this.end - this.pos) this.fail(`${what}: needs ${count} bytes, only ${this.end - this.pos} left`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++];
  }
  u16(what: string): number {
    this.need(2, what);
    const b = this.bytes;
    const value = b[this.pos] | (b[this.pos + 1] << 8);
    this.pos += 2;
    return value;
  }
  u32(what: string): number {
    this.need(4, what);
    const b = this.bytes;
    const value = (b[this.pos] | (b[this.pos + 1] << 8) | (b[this.pos + 2] << 16) | (b[this.pos + 3] << 24)) >>> 0;
    this.pos += 4;
    return value;
  }
  f32(what: string): number {
    this.need(4, what);
    const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return value;
  }
  /** Unsigned LEB128: at most 5 bytes, value < 2^32, no redundant trailing zero byte. */
  varint(what: string): number {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const byte = this.u8(what);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) this.fail(`${what}: non-minimal varint`, start);
        if (value > 0xffffffff) this.fail(`${what}: varint exceeds 32 bits`, start);
        return value;
      }
      scale *= 128;
    }
    return this.fail(`${what}: varint longer than 5 bytes`, start);
  }
  take(count: number, what: string): Uint8Array {
    this.need(count, what);
    const out = this.bytes.subarray(this.pos, this.pos + count);
    this.pos += count;
    return out;
  }
}

/** LSB-first bit packing (bit i of the stream is bit (i mod 8) of byte floor(i / 8)). */
export class BitWriter {
  private bytes: number[] = [];
  private current = 0;
  private used = 0;
  bit(value: number): void {
    this.current |= (value & 1) << this.used;
    if (++this.used === 8) {
      this.bytes.push(this.current);
      this.current = 0;
      this.used = 0;
    }
  }
  /** Exp-Golomb order 0: z zeros, a one, then the z low bits of value+1 from the most significant. */
  expGolomb(value: number): void {
    const v = value + 1;
    const z = 31 - Math.clz32(v);
    for (let i = 0; i < z; i++) this.bit(0);
    this.bit(1);
    for (let i = z - 1; i >= 0; i--) this.bit((v >>> i) & 1);
  }
  /** Pads the last byte with zero bits. */
  finish(): Uint8Array {
    const out = this.bytes.slice();
    if (this.used > 0) out.push(this.current);
    return Uint8Array.from(out);
  }
  get bitLength(): number {
    return this.bytes.length * 8 + this.used;
  }
}

export class BitReader {
  private bitPos = 0;
  constructor(private readonly reader: ByteReader) {}
  bit(): number {
    const byteIndex = this.reader.pos + (this.bitPos >> 3);
    if (byteIndex >= this.reader.end) this.reader.fail('bit stream runs past the end of the payload', byteIndex);
    const value = (this.reader.bytes[byteIndex] >> (this.bitPos & 7)) & 1;
    this.bitPos++;
    return value;
  }
  expGolomb(maxZeros: number): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > maxZeros) this.reader.fail('Exp-Golomb code too long');
    }
    let v = 1;
    for (let i = 0; i < zeros; i++) v = (v << 1) | this.bit();
    return v - 1;
  }
  /** Skips the padding to the next byte boundary and hands the position back to the byte reader;
   * padding bits must be zero (one canonical encoding). */
  align(): void {
    while (this.bitPos & 7) if (this.bit() !== 0) this.reader.fail('non-zero padding bits');
    this.reader.pos += this.bitPos >> 3;
    this.bitPos = 0;
  }
}
