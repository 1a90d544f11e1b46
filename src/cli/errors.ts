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

/** `--help`'s account of the exit statuses (kept beside EXIT_CODES so the two cannot drift apart). */
export const EXIT_STATUS_HELP = `Exit status:
  0    success
  ${EXIT_CODES.INTERNAL}    internal error (a bug: please report it, with NERVKIT_DEBUG=1 output)
  ${EXIT_CODES.USAGE}    usage: an unknown, invalid or conflicting option or argument
  ${EXIT_CODES.IO}    a file problem: input missing, unreadable or unsupported; output exists (without -y),
       its directory missing or not writable, or it is the input
  ${EXIT_CODES.FORMAT}    corrupt or unsupported .nerv file
  ${EXIT_CODES.NO_GPU}    no WebGPU adapter, or the adapter failed
  ${EXIT_CODES.NO_FFMPEG}    ffmpeg needed (for this container or for scaling) but not found
  ${EXIT_CODES.TRAINING}    training diverged
  130  interrupted (Ctrl-C, SIGINT): nothing half-written is left behind
  143  terminated (SIGTERM): the same`;

export const OUTPUT_HELP = `Output files:
  An existing output is refused unless -y (overwrite) is given; -n says "never overwrite" explicitly.
  The output is checked before any work: its directory must exist and be writable, and it may not
  be one of the inputs (same path, symlink or hard link), even with -y. Files are written under a
  temporary name and renamed at the end, so a failed or interrupted command leaves no partial file.
  '-' is stdin/stdout: encode reads Y4M from '-i -' and writes .nerv to '-o -'; decode writes Y4M to
  '-o -' (or reads .nerv from '-i -'). When stdout carries data, progress and summaries go to stderr.`;

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
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'EPERM' || code === 'ENOSPC' || code === 'EPIPE') {
    // A file error no command wrapped: name the file in words rather than Node's "ENOENT: no such...".
    const path = (error as NodeJS.ErrnoException).path;
    process.stderr.write(`nervkit: ${path ? `${path}: ` : ''}${describeFsError(error)}\n`);
    return EXIT_CODES.IO;
  }
  process.stderr.write(`nervkit: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT_CODES.INTERNAL;
}

/** Words for the errno codes users meet, instead of Node's "ENOENT: no such file or directory, open 'x'". */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const words: Record<string, string> = {
    ENOENT: 'not found',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENOSPC: 'no space left on the device',
    EROFS: 'read-only file system',
  };
  return (code && words[code]) ?? (error instanceof Error ? error.message : String(error));
}
