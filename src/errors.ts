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
