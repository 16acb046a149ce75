// The few file operations the outbox needs, each durable before it resolves (injectable, so tests can watch the order).
import { open, rename, unlink } from 'node:fs/promises';

export interface DurableFs {
  /** Writes the whole file and fsyncs it. */
  writeSynced(file: string, data: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** fsyncs a directory, so that a create, rename or delete in it survives a power cut. */
  syncDir(dir: string): Promise<void>;
  unlink(file: string): Promise<void>;
}

export const diskFs: DurableFs = {
  async writeSynced(file, data) {
    const handle = await open(file, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename,
  async syncDir(dir) {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  async unlink(file) {
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  },
};
