/**
 * Node edge: crash-safe file output. A reader (or a crash) never sees a half-written .nerv under the
 * final name: bytes go to a temporary file in the same directory (rename is atomic only within one
 * file system), are fsynced, then renamed over the target; the directory is fsynced so the rename
 * itself survives a power cut. On any failure the temporary file is removed and the error is an
 * IO NervError naming the path.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NervError } from '../errors.ts';

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function ioError(path: string, error: unknown): NervError {
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

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = tempPathFor(path);
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
    await rename(temp, path);
    created = false;
  } catch (error) {
    if (created) await unlink(temp).catch(() => undefined);
    throw ioError(path, error);
  }
  await syncDirectory(dirname(path));
}

/** Synchronous twin of writeFileAtomic (for CLI exit paths). */
export function writeFileAtomicSync(path: string, bytes: Uint8Array): void {
  const temp = tempPathFor(path);
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
    renameSync(temp, path);
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
