// The bin entry as a process to watch and signal (no AVA here: benches use it too).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'nervkit.js');

/** A running nervkit process: its stderr lines so far, a wait for a line, and its end. */
export interface Running {
  child: ChildProcess;
  stderr: string[];
  /** Resolves with the first stderr line (from index `from` on, seen already or later) matching `pattern`; rejects if the process ends first. */
  line(pattern: RegExp, from?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startNervkit(args: string[], options: { env?: Record<string, string | undefined> } = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout!.resume();
  child.stderr!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiters) wake();
  });
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      if (partial) lines.push(partial);
      ended = true;
      for (const wake of waiters) wake();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    stderr: lines,
    exited,
    line(pattern, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.slice(from).find((l) => pattern.test(l));
          if (found === undefined && !ended) return;
          waiters.delete(check);
          if (found !== undefined) resolve(found);
          else reject(new Error(`nervkit ${args[0]} ended without printing ${pattern}:\n${lines.join('\n')}`));
        };
        waiters.add(check);
        check();
      });
    },
  };
}
