// Where commands read and write: positional or -i/-o arguments, `-` for stdin/stdout, and the checks
// that run before any work so that hours of training never end in "cannot write".
import { constants as fsConstants } from 'node:fs';
import { access, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { NervError } from '../errors.ts';
import { formatPattern, isImagePattern } from '../video/node-io.ts';
import { describeFsError, UsageError } from './errors.ts';

/** `-` stands for stdin (inputs) or stdout (outputs), as in ffmpeg. */
export const STDIO = '-';

/** What to do with an output that already exists: refuse (the default), overwrite (-y), never (-n). */
export type Overwrite = 'refuse' | 'overwrite' | 'never';

export function overwriteFrom(flags: { yes?: boolean; neverOverwrite?: boolean }): Overwrite {
  return flags.yes ? 'overwrite' : flags.neverOverwrite ? 'never' : 'refuse';
}

/** The one value of a slot given positionally or by its option; both, when they differ, is a usage error. */
export function pick(what: string, positional: string | undefined, option: string | undefined, optionName: string): string {
  if (positional !== undefined && option !== undefined && positional !== option) {
    throw new UsageError(`${what} given twice: '${positional}' and ${optionName} '${option}'; give it once`);
  }
  const value = positional ?? option;
  if (value === undefined) throw new UsageError(`missing ${what} (positional, or ${optionName})`);
  return value;
}

/** The bytes of a file (or all of stdin for `-`), or an IO error naming it. */
export async function readNerv(path: string): Promise<Uint8Array> {
  if (path === STDIO) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new NervError('IO', `cannot read ${path}: ${describeFsError(cause)}`, { cause });
  }
}

/** Prefixes a NervError that does not name `path` with it (parse errors do not know the file name). */
export function naming(path: string, error: unknown): unknown {
  if (error instanceof NervError && !error.message.includes(path)) {
    return new NervError(error.code, `${path === STDIO ? 'stdin' : path}: ${error.message}`, { cause: error });
  }
  return error;
}

export interface OutputCheck {
  /** Files the command reads: the output may not be one of them, whatever -y says. */
  inputs: string[];
  overwrite: Overwrite;
}

/**
 * Fails (IO) unless `output` can be written at the end: its directory exists and is writable, it is
 * not an input (same path, symlink or hard link), and it does not exist unless overwriting. For a
 * PNG pattern the first frame's file stands for the sequence.
 */
export async function checkOutput(output: string, check: OutputCheck): Promise<void> {
  if (output === STDIO) return;
  const target = isImagePattern(output) ? formatPattern(output, 1) : output;
  const directory = dirname(resolve(target));
  const fail = (reason: string, cause?: unknown) => {
    throw new NervError('IO', `cannot write ${output}: ${reason}`, { cause });
  };
  const dirStat = await stat(directory).catch((cause: unknown) => fail(`directory ${directory} ${describeFsError(cause)}`, cause));
  if (!dirStat.isDirectory()) fail(`${directory} is not a directory`);
  await access(directory, fsConstants.W_OK).catch((cause: unknown) => fail(`directory ${directory} is not writable`, cause));
  const existing = await stat(target).catch(() => undefined);
  if (!existing) return;
  if (existing.isDirectory()) fail('it is a directory');
  for (const input of check.inputs) {
    if (input === STDIO) continue;
    const source = await stat(input).catch(() => undefined);
    const sameInode = source && source.dev === existing.dev && source.ino === existing.ino;
    const samePath = (await realpath(input).catch(() => input)) === (await realpath(target).catch(() => target));
    if (sameInode || samePath) throw new NervError('IO', `${output} is the input file ${input}; choose another output name`);
  }
  if (check.overwrite === 'refuse') throw new NervError('IO', `${output} already exists (pass -y to overwrite it)`);
  if (check.overwrite === 'never') throw new NervError('IO', `${output} already exists (not overwritten: -n)`);
}

export interface InOutFlags {
  input?: string;
  output?: string;
  yes?: boolean;
  neverOverwrite?: boolean;
}

/** IN and OUT, positional or -i/-o, with the output checked before any work; `what` the output holds. */
export async function inputAndOutput(inputArg: string | undefined, outputArg: string | undefined, flags: InOutFlags, what: string) {
  const input = pick('input', inputArg, flags.input, '-i');
  const output = pick('output', outputArg, flags.output, '-o');
  refuseBinaryToTerminal(output, what);
  await checkOutput(output, { inputs: [input], overwrite: overwriteFrom(flags) });
  return { input, output };
}

/** Binary output on a terminal helps nobody and can garble it: refuse, as gzip does. */
export function refuseBinaryToTerminal(output: string, what: string): void {
  if (output === STDIO && process.stdout.isTTY) {
    throw new UsageError(`refusing to write ${what} to a terminal: redirect stdout (> file) or pipe it, or name an output file`);
  }
}
