// Runs the real bin entry (bin/nervkit.js) in a child process (to completion here, or to watch and
// signal: nervkit.ts), and makes temporary folders that the test file removes when it ends.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeY4m } from '../../src/video/y4m.ts';
import { BIN } from './nervkit.ts';

export { BIN, startNervkit, type Running } from './nervkit.ts';

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** All of stderr, untouched. */
  stderr: string;
  /** stderr's lines that nervkit wrote as messages ("nervkit: ..."). */
  messages: string[];
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: Buffer | string;
  cwd?: string;
  encoding?: 'utf8' | 'buffer';
}

export function nervkit(args: string[], options: RunOptions = {}): Promise<Run & { stdoutBytes: Buffer }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...options.env }, cwd: options.cwd, timeout: 480_000, encoding: 'buffer', maxBuffer: 1 << 26 },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        const code = failure ? (typeof failure.code === 'number' ? failure.code : null) : 0;
        const text = stderr.toString('utf8');
        resolve({
          code,
          signal: failure?.signal ?? null,
          stdout: stdout.toString('utf8'),
          stdoutBytes: stdout,
          stderr: text,
          messages: text.split('\n').filter((l) => l.startsWith('nervkit:')),
        });
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
  });
}

/** A fresh folder under the system's temp dir, removed after the test file's last test. */
export function tempDir(prefix = 'nervkit-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
const made: string[] = [];
test.after.always(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A moving gradient clip, 32x24, 4 frames unless told, written as Y4M 4:2:0 into `dir`. */
export function tinyClip(dir: string, name = 'clip.y4m', count = 4): string {
  const [width, height] = [32, 24];
  const frames = Array.from({ length: count }, (_, t) => {
    const data = new Float32Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        data[i] = (x + t) / (width + 4);
        data[i + 1] = y / height;
        data[i + 2] = 0.5 + 0.3 * Math.sin((x - 2 * t) / 3);
      }
    }
    return { width, height, data };
  });
  const path = join(dir, name);
  writeFileSync(path, encodeY4m({ width, height, fps: { num: 12, den: 1 }, colorSpace: 'bt601' }, frames));
  return path;
}

/** Third-party lines that must never reach a user's stderr (Dawn, the Vulkan loader, Wayland). */
export const NOISE = /^Warning:|InitializeImpl|XDG_RUNTIME_DIR|shaderUniform|^ - While/m;
