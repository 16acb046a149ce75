// The volume as the playback server sees it: the recorders' journals, indexed (footage-index.ts), checked
// against the files still there.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, DNS_1123_LABEL, HttpError } from '../lib/index.js';
import { deviceDirOf, readJournalAt, recordingDirOf, type Segment } from '../contracts/index.js';
import { FootageIndex, type SegmentColumns } from './footage-index.js';

/** A journaled segment whose file is on the volume, with its place in time. */
export interface Footage {
  readonly segment: Segment;
  /** Basename, e.g. `cam1_20261124T100000Z.mp4`. */
  readonly name: string;
  /** Under this server's root (the journal's `absolutePath` is the recorder's view of the volume); '' in the bucket. */
  readonly path: string;
  /** Set when the bytes are only in the archive's bucket (`<device>/<name>` under its prefix): read through it, never `path`. */
  readonly object?: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** What the journal and the folder say about the recorder, without asking it (it may be gone). */
export interface RecorderTrace {
  /** `recording` while a file in `.recording/` changed within the last minute; otherwise `idle`. */
  readonly state: 'recording' | 'idle';
  readonly lastSegmentEnd: string | null;
  /** The last segment was finished by crash recovery: the recorder stopped without closing it. */
  readonly lastSegmentRecovered: boolean;
}

export interface DeviceSummary {
  readonly device: string;
  readonly firstFootage: string | null;
  readonly lastFootage: string | null;
  /** On the volume; null for a device only in the bucket (counting would read every day file). */
  readonly bytes: number | null;
  readonly segments: number | null;
  readonly recorder: RecorderTrace;
  /** Where its footage is: on a volume, in the archive's bucket, or both. */
  readonly stored: 'volume' | 'bucket' | 'both';
}

const WRITING_WINDOW_MS = 60_000;

/** A device name from a request: a DNS-1123 label (what the recorder accepts), so never a path. */
export function checkDeviceName(value: string | null, parameter = 'device'): string {
  if (value === null || value === '') throw new HttpError(400, `${parameter}: required`);
  if (!DNS_1123_LABEL.test(value)) throw new HttpError(400, `${parameter}: expected a device name (DNS-1123 label)`);
  return value;
}

/** A request that comes while a journal's first read runs waits this long for it before the 503. */
export const FIRST_READ_WAIT_MS = 2_000;
/** Retry-After while a journal's first read runs (a year of lines takes seconds), and after a failed read. */
const RETRY_LOADING_SECONDS = '5';
const RETRY_UNREADABLE_SECONDS = '30';

export interface LibraryOptions {
  /** The index to answer from (the server's, started and closed by it); default: one of its own, started on first use. */
  readonly index?: FootageIndex;
  /** How long a request waits for a first read that runs (default FIRST_READ_WAIT_MS). */
  readonly firstReadWaitMs?: number;
}

const MIB = 1024 * 1024;

export class Library {
  readonly index: FootageIndex;
  private started: boolean;
  private readonly waitMs: number;

  constructor(
    readonly root: string,
    options: LibraryOptions = {},
  ) {
    this.index = options.index ?? new FootageIndex({ root, log: createLogger('playback', 'silent') });
    this.started = options.index !== undefined;
    this.waitMs = options.firstReadWaitMs ?? FIRST_READ_WAIT_MS;
  }

  /** Devices with a journal; 503 until the volume was listed and every journal read once (never a short list). */
  async devices(): Promise<DeviceSummary[]> {
    const names = await this.deviceNames();
    const summaries: DeviceSummary[] = [];
    for (const device of names) summaries.push(await this.summary(device, await this.columns(device)));
    return summaries;
  }

  /** Whether the device is among the journals this root's index lists now (no disk access); 503 while it is read. */
  async knows(device: string): Promise<boolean> {
    return (await this.deviceNames()).includes(device);
  }

  /** Whether this root holds the device's journal (one newly journaled is looked for); 503 while the root is read. */
  async has(device: string): Promise<boolean> {
    await this.deviceNames();
    await this.index.catchUp(device);
    return (await this.deviceNames()).includes(device);
  }

  /** Finished segments of a device that are still on the volume, oldest first. 404 for a device with no journal. */
  async footage(device: string): Promise<Footage[]> {
    return this.footageBetween(device, -Infinity, Infinity);
  }

  /** The device's segments on the volume that overlap [startMs, endMs), oldest first, whole records from the journal. */
  async footageBetween(device: string, startMs: number, endMs: number): Promise<Footage[]> {
    const columns = await this.columns(device);
    const rows = columns.between(startMs, endMs, true);
    // Files found missing without a deletion record are looked at again (put back by hand, say): a few at most.
    for (const row of rows) if (!columns.isPresent(row)) this.index.found(device, columns.name(row), await this.index.isFootageFile(device, columns.name(row)));
    return this.footageOf(device, columns, rows.filter((row) => columns.isPresent(row)));
  }


  /** Like footageBetween, with each file looked at first: one found gone (deleted without a record) leaves the index. */
  async footageOnVolume(device: string, startMs: number, endMs: number): Promise<Footage[]> {
    const out: Footage[] = [];
    for (const f of await this.footageBetween(device, startMs, endMs)) {
      if (await this.index.isFootageFile(device, f.name)) out.push(f);
      else this.index.found(device, f.name, false);
    }
    return out;
  }

  /** When the device's last footage ends (ms), or null without footage. */
  async lastFootageEnd(device: string): Promise<number | null> {
    const columns = await this.columns(device);
    const ends = columns.ends();
    return ends ? columns.endMs[ends.last]! : null;
  }

  /** One finished segment file by name; 404 when it is not journaled or no longer on the volume. */
  async file(device: string, name: string): Promise<Footage> {
    const columns = await this.columns(device);
    const row = columns.rowOf(name);
    const found = row !== undefined && columns.isPresent(row) ? (await this.footageOf(device, columns, [row]))[0] : undefined;
    if (!found) throw new HttpError(404, `file: ${device}/${name} is not a finished segment on this volume`, 'not_found');
    return found;
  }

  /** A file a request found gone: it leaves the index (stat on miss). */
  missing(device: string, name: string): void {
    this.index.found(device, name, false);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.index.start();
  }

  private async waitFor(promise: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.waitMs)))]);
    clearTimeout(timer);
  }

  private async deviceNames(): Promise<string[]> {
    this.start();
    const listed = (): string[] | null => {
      try {
        return this.index.deviceNames();
      } catch (err) {
        // The journals' folder cannot be listed: an error, never "no devices".
        throw new HttpError(503, `devices: the journals' folder cannot be read (${(err as Error).message}); no footage is shown until it can`, 'journal_unreadable', { 'retry-after': RETRY_UNREADABLE_SECONDS });
      }
    };
    let names = listed();
    if (names === null) {
      await this.waitFor(this.index.firstPass);
      names = listed();
    }
    if (names === null) throw new HttpError(503, 'devices: the volume is being indexed; ask again shortly', 'index_loading', { 'retry-after': RETRY_LOADING_SECONDS });
    return names;
  }

  /** The device's index once its journal was read; 404 without a journal, 503 while it is read or when it cannot be. */
  private async columns(device: string): Promise<SegmentColumns> {
    await this.deviceNames();
    await this.index.catchUp(device);
    if (!(await this.deviceNames()).includes(device)) throw new HttpError(404, `device: no recordings of ${device}`, 'not_found');
    if (this.index.state(device)?.status === 'loading') await this.waitFor(this.index.firstRead(device));
    const state = this.index.state(device);
    const columns = this.index.columns(device);
    if (columns) return columns;
    if (state?.status === 'failed') {
      // Never an empty answer: the footage is there, its index could not be read.
      throw new HttpError(503, `device: the journal of ${device} cannot be read (${state.error.message}); its footage is not shown until it can`, 'journal_unreadable', { 'retry-after': RETRY_UNREADABLE_SECONDS });
    }
    const progress = state?.status === 'loading' && state.journalBytes > 0 ? ` (${(state.readBytes / MIB).toFixed(0)} of ${(state.journalBytes / MIB).toFixed(0)} MiB)` : '';
    throw new HttpError(503, `device: the journal of ${device} is being read${progress}; its footage is shown when that is done`, 'index_loading', { 'retry-after': RETRY_LOADING_SECONDS });
  }

  /** Rows as Footage, their whole records read back from the journal by place. */
  private async footageOf(device: string, columns: SegmentColumns, rows: readonly number[]): Promise<Footage[]> {
    const records = await readJournalAt(this.index.journalOf(device), rows.map((row) => columns.place(row))).catch((err: unknown) => {
      throw new HttpError(503, `device: the journal of ${device} cannot be read (${(err as Error).message}); its footage is not shown until it can`, 'journal_unreadable', { 'retry-after': RETRY_UNREADABLE_SECONDS });
    });
    const out: Footage[] = [];
    rows.forEach((row, i) => {
      const record = records[i];
      const name = columns.name(row);
      // A line that is no longer this segment's: the journal was replaced since; the next pass reads it again.
      if (record?.kind !== 'segment' || path.posix.basename(record.segment.file) !== name) return;
      out.push({ segment: record.segment, name, path: path.join(deviceDirOf(this.root, device), name), startMs: columns.startMs[row]!, endMs: columns.endMs[row]! });
    });
    return out;
  }

  private async summary(device: string, columns: SegmentColumns): Promise<DeviceSummary> {
    const ends = columns.ends();
    const iso = (ms: number): string => new Date(ms).toISOString();
    return {
      device,
      firstFootage: ends ? iso(columns.startMs[ends.first]!) : null,
      lastFootage: ends ? iso(columns.endMs[ends.last]!) : null,
      bytes: columns.presentBytes,
      segments: columns.presentCount,
      recorder: {
        state: (await this.writingNow(device)) ? 'recording' : 'idle',
        lastSegmentEnd: ends ? iso(columns.endMs[ends.last]!) : null,
        lastSegmentRecovered: ends ? columns.isRecovered(ends.last) : false,
      },
      stored: 'volume',
    };
  }

  private async writingNow(device: string): Promise<boolean> {
    const dir = recordingDirOf(this.root, device);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const info = await lstat(path.join(dir, name)).catch(() => null);
      if (info?.isFile() && Date.now() - info.mtimeMs < WRITING_WINDOW_MS) return true;
    }
    return false;
  }
}
