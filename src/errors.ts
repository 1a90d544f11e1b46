/**
 * Every error nervkit throws on purpose is a NervError with a stable `code`,
 * so callers (and the CLI's exit codes) can branch on the kind of failure.
 */
export type NervErrorCode =
  | 'NO_GPU' // no WebGPU adapter could be found or created
  | 'GPU' // the adapter failed at run time (device lost, validation error)
  | 'BAD_ARGUMENT' // a caller passed an invalid value (size, option)
  | 'BAD_INPUT' // an input video is unreadable or unsupported
  | 'FORMAT' // a .nerv file is corrupt, truncated or unsupported
  | 'NO_FFMPEG' // a container needs ffmpeg and none is on the PATH
  | 'IO' // a file could not be read or written
  | 'TRAINING'; // training diverged beyond recovery

export class NervError extends Error {
  readonly code: NervErrorCode;
  constructor(code: NervErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class NoGpuError extends NervError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NO_GPU', message, options);
  }
}

export class BadArgumentError extends NervError {
  constructor(message: string) {
    super('BAD_ARGUMENT', message);
  }
}

/**
 * What exactly is wrong with a .nerv file. Stable strings: tests, the CLI and players branch on them
 * (e.g. a player treats 'truncated' as "wait for more bytes" only through readNervPrefix, never here).
 */
export type NervFormatErrorKind =
  | 'magic' // not a .nerv file
  | 'version' // a format version or flag this decoder does not know
  | 'truncated' // the file ends before a structure it declares
  | 'header-crc' // header checksum mismatch
  | 'index-crc' // group index checksum mismatch
  | 'chunk-crc' // a group chunk's checksum mismatch (group and offset are set)
  | 'header' // a header field has an invalid value (colour space, JSON, duplicate name...)
  | 'index' // the group index is inconsistent (offsets not contiguous, first group not key...)
  | 'chunk' // a group chunk's structure is invalid (group and offset are set)
  | 'limits' // a dimension, count or length beyond the format's fixed limits
  | 'trailing' // bytes after the last chunk
  | 'entropy'; // an entropy-coded payload does not decode (group and offset are set when known)

export class NervFormatError extends NervError {
  readonly kind: NervFormatErrorKind;
  /** Group (chunk) index the error was found in, when it is about a chunk. */
  readonly group: number | undefined;
  /** Absolute byte offset in the file (or in the payload, for a bare decodeTensor) near the problem. */
  readonly offset: number | undefined;

  constructor(kind: NervFormatErrorKind, message: string, details: { group?: number; offset?: number; cause?: unknown } = {}) {
    super('FORMAT', message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.group = details.group;
    this.offset = details.offset;
  }
}
