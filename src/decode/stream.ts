// Progressive .nerv download for players: the header and index are parsed (by the format module's
// readNervPrefix) as soon as their bytes arrive, and group k becomes decodable once its chunk has
// arrived, while later chunks are still in flight. Runtime-neutral (fetch streams exist in browsers,
// Deno and Node 18+).
import { NervError } from '../errors.ts';
import { NervFormatError, readNervPrefix, type NervPrefix } from '../format/index.ts';

export interface StreamProgress {
  loaded: number;
  /** File size, known once the index has arrived. */
  total: number | undefined;
  /** Chunks 0..groupsReady-1 have fully arrived. */
  groupsReady: number;
}

export interface NervStreamOptions {
  /** Called whenever bytes arrive (and once more when the download ends). */
  onProgress?: (progress: StreamProgress) => void;
  signal?: AbortSignal;
}

type Waiter = { group: number; resolve: () => void; reject: (error: unknown) => void };

/**
 * A .nerv file arriving over a stream. `bytes` has the file's final size from the moment the prefix
 * is known (so `open(stream.bytes)` works at once) and fills in as chunks arrive: decode group k only
 * after `waitForGroup(k)` resolves.
 */
export class NervStream {
  readonly prefix: NervPrefix;
  readonly bytes: Uint8Array;
  private received: number;
  private failure: unknown;
  private finished = false;
  private readonly waiters: Waiter[] = [];
  private readonly chunkEnds: number[];
  /** Resolves when the whole file has arrived; rejects on a network error, truncation or trailing bytes. */
  readonly done: Promise<void>;

  private constructor(
    prefix: NervPrefix,
    head: Uint8Array,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly options: NervStreamOptions,
  ) {
    this.prefix = prefix;
    this.bytes = new Uint8Array(prefix.fileSize);
    this.chunkEnds = prefix.index.map((e) => prefix.dataStart + e.offset + e.size);
    this.received = 0;
    this.done = this.pump(head);
    this.done.catch(() => {}); // failures reach callers through waitForGroup and `done` itself
  }

  /**
   * Reads from `source` until the header and group index have arrived, then keeps downloading in the
   * background. Throws NervFormatError as soon as the first bytes are invalid.
   */
  static async open(source: Response | ReadableStream<Uint8Array> | Uint8Array, options: NervStreamOptions = {}): Promise<NervStream> {
    const stream = toStream(source);
    const reader = stream.getReader();
    const abort = () => reader.cancel(options.signal?.reason).catch(() => {});
    options.signal?.addEventListener('abort', abort, { once: true });
    let head: Uint8Array = new Uint8Array(0);
    let need = 0;
    try {
      for (;;) {
        if (head.length >= need) {
          const prefix = readNervPrefix(head);
          if (!('needBytes' in prefix)) return new NervStream(prefix, head, reader, options);
          need = prefix.needBytes;
        }
        const { value, done } = await reader.read();
        if (done) {
          throw new NervFormatError('truncated', `file is truncated: ${head.length} bytes, the header and index alone need ${need}`, { offset: head.length });
        }
        head = concat(head, value);
        options.onProgress?.({ loaded: head.length, total: undefined, groupsReady: 0 });
      }
    } catch (error) {
      reader.cancel().catch(() => {});
      throw wrapNetworkError(error);
    }
  }

  get loaded(): number {
    return this.received;
  }

  get complete(): boolean {
    return this.finished;
  }

  /** Number of leading chunks that have fully arrived. */
  get groupsReady(): number {
    let k = 0;
    while (k < this.chunkEnds.length && this.chunkEnds[k] <= this.received) k++;
    return k;
  }

  groupReady(k: number): boolean {
    return this.chunkEnds[k] !== undefined && this.chunkEnds[k] <= this.received;
  }

  /** Resolves once chunks 0..k have arrived (a group may be coded against its predecessors). */
  waitForGroup(k: number): Promise<void> {
    if (this.groupReady(k)) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ group: k, resolve, reject }));
  }

  /** Stops the download (waiters reject with an AbortError-like NervError). */
  cancel(reason?: unknown): void {
    this.reader.cancel(reason).catch(() => {});
  }

  private async pump(head: Uint8Array): Promise<void> {
    try {
      this.append(head);
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        this.append(value);
      }
      if (this.received < this.bytes.length) {
        const k = this.groupsReady;
        throw new NervFormatError('truncated', `file is truncated: ${this.received} bytes of ${this.bytes.length} (group ${k} incomplete)`, {
          offset: this.received,
          group: k,
        });
      }
      this.finished = true;
      this.report();
    } catch (error) {
      this.failure = wrapNetworkError(error);
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
      throw this.failure;
    }
  }

  private append(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.received + data.length > this.bytes.length) {
      throw new NervFormatError('trailing', `unexpected bytes after the last chunk (the file should be ${this.bytes.length} bytes)`, {
        offset: this.bytes.length,
      });
    }
    this.bytes.set(data, this.received);
    this.received += data.length;
    const ready = this.groupsReady;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].group < ready) this.waiters.splice(i, 1)[0].resolve();
    }
    this.report();
  }

  private report(): void {
    this.options.onProgress?.({ loaded: this.received, total: this.bytes.length, groupsReady: this.groupsReady });
  }
}

/** Fetches `url` and returns the stream once the header and index have arrived. */
export async function fetchNerv(url: string | URL, options: NervStreamOptions = {}): Promise<NervStream> {
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal });
  } catch (cause) {
    throw new NervError('IO', `cannot fetch ${String(url)}: ${(cause as Error).message}`, { cause });
  }
  if (!response.ok) throw new NervError('IO', `cannot fetch ${String(url)}: HTTP ${response.status} ${response.statusText}`.trim());
  return NervStream.open(response, options);
}

function toStream(source: Response | ReadableStream<Uint8Array> | Uint8Array): ReadableStream<Uint8Array> {
  if (source instanceof Uint8Array) {
    return new ReadableStream({
      start(controller) {
        controller.enqueue(source);
        controller.close();
      },
    });
  }
  if (source instanceof ReadableStream) return source;
  if (!source.body) throw new NervError('IO', 'the response has no body');
  return source.body;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function wrapNetworkError(error: unknown): unknown {
  if (error instanceof NervError) return error;
  return new NervError('IO', `download failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
