// A real, small file system for the tests of a volume that fills up: retention, free-space floors and ENOSPC are
// only honest on a volume that really fills. Mounting takes root.
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A fresh tmpfs of `size` (mount's notation, e.g. `64m`) on a new folder under the OS temp dir. */
export async function mountTmpfs(prefix: string, size = '64m'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return dir;
}

export async function unmountTmpfs(dir: string): Promise<void> {
  execFileSync('umount', ['-l', dir]);
  await rm(dir, { recursive: true, force: true });
}

/** Writes zeros to `file` until its file system holds only `leaveBytes` more (0: completely full). */
export async function fillVolume(file: string, leaveBytes: number): Promise<void> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) {
      const s = await statfs(path.dirname(file));
      const free = s.bavail * s.bsize - leaveBytes;
      if (free <= 0) break;
      await handle.write(chunk, 0, Math.min(chunk.length, free));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
}
