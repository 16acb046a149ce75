import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

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
