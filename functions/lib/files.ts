import { createHash, type Hash } from 'node:crypto';
import { link, open, rename, stat, unlink } from 'node:fs/promises';

/** Read size for hashing: an hour of 4 Mbit/s video (1.8 GB) in ~1,700 reads, all into one reused buffer. */
const HASH_CHUNK = 1024 * 1024;

/** Feeds a whole file into a SHA-256 (a fresh one, or one already holding a prefix, for resumed copies). */
export async function sha256OfFile(file: string, hash: Hash = createHash('sha256')): Promise<Hash> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(HASH_CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, HASH_CHUNK, null);
      if (bytesRead === 0) return hash;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/** DNS-1123 label: what Kubernetes accepts as a device, namespace or object name. */
export const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Link errors of file systems without hard links (some FUSE, SMB and FAT mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * Renames `from` to `to` in the same file system, but never over an existing file (rename(2) would replace
 * it silently): link(2) fails with EEXIST instead. Rejects with EEXIST when `to` exists. A crash between the
 * link and the unlink leaves both names on one inode, which the caller can recognise by `ino`.
 */
export async function moveNoReplace(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!NO_HARD_LINKS.has(code)) throw err;
    // No hard links here: check, then rename (a window only another writer of the same folder could use).
    const taken = await stat(to).then(
      () => true,
      () => false,
    );
    if (taken) throw Object.assign(new Error(`EEXIST: file already exists, rename '${from}' -> '${to}'`), { code: 'EEXIST' });
    await rename(from, to);
    return;
  }
  await unlink(from);
}
