// Durable files: the one home for how a write survives a crash or a power cut. Every module that must not
// lose or tear what it wrote (the event outbox and its cursor, the subscriber's index, export's manifest, the
// segment store's moves) goes through these, so the fsync order is written once.
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** The file operations a durable write is made of, injectable so that tests can watch (or interrupt) the order. */
export interface DurableFs {
  /** Writes the whole file and fsyncs it. */
  writeSynced(file: string, data: string | Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** fsyncs a directory, so that a create, rename or delete in it survives a power cut. */
  syncDir(dir: string): Promise<void>;
  /** Removes a file; one already gone is fine. */
  unlink(file: string): Promise<void>;
}

/** fsyncs a directory, so that a create, rename or delete in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` through one handle opened with `flags` ('w' replaces, 'a' appends) and fsyncs it before closing. */
async function writeThenSync(file: string, flags: 'w' | 'a', data: string | Uint8Array): Promise<void> {
  const handle = await open(file, flags);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export const diskFs: DurableFs = {
  writeSynced: (file, data) => writeThenSync(file, 'w', data),
  rename,
  syncDir,
  async unlink(file) {
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  },
};

/** The temporary name `replaceFile` writes before the rename: readers of a folder skip names ending so. */
export const TEMPORARY_SUFFIX = '.tmp';

/**
 * Replaces `file` with `data` so that after a crash at any point it holds either its old content or the new,
 * whole: the data goes to `<file>.tmp` and is fsynced, renamed over `file`, and the folder is fsynced. Once
 * this resolves the new content survives a power cut.
 */
export async function replaceFile(file: string, data: string | Uint8Array, fs: DurableFs = diskFs): Promise<void> {
  const tmp = `${file}${TEMPORARY_SUFFIX}`;
  await fs.writeSynced(tmp, data);
  await fs.rename(tmp, file);
  await fs.syncDir(path.dirname(file));
}

/**
 * Appends `text` to `file` (created if missing) and fsyncs: once this resolves, it survives a power cut.
 * O_APPEND, so concurrent writers never overwrite each other's lines.
 */
export async function appendSynced(file: string, text: string): Promise<void> {
  await writeThenSync(file, 'a', text);
}

/**
 * Puts a finished file (a download, a remux) under its final name durably: its content is fsynced, it is renamed
 * over `to`, and the folder is fsynced. After a crash `to` is either absent (or its old self) or whole.
 */
export async function commitFile(from: string, to: string, fs: DurableFs = diskFs): Promise<void> {
  const handle = await open(from, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(from, to);
  await fs.syncDir(path.dirname(to));
}
