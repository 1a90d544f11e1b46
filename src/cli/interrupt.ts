// Ctrl-C and `kill` for every command: put the terminal back, delete what the command had only
// half made, say in one line what was lost, and exit with the shell's status for the signal.
//
// Commands describe themselves as they go: setInterruptProgress says how far they got ("after 3 of
// 8 groups"), addInterruptNote adds consequences or advice ("nothing was written to out.nerv"; a
// resumable encode adds how to resume), onInterrupt registers synchronous clean-up actions.
import { removeTempFilesSync } from '../format/atomic.ts';

export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
export type InterruptSignal = keyof typeof SIGNAL_EXIT_CODES;

type Describe = () => string | undefined;

const cleanups = new Set<() => void>();
const notes = new Set<Describe>();
let progress: Describe = () => undefined;

/** Runs `cleanup` (synchronously: the process exits right after) if a signal arrives; returns an unregister function. */
export function onInterrupt(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** How far the command got, e.g. "after 3 of 8 groups"; read when the signal arrives. */
export function setInterruptProgress(describe: Describe): void {
  progress = describe;
}

/** One clause of the message after the progress, e.g. "nothing was written to out.nerv". */
export function addInterruptNote(describe: Describe): () => void {
  notes.add(describe);
  return () => notes.delete(describe);
}

/** The one line printed for `signal`, from what the running command registered. */
export function interruptMessage(signal: InterruptSignal): string {
  const done = safely(progress);
  const clauses = [...notes].map(safely).filter((c): c is string => !!c);
  const head = `nervkit: ${signal === 'SIGINT' ? 'interrupted' : 'terminated'}${done ? ` ${done}` : ''}`;
  return [head, ...clauses].join('; ');
}

/**
 * Cursor shown, line wrap on. cli-progress hides the cursor and turns wrapping off while a bar runs,
 * and a process that exits from a signal handler never reaches the bar's own stop().
 */
export function restoreTerminal(stream: NodeJS.WriteStream = process.stderr): void {
  if (stream.isTTY) stream.write('\r\x1b[2K\x1b[?25h\x1b[?7h');
}

export interface InterruptHandlerOptions {
  stderr?: NodeJS.WriteStream;
  /** How to end the process; default: end by the signal itself (see below). */
  exit?: (signal: InterruptSignal) => void;
}

/**
 * Ends the process by the signal itself, as a shell expects of a program that caught it (the shell
 * then reports 130 or 143): with our listeners gone Node's own handler takes over and re-raises it.
 * process.exit() instead would run Dawn's exit-time destructors while its threads still work on the
 * GPU queue, which crashes (SIGSEGV) mid-training.
 */
function endBySignal(signal: InterruptSignal): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

/** Installs the SIGINT/SIGTERM handlers (once per process); returns a function that removes them. */
export function installInterruptHandlers(options: InterruptHandlerOptions = {}): () => void {
  const stderr = options.stderr ?? process.stderr;
  const exit = options.exit ?? endBySignal;
  let handling = false;
  const handle = (signal: InterruptSignal) => {
    // A second Ctrl-C while cleaning up means "now": skip straight to the exit.
    if (handling) return exit(signal);
    handling = true;
    restoreTerminal(stderr);
    for (const cleanup of [...cleanups].reverse()) {
      try {
        cleanup();
      } catch {
        /* the others still run */
      }
    }
    removeTempFilesSync();
    stderr.write(`${interruptMessage(signal)}\n`);
    exit(signal);
  };
  const onSigint = () => handle('SIGINT');
  const onSigterm = () => handle('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  return () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  };
}

/** Forgets every registration (between commands run in one process, as tests do). */
export function resetInterruptState(): void {
  cleanups.clear();
  notes.clear();
  progress = () => undefined;
}

function safely(describe: Describe): string | undefined {
  try {
    return describe();
  } catch {
    return undefined;
  }
}
