import { open, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CloudEvent } from 'cloudevents';
import { appendSynced } from '../durable/index.js';

/**
 * An append-only JSON-lines file with one CloudEvent (structured JSON) per line, each event id at most once.
 * Before each append it reads what was added since its last look, so replicas sharing the file see each other.
 */
export class SegmentIndex {
  private readonly ids = new Set<string>();
  private offset = 0;
  private partial = '';
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Resolves true when the event was appended, false when its id was already there (a redelivery). */
  add(event: CloudEvent<unknown>): Promise<boolean> {
    const done = this.chain.then(async () => {
      await this.catchUp();
      if (this.ids.has(event.id)) return false;
      await mkdir(path.dirname(this.file), { recursive: true });
      const line = `${JSON.stringify(event)}\n`;
      await appendSynced(this.file, line);
      this.ids.add(event.id);
      return true;
    });
    this.chain = done.catch(() => undefined);
    return done;
  }

  /** Ids already in the file (read on first use and after every append by anyone). */
  async has(id: string): Promise<boolean> {
    await this.catchUp();
    return this.ids.has(id);
  }

  private async catchUp(): Promise<void> {
    const size = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    if (size < this.offset) {
      // Truncated or replaced: read it again from the start.
      this.offset = 0;
      this.partial = '';
      this.ids.clear();
    }
    if (size === this.offset) return;
    const handle = await open(this.file, 'r');
    try {
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      const lines = (this.partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const id = (JSON.parse(line) as { id?: unknown }).id;
          if (typeof id === 'string') this.ids.add(id);
        } catch {
          // A line someone broke by hand: skip it rather than refuse every event.
        }
      }
    } finally {
      await handle.close();
    }
  }
}
