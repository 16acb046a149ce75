// Closes the crash window between "segment journaled" and "event on disk": the journal is replayed from a cursor.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { diskFs, replaceFile, type DurableFs } from '../lib/index.js';

/** The sequence of the last journaled segment whose event is in the outbox; written durably after each event. */
export class JournalCursor {
  private constructor(
    private readonly file: string,
    private readonly fs: DurableFs,
    private value: number | null,
  ) {}

  static async open(file: string, fs: DurableFs = diskFs): Promise<JournalCursor> {
    const text = await readFile(file, 'utf8').catch(() => null);
    let value: number | null = null;
    try {
      const parsed = text === null ? null : (JSON.parse(text) as { sequence?: unknown }).sequence;
      if (typeof parsed === 'number' && Number.isInteger(parsed) && parsed >= 0) value = parsed;
    } catch {
      // Written by rename, so never torn; unreadable only if damaged: start again from the journal's end.
    }
    return new JournalCursor(file, fs, value);
  }

  /** Null before the first write: this volume has never had events queued. */
  get sequence(): number | null {
    return this.value;
  }

  async write(sequence: number): Promise<void> {
    await replaceFile(this.file, `${JSON.stringify({ sequence })}\n`, this.fs);
    this.value = sequence;
  }
}
