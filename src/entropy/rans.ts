/**
 * A 32-bit rANS coder for symbols whose distribution changes from one symbol to the next (the
 * latents, each under its own predicted Laplace). Same arithmetic as the per-tensor coder
 * (src/entropy/tensor.ts): state in [2^23, 2^31), byte-wise renormalisation, probabilities as
 * integer frequencies over 2^p (p = 15 for modelled symbols, p = k for k raw bits). The encoder
 * records symbols first to last and codes them last to first, so the decoder reads forward.
 */
import { NervFormatError } from '../errors.ts';

const LOWER = 1 << 23;
const STATE_LIMIT = 2 ** 31;
/** finish() ends every stream with the coder's 32-bit state: a fixed cost beyond the symbols' code lengths. */
export const RANS_STATE_BYTES = 4;

const entropyError = (message: string, offset: number): NervFormatError => new NervFormatError('entropy', `${message} (payload byte ${offset})`, { offset });

export class RansWriter {
  private starts = new Int32Array(1024);
  private freqs = new Int32Array(1024);
  private precisions = new Uint8Array(1024);
  private count = 0;
  /** Ideal code length of what was put so far, in bits. */
  bits = 0;

  /** A symbol occupying [start, start + freq) of 2^precision. */
  put(start: number, freq: number, precision: number): void {
    if (this.count === this.starts.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T): T => {
        const next = new (a.constructor as new (n: number) => T)(a.length * 2);
        next.set(a);
        return next;
      };
      this.starts = grow(this.starts);
      this.freqs = grow(this.freqs);
      this.precisions = grow(this.precisions);
    }
    this.starts[this.count] = start;
    this.freqs[this.count] = freq;
    this.precisions[this.count] = precision;
    this.count++;
    this.bits += precision - Math.log2(freq);
  }

  /** k raw bits (k <= 15), uniform. */
  putBits(value: number, k: number): void {
    if (k > 0) this.put(value, 1, k);
  }

  finish(): Uint8Array {
    let capacity = Math.max(64, Math.ceil(this.bits / 8) + 64);
    let buffer = new Uint8Array(capacity);
    let p = capacity;
    let x = LOWER;
    for (let i = this.count - 1; i >= 0; i--) {
      if (p < 8) {
        const grown = new Uint8Array(capacity * 2);
        grown.set(buffer.subarray(p), capacity * 2 - (capacity - p));
        p += capacity;
        capacity *= 2;
        buffer = grown;
      }
      const f = this.freqs[i];
      const precision = this.precisions[i];
      const bound = f * 2 ** (31 - precision);
      while (x >= bound) {
        buffer[--p] = x & 0xff;
        x >>>= 8;
      }
      const q = Math.floor(x / f);
      x = q * 2 ** precision + (x - q * f) + this.starts[i];
    }
    buffer[--p] = x >>> 24;
    buffer[--p] = (x >>> 16) & 0xff;
    buffer[--p] = (x >>> 8) & 0xff;
    buffer[--p] = x & 0xff;
    return buffer.slice(p);
  }
}

export class RansReader {
  private x: number;
  private pos: number;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    if (end - start < 4) throw entropyError('rANS stream shorter than its 4-byte state', start);
    this.x = (bytes[start] | (bytes[start + 1] << 8) | (bytes[start + 2] << 16) | (bytes[start + 3] << 24)) >>> 0;
    if (this.x < LOWER || this.x >= STATE_LIMIT) throw entropyError(`invalid initial rANS state ${this.x}`, start);
    this.pos = start + 4;
  }

  /** The slot of the next symbol under 2^precision; call advance() with its interval next. */
  peek(precision: number): number {
    return this.x & ((1 << precision) - 1);
  }

  advance(start: number, freq: number, precision: number): void {
    this.x = freq * (this.x >>> precision) + (this.x & ((1 << precision) - 1)) - start;
    while (this.x < LOWER) {
      if (this.pos >= this.end) throw entropyError('rANS stream ends early', this.pos);
      this.x = ((this.x << 8) | this.bytes[this.pos++]) >>> 0;
    }
  }

  /** k raw bits (k <= 15). */
  bits(k: number): number {
    if (k === 0) return 0;
    const value = this.peek(k);
    this.advance(value, 1, k);
    return value;
  }

  /** Every byte used and the final state back at its start value: the stream was intact. */
  finish(): void {
    if (this.x !== LOWER) throw entropyError('rANS final state mismatch (corrupt payload)', this.pos);
    if (this.pos !== this.end) throw entropyError(`${this.end - this.pos} unused bytes after the rANS stream`, this.pos);
  }
}
