import { NervError, type NervErrorCode } from '../errors.ts';

/** Exit status per kind of failure, so scripts can tell a bad flag from a corrupt file or a missing GPU. */
export const EXIT_CODES: Record<NervErrorCode | 'USAGE' | 'INTERNAL', number> = {
  INTERNAL: 1,
  USAGE: 2,
  BAD_ARGUMENT: 2,
  BAD_INPUT: 3,
  IO: 3,
  FORMAT: 4,
  NO_GPU: 5,
  GPU: 5,
  NO_FFMPEG: 6,
  TRAINING: 7,
};

export class UsageError extends NervError {
  constructor(message: string) {
    super('BAD_ARGUMENT', message);
  }
}

/** One line on stderr and the exit status for `error`; a stack only for bugs (or with NERVKIT_DEBUG=1). */
export function reportError(error: unknown): number {
  if (error instanceof NervError) {
    process.stderr.write(`nervkit: ${error.message}\n`);
    if (process.env.NERVKIT_DEBUG === '1') process.stderr.write(`${error.stack}\n`);
    return EXIT_CODES[error.code];
  }
  const code = (error as { code?: string })?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) return EXIT_CODES.USAGE; // commander printed it
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    process.stderr.write(`nervkit: ${(error as Error).message}\n`);
    return EXIT_CODES.IO;
  }
  process.stderr.write(`nervkit: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT_CODES.INTERNAL;
}
