/**
 * Node edge: crash-safe file output. A reader (or a crash) never sees a half-written .nerv under the
 * final name: bytes go to a temporary file in the same directory (rename is atomic only within one
 * file system), are fsynced, then renamed over the target; the directory is fsynced so the rename
 * itself survives a power cut. On any failure the temporary file is removed and the error is an
 * IO NervError naming the path.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { NervError } from '../errors.ts';

export interface AtomicWriteOptions {
  /**
   * false: fail with an IO error if `path` exists when the write completes (checked atomically with
   * a hard link, so a file created meanwhile by someone else is never replaced). Default true.
   */
  overwrite?: boolean;
}

/**
 * Temporary paths this process has created and not yet renamed or removed, so that an interrupted
 * command (src/cli/interrupt.ts) can delete them synchronously before it exits.
 */
const liveTemps = new Set<string>();

/**
 * A fresh temporary name beside `path` (rename is atomic only within one file system). With
 * `keepExtension` the name ends in path's extension, for tools such as ffmpeg that pick the format
 * from it. The name is registered as live until `release` is called.
 */
export function tempPathFor(path: string, keepExtension = false): { temp: string; release: () => void } {
  const ext = keepExtension ? extname(path) : '';
  const temp = join(dirname(path), `.${basename(path, ext)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp${ext}`);
  liveTemps.add(temp);
  return { temp, release: () => liveTemps.delete(temp) };
}

/** Deletes every live temporary file (and directory) of this process; for exit paths, hence synchronous. */
export function removeTempFilesSync(): string[] {
  const removed = [...liveTemps];
  for (const temp of removed) {
    try {
      rmSync(temp, { recursive: true, force: true });
    } catch {
      /* best effort: the process is exiting */
    }
  }
  liveTemps.clear();
  return removed;
}

/** Registers a temporary path made elsewhere (a directory from mkdtemp) for removeTempFilesSync. */
export function trackTempPath(path: string): () => void {
  liveTemps.add(path);
  return () => liveTemps.delete(path);
}

function existsError(path: string, cause?: unknown): NervError {
  return new NervError('IO', `${path} already exists`, { cause });
}

/**
 * Moves a finished temporary file to `path`: rename (replacing) when overwriting, else a hard link
 * that fails if `path` exists, then removal of the temporary name. File systems without hard links
 * fall back to check-then-rename.
 */
export async function commitTempFile(temp: string, path: string, overwrite: boolean): Promise<void> {
  if (overwrite) return rename(temp, path);
  try {
    await link(temp, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw existsError(path, error);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    if (
      await open(path, 'r').then(
        (h) => h.close().then(() => true),
        () => false,
      )
    )
      throw existsError(path);
    return rename(temp, path);
  }
  await unlink(temp);
}

function commitTempFileSync(temp: string, path: string, overwrite: boolean): void {
  if (overwrite) return renameSync(temp, path);
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw existsError(path, error);
    throw error;
  }
  unlinkSync(temp);
}

function ioError(path: string, error: unknown): NervError {
  if (error instanceof NervError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new NervError('IO', `cannot write ${path}: ${reason}`, { cause: error });
}

async function syncDirectory(directory: string): Promise<void> {
  // Some platforms (Windows) cannot open a directory for fsync: the rename is still atomic there.
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* best effort */
  }
}

export async function writeFileAtomic(path: string, bytes: Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const { temp, release } = tempPathFor(path);
  let created = false;
  try {
    const handle = await open(temp, 'wx', 0o644);
    created = true;
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await commitTempFile(temp, path, options.overwrite ?? true);
    created = false;
  } catch (error) {
    if (created) await unlink(temp).catch(() => undefined);
    throw ioError(path, error);
  } finally {
    release();
  }
  await syncDirectory(dirname(path));
}

/** Synchronous twin of writeFileAtomic (for CLI exit paths). */
export function writeFileAtomicSync(path: string, bytes: Uint8Array, options: AtomicWriteOptions = {}): void {
  const { temp, release } = tempPathFor(path);
  let created = false;
  try {
    const fd = openSync(temp, 'wx', 0o644);
    created = true;
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    commitTempFileSync(temp, path, options.overwrite ?? true);
    created = false;
  } catch (error) {
    if (created) {
      try {
        unlinkSync(temp);
      } catch {
        /* already gone */
      }
    }
    throw ioError(path, error);
  } finally {
    release();
  }
  try {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort, see syncDirectory */
  }
}
