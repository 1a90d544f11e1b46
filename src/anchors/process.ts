// Node edge. Child processes for the anchors and the benches: run a command, capture its output, time it.
import { spawn } from 'node:child_process';
import { NervError } from '../errors.ts';

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Wall-clock seconds from spawn to exit. */
  seconds: number;
}

/** A command that could not start (NO_FFMPEG: the anchors' only command is ffmpeg) or exited non-zero (IO). */
export class CommandError extends NervError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    const lastLines = stderr.trim().split('\n').slice(-5).join('\n  ');
    super(exitCode === null ? 'NO_FFMPEG' : 'IO', `command failed (exit ${exitCode}): ${command}${lastLines ? `\n  ${lastLines}` : ''}`);
  }
}

/**
 * Runs `command args`, resolving with its output, or rejecting with CommandError on a non-zero exit.
 * Aborting `signal` terminates the child (SIGTERM), so that an interrupted bench leaves no encode running.
 */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<RunResult> {
  const started = performance.now();
  const printable = [command, ...args].map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (error) => reject(new CommandError(printable, null, error.message)));
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== 0) reject(new CommandError(printable, code, stderr || stdout));
      else resolve({ stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}
