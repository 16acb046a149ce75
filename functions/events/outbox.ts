import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { CloudEvent } from 'cloudevents';
import { diskFs, replaceFile, TEMPORARY_SUFFIX, type DurableFs } from '../lib/index.js';

/** `<12-digit counter>-<13-digit enqueue time in ms>.json`: sorts in enqueue order, also across restarts. */
const ENTRY_NAME = /^(\d{12})-(\d{13})\.json$/;
const LEADING_COUNTER = /^(\d{12})-/;

export interface OutboxEntry {
  readonly name: string;
  readonly enqueuedAt: number;
}

/** Why an event went to the dead-letter folder; written beside it as `<name>.reason.json`. */
export interface DeadLetterReason {
  readonly status: number | null;
  readonly detail: string;
  readonly sink: string | null;
}

export interface OutboxOptions {
  /** `<out>/.shifu-rtsp/<device>/outbox`. */
  readonly dir: string;
  /** `<out>/.shifu-rtsp/<device>/dead-letter`. */
  readonly deadLetterDir: string;
  readonly fs?: DurableFs;
}

/**
 * Events waiting for their sink, one file each on the recording volume. An event is on disk (file and folder
 * fsynced) before anyone tries to send it, and leaves only once the sink took it or refused it for good.
 */
export class Outbox {
  private writing: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly deadLetterDir: string,
    private readonly fs: DurableFs,
    private readonly entries: OutboxEntry[],
    private counter: number,
  ) {}

  /** Creates the folders, drops half-written files a crash left, and finds the pending events, oldest first. */
  static async open(o: OutboxOptions): Promise<Outbox> {
    await mkdir(o.dir, { recursive: true });
    await mkdir(o.deadLetterDir, { recursive: true });
    const names = await readdir(o.dir);
    for (const name of names) if (name.endsWith(TEMPORARY_SUFFIX)) await rm(path.join(o.dir, name), { force: true });
    const entries = names
      .filter((n) => ENTRY_NAME.test(n))
      .sort()
      .map((name) => ({ name, enqueuedAt: Number(ENTRY_NAME.exec(name)?.[2]) }));
    // The counter continues after every name ever used here, so new events sort after old ones.
    let counter = 0;
    for (const name of [...names, ...(await readdir(o.deadLetterDir))]) {
      const m = LEADING_COUNTER.exec(name);
      if (m) counter = Math.max(counter, Number(m[1]));
    }
    return new Outbox(o.dir, o.deadLetterDir, o.fs ?? diskFs, entries, counter);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The next event to deliver: the oldest. */
  head(): OutboxEntry | undefined {
    return this.entries[0];
  }

  oldestEnqueuedAt(): number | null {
    return this.entries[0]?.enqueuedAt ?? null;
  }

  /** Resolves once the event is durable; enqueues are serialized so the file order is the call order. */
  enqueue(event: CloudEvent<unknown>, now: () => number = Date.now): Promise<OutboxEntry> {
    const done = this.writing.then(async () => {
      const enqueuedAt = now();
      const name = `${String(++this.counter).padStart(12, '0')}-${String(enqueuedAt).padStart(13, '0')}.json`;
      const file = path.join(this.dir, name);
      // Through a temporary name the loader ignores: a crash mid-write never leaves a torn event to send.
      await replaceFile(file, `${JSON.stringify(event)}\n`, this.fs);
      const entry = { name, enqueuedAt };
      this.entries.push(entry);
      return entry;
    });
    this.writing = done.catch(() => undefined);
    return done;
  }

  /** The stored event; throws when the file cannot be read back as a valid CloudEvent. */
  async read(entry: OutboxEntry): Promise<CloudEvent<unknown>> {
    const text = await readFile(path.join(this.dir, entry.name), 'utf8');
    return new CloudEvent<unknown>(JSON.parse(text) as Record<string, unknown>);
  }

  /** After a 2xx. Not fsynced: an entry that comes back after a power cut is only sent twice, with the same id. */
  remove(entry: OutboxEntry): Promise<void> {
    return this.serially(async () => {
      await this.fs.unlink(path.join(this.dir, entry.name));
      this.drop(entry);
    });
  }

  /** Moves the event out of the way, with the reason beside it; moving the file back redelivers it. */
  deadLetter(entry: OutboxEntry, reason: DeadLetterReason): Promise<void> {
    return this.serially(async () => {
      const target = path.join(this.deadLetterDir, entry.name);
      const record = { ...reason, deadLetteredAt: new Date().toISOString() };
      await this.fs.writeSynced(target.replace(/\.json$/, '.reason.json'), `${JSON.stringify(record)}\n`);
      await this.fs.rename(path.join(this.dir, entry.name), target);
      await this.fs.syncDir(this.deadLetterDir);
      this.drop(entry);
    });
  }

  /**
   * Picks up event files that appeared in the folder by other hands (a dead letter moved back once its
   * subscriber is fixed), in name order with the rest: redelivered without a restart. Answers how many.
   */
  rescan(): Promise<number> {
    return this.serially(async () => {
      const known = new Set(this.entries.map((e) => e.name));
      const found = (await readdir(this.dir)).filter((n) => ENTRY_NAME.test(n) && !known.has(n));
      for (const name of found) {
        this.entries.push({ name, enqueuedAt: Number(ENTRY_NAME.exec(name)?.[2]) });
        this.counter = Math.max(this.counter, Number(LEADING_COUNTER.exec(name)?.[1] ?? 0));
      }
      if (found.length > 0) this.entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return found.length;
    });
  }

  /** Every change to the folder, one at a time: a rescan never sees an event half enqueued or half removed. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const done = this.writing.then(task);
    this.writing = done.catch(() => undefined);
    return done;
  }

  private drop(entry: OutboxEntry): void {
    const i = this.entries.findIndex((e) => e.name === entry.name);
    if (i >= 0) this.entries.splice(i, 1);
  }
}
