// The volume's footage in memory: each journal read once, then followed as it grows, so no request reads a
// journal or stats every file. What a timeline shows beyond times and sizes (sha256, codecs) is read back from
// the journal by each line's place when asked, so memory holds about 100 bytes a segment.
// Over 400 lines because the index's typed arrays, their growth and the journals' following are one structure:
// every reader (timeline, files, clips, HLS) asks it, and the snapshot (index-snapshot.ts) writes it out.
import { lstat, open, opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/index.js';
import {
  RECORDING_RULES,
  deviceDirOf,
  finishedSegmentName,
  isSegmentFileName,
  journaledDevices,
  journalPathOf,
  parseSegmentFileName,
  readJournalFrom,
  segmentStem,
  type ContainerFormat,
  type JournalPlace,
  type JournalRecord,
} from '../contracts/index.js';
import { loadSnapshot, saveSnapshot, type SavedColumns, type Snapshot } from './index-snapshot.js';

/** How often journals are checked for growth, and the device list for new devices. */
export const FOLLOW_INTERVAL_MS = 1_000;
/** A segment is journaled before its file is moved into place: a missing file is looked for again this long. */
const PENDING_MS = 60_000;
/** A journal whose first read failed is read again after this long (its 503 says Retry-After: 30). */
const RETRY_FAILED_MS = 30_000;
/** The on-disk index is written at most this often while journals grow (and once at close). */
const SAVE_INTERVAL_MS = 60_000;

/** Bytes before the indexed end compared at each growth: an append keeps them, a rewrite does not. */
const TAIL_BYTES = 64;

const PRESENT = 1;
const RECOVERED = 2;
/** Retention's record says the file was deleted: not looked for again (a file found missing by a stat is). */
const DELETED = 4;

/**
 * Each container's place in a key. Keys are saved with the index (PLAYBACK_INDEX_DIR), so these numbers are a file
 * format: a container added to the contract fails to compile here until it gets a place, and with it
 * index-snapshot.ts's SNAPSHOT_VERSION goes up (the count of places is in every key).
 */
const KEY_PLACE = { mp4: 0, mkv: 1, flv: 2, ts: 3 } as const satisfies Record<ContainerFormat, number>;
const KEY_FORMATS = (Object.keys(KEY_PLACE) as ContainerFormat[]).sort((a, b) => KEY_PLACE[a] - KEY_PLACE[b]);
/** `_n` suffixes up to this fit the numeric key; a name with a larger one is kept as a string (never seen). */
const MAX_SUFFIX = 1023;

/**
 * A segment file name as one number: its UTC time (s), its `_n` suffix and its container. Names sort by time,
 * so keys arrive in order, and a number costs 8 bytes where a string and a map entry cost about 100.
 */
function nameKey(device: string, name: string): number | null {
  const parsed = parseSegmentFileName(device, name);
  if (!parsed) return null;
  const seconds = parsed.startMs / 1000;
  if (!Number.isFinite(seconds) || seconds < 0 || parsed.n > MAX_SUFFIX) return null;
  return (seconds * (MAX_SUFFIX + 1) + parsed.n) * KEY_FORMATS.length + KEY_PLACE[parsed.format];
}

function nameOfKey(device: string, key: number): string {
  const format = KEY_FORMATS[key % KEY_FORMATS.length]!;
  const rest = Math.floor(key / KEY_FORMATS.length);
  const seconds = Math.floor(rest / (MAX_SUFFIX + 1));
  return finishedSegmentName(segmentStem(device, new Date(seconds * 1000)), rest % (MAX_SUFFIX + 1), RECORDING_RULES[format].extension);
}

type Column = Float64Array | Uint32Array | Uint8Array | Int32Array;

/**
 * Struct of arrays, one row per segment file name, in journal order; a later line for a name replaces its row.
 * Typed arrays outside the JavaScript heap: a year of four cameras is 420,480 rows of 53 bytes.
 */
export class SegmentColumns {
  private rows = 0;
  private key = new Float64Array(1024);
  startMs = new Float64Array(1024);
  endMs = new Float64Array(1024);
  bytes = new Float64Array(1024);
  offset = new Float64Array(1024);
  length = new Uint32Array(1024);
  flags = new Uint8Array(1024);
  /** Rows by start time (then key), and rows by key; each rebuilt when a row arrives out of its order. */
  private order = new Int32Array(1024);
  private sorted = true;
  private byKey = new Int32Array(1024);
  private keysSorted = true;
  /** Rows in `byKey`: those whose name has a numeric key. */
  private keyed = 0;
  /** Names whose key does not fit a number (a `_n` beyond MAX_SUFFIX): kept as they are. */
  private readonly oddNames = new Map<string, number>();
  private readonly oddRows = new Map<number, string>();
  /** The longest segment: how far before a window's start a segment overlapping it can start. */
  private longestMs = 0;
  presentCount = 0;
  presentBytes = 0;

  constructor(readonly device: string) {}

  get size(): number {
    return this.rows;
  }

  private grow(): void {
    const more = <T extends Column>(a: T, make: (n: number) => T): T => {
      const b = make(a.length * 2);
      b.set(a);
      return b;
    };
    this.key = more(this.key, (n) => new Float64Array(n));
    this.startMs = more(this.startMs, (n) => new Float64Array(n));
    this.endMs = more(this.endMs, (n) => new Float64Array(n));
    this.bytes = more(this.bytes, (n) => new Float64Array(n));
    this.offset = more(this.offset, (n) => new Float64Array(n));
    this.length = more(this.length, (n) => new Uint32Array(n));
    this.flags = more(this.flags, (n) => new Uint8Array(n));
    this.order = more(this.order, (n) => new Int32Array(n));
    this.byKey = more(this.byKey, (n) => new Int32Array(n));
  }

  name(row: number): string {
    return this.oddRows.get(row) ?? nameOfKey(this.device, this.key[row]!);
  }

  /** The row of a segment file name, or undefined. */
  rowOf(name: string): number | undefined {
    const key = nameKey(this.device, name);
    if (key === null) return this.oddNames.get(name);
    const byKey = this.rowsByKey();
    let lo = 0;
    let hi = byKey.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.key[byKey[mid]!]! < key) lo = mid + 1;
      else hi = mid;
    }
    const row = byKey[lo];
    return row !== undefined && this.key[row] === key ? row : undefined;
  }

  /** Adds or replaces the row of `name` (absent until `setPresent`); returns the row, or null for a name that is not a segment's. */
  put(name: string, startMs: number, endMs: number, bytes: number, place: JournalPlace, recovered: boolean): number | null {
    let row = this.rowOf(name);
    if (row === undefined) {
      const key = nameKey(this.device, name);
      row = this.rows;
      if (row === this.key.length) this.grow();
      // In order so far, and this one comes no earlier than the last: it stays in order.
      if (this.sorted && row > 0 && this.startMs[this.order[row - 1]!]! > startMs) this.sorted = false;
      if (key === null) {
        this.key[row] = NaN;
        this.oddNames.set(name, row);
        this.oddRows.set(row, name);
      } else {
        if (this.keysSorted && this.keyed > 0 && !(this.key[this.byKey[this.keyed - 1]!]! < key)) this.keysSorted = false;
        this.key[row] = key;
        this.byKey[this.keyed++] = row;
      }
      this.order[row] = row;
      this.rows++;
    } else {
      this.setPresent(row, false);
      this.sorted = false;
    }
    this.startMs[row] = startMs;
    this.endMs[row] = endMs;
    this.bytes[row] = bytes;
    this.offset[row] = place.offset;
    this.length[row] = place.length;
    this.flags[row] = recovered ? RECOVERED : 0;
    this.longestMs = Math.max(this.longestMs, endMs - startMs);
    return row;
  }

  setPresent(row: number, present: boolean): void {
    const was = (this.flags[row]! & PRESENT) !== 0;
    if (was === present) return;
    this.flags[row] = present ? this.flags[row]! | PRESENT : this.flags[row]! & ~PRESENT;
    this.presentCount += present ? 1 : -1;
    this.presentBytes += present ? this.bytes[row]! : -this.bytes[row]!;
  }

  isPresent(row: number): boolean {
    return (this.flags[row]! & PRESENT) !== 0;
  }

  markDeleted(row: number): void {
    this.setPresent(row, false);
    this.flags[row] = this.flags[row]! | DELETED;
  }

  isDeleted(row: number): boolean {
    return (this.flags[row]! & DELETED) !== 0;
  }

  isRecovered(row: number): boolean {
    return (this.flags[row]! & RECOVERED) !== 0;
  }

  /** The columns as they are, for the on-disk index (views, valid until the next change). */
  saved(): SavedColumns {
    const n = this.rows;
    const recovered = new Uint8Array(n);
    for (let i = 0; i < n; i++) recovered[i] = this.isRecovered(i) ? 1 : 0;
    return {
      key: this.key.subarray(0, n),
      startMs: this.startMs.subarray(0, n),
      endMs: this.endMs.subarray(0, n),
      bytes: this.bytes.subarray(0, n),
      offset: this.offset.subarray(0, n),
      length: this.length.subarray(0, n),
      recovered,
      odd: [...this.oddRows],
    };
  }

  /** Columns from the on-disk index: every file absent until the folder is walked. */
  static restored(device: string, s: SavedColumns): SegmentColumns {
    const c = new SegmentColumns(device);
    const n = s.key.length;
    let capacity = 1024;
    while (capacity < n) capacity *= 2;
    const sized = <T extends Column>(from: Column, make: (n: number) => T): T => {
      const to = make(capacity);
      to.set(from);
      return to;
    };
    c.key = sized(s.key, (k) => new Float64Array(k));
    c.startMs = sized(s.startMs, (k) => new Float64Array(k));
    c.endMs = sized(s.endMs, (k) => new Float64Array(k));
    c.bytes = sized(s.bytes, (k) => new Float64Array(k));
    c.offset = sized(s.offset, (k) => new Float64Array(k));
    c.length = sized(s.length, (k) => new Uint32Array(k));
    c.flags = new Uint8Array(capacity);
    c.order = new Int32Array(capacity);
    c.byKey = new Int32Array(capacity);
    for (let row = 0; row < n; row++) {
      if (s.recovered[row] === 1) c.flags[row] = RECOVERED;
      c.order[row] = row;
      if (!Number.isNaN(s.key[row]!)) c.byKey[c.keyed++] = row;
      c.longestMs = Math.max(c.longestMs, s.endMs[row]! - s.startMs[row]!);
    }
    for (const [row, name] of s.odd) {
      c.oddNames.set(name, row);
      c.oddRows.set(row, name);
    }
    c.rows = n;
    c.sorted = false;
    c.keysSorted = false;
    return c;
  }

  /** Rows with a numeric key, by key (odd names are found in their map). */
  private rowsByKey(): Int32Array {
    const view = this.byKey.subarray(0, this.keyed);
    if (!this.keysSorted) {
      view.sort((a, b) => this.key[a]! - this.key[b]!);
      this.keysSorted = true;
    }
    return view;
  }

  /** Rows in time order (a view, valid until the next change). */
  private rowsInOrder(): Int32Array {
    const view = this.order.subarray(0, this.rows);
    if (!this.sorted) {
      for (let i = 0; i < view.length; i++) view[i] = i;
      view.sort((a, b) => this.startMs[a]! - this.startMs[b]! || this.key[a]! - this.key[b]!);
      this.sorted = true;
    }
    return view;
  }

  /** The first and last rows on the volume, by time. */
  ends(): { first: number; last: number } | null {
    if (this.presentCount === 0) return null;
    const rows = this.rowsInOrder();
    let first = 0;
    while (!this.isPresent(rows[first]!)) first++;
    let last = rows.length - 1;
    while (!this.isPresent(rows[last]!)) last--;
    return { first: rows[first]!, last: rows[last]! };
  }

  /** Rows on the volume that overlap [startMs, endMs), in time order; `missing` also those found missing (not deleted by record). */
  between(startMs: number, endMs: number, missing = false): number[] {
    const rows = this.rowsInOrder();
    // The first row that can overlap: none starting before startMs - longest can reach it.
    const from = startMs - this.longestMs;
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.startMs[rows[mid]!]! < from) lo = mid + 1;
      else hi = mid;
    }
    const out: number[] = [];
    for (let i = lo; i < rows.length; i++) {
      const row = rows[i]!;
      if (this.startMs[row]! >= endMs) break;
      if (this.endMs[row]! > startMs && (this.isPresent(row) || (missing && !this.isDeleted(row)))) out.push(row);
    }
    return out;
  }

  place(row: number): JournalPlace {
    return { offset: this.offset[row]!, length: this.length[row]! };
  }
}

export type DeviceIndexState =
  | { readonly status: 'loading'; readonly readBytes: number; readonly journalBytes: number }
  | { readonly status: 'ready' }
  | { readonly status: 'failed'; readonly error: Error };

interface DeviceIndex {
  readonly device: string;
  readonly journal: string;
  columns: SegmentColumns;
  state: DeviceIndexState;
  /** Journal bytes read so far (complete lines), and the journal file they came from. */
  end: number;
  identity: { dev: number; ino: number } | null;
  /** Rows journaled whose file was not (yet) there, and until when to look again. */
  pending: Map<number, number>;
  /** The first read is done (ready answers start from here). */
  readonly firstRead: Promise<void>;
  readonly markRead: () => void;
  savedEnd: number;
  savedAt: number;
  /** The read that runs now (one per device at a time). */
  busy: Promise<void> | null;
  /** After a failed first read, when to try again (the 503's Retry-After). */
  retryAt: number;
  /** The journal's last bytes before `end`: different ones mean the journal was rewritten, not appended to. */
  tail: Buffer;
}

export interface FootageIndexOptions {
  readonly root: string;
  /** Where to keep the compact on-disk index (PLAYBACK_INDEX_DIR); none: memory only. */
  readonly indexDir?: string | undefined;
  readonly log: Logger;
  /** Counts a failed journal read (the metric). */
  readonly onReadError?: (device: string) => void;
  /** Counts journal bytes read (the metric): after a restart from the on-disk index, only what was appended. */
  readonly onBytesRead?: (device: string, bytes: number) => void;
  /** The journal reader; a test holds it to see what requests get while a first read runs. */
  readonly readJournalFrom?: typeof readJournalFrom;
}

/** The footage of every device under the root, from the journals, kept current. */
export class FootageIndex {
  private readonly devices = new Map<string, DeviceIndex>();
  private listed = false;
  private listError: Error | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private running: Promise<void> = Promise.resolve();
  private firstPassDone!: () => void;
  /** The first listing of devices and the first read of each journal found then. */
  readonly firstPass = new Promise<void>((resolve) => {
    this.firstPassDone = resolve;
  });

  constructor(private readonly o: FootageIndexOptions) {}

  get root(): string {
    return this.o.root;
  }

  /** Starts reading: the first pass at once, then every FOLLOW_INTERVAL_MS. */
  start(): void {
    const tick = (): void => {
      this.running = this.pass()
        .catch((err: unknown) => this.o.log.error({ err }, 'footage index pass failed'))
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(tick, FOLLOW_INTERVAL_MS).unref();
        });
    };
    tick();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.o.indexDir !== undefined) for (const d of this.devices.values()) await this.save(d, true);
  }

  /** The devices found so far, or null before the first listing of the volume is done. */
  deviceNames(): string[] | null {
    if (this.listError) throw this.listError;
    return this.listed ? [...this.devices.keys()].sort() : null;
  }

  state(device: string): DeviceIndexState | null {
    return this.devices.get(device)?.state ?? null;
  }

  /** The device's columns once its first read is done (null before it, or for a device without a journal). */
  columns(device: string): SegmentColumns | null {
    const d = this.devices.get(device);
    return d?.state.status === 'ready' ? d.columns : null;
  }

  /** Resolves when the device's first read is done (at once for one not being read). */
  async firstRead(device: string): Promise<void> {
    await this.devices.get(device)?.firstRead;
  }

  journalOf(device: string): string {
    return journalPathOf(this.o.root, device);
  }

  /** A file found missing (or back) when a request looked: deleted without a record (by hand, or a crash before the record). */
  found(device: string, name: string, present: boolean): void {
    const d = this.devices.get(device);
    const row = d?.columns.rowOf(name);
    if (d && row !== undefined && !d.columns.isDeleted(row)) d.columns.setPresent(row, present);
  }

  private async pass(): Promise<void> {
    let names: string[];
    try {
      names = await journaledDevices(this.o.root);
      this.listError = null;
    } catch (err) {
      // The state folder cannot be listed: an error, never "no devices".
      this.listError = err as Error;
      this.o.log.error({ err }, 'cannot list the journals');
      this.o.onReadError?.('');
      return;
    }
    this.list(names);
    // One journal at a time: reading a year of lines makes garbage, and four at once would quadruple the peak.
    for (const device of names) {
      const d = this.devices.get(device)!;
      if (d.state.status !== 'failed' || Date.now() >= d.retryAt) await this.read(d);
    }
    this.firstPassDone();
  }

  private list(names: readonly string[]): void {
    for (const device of names) if (!this.devices.has(device)) this.devices.set(device, this.newDevice(device));
    for (const device of [...this.devices.keys()]) if (!names.includes(device)) this.devices.delete(device);
    this.listed = true;
  }

  /** One read of the device's journal at a time: a request and the timer share the one that runs. */
  private read(d: DeviceIndex): Promise<void> {
    d.busy ??= this.follow(d).finally(() => {
      d.busy = null;
    });
    return d.busy;
  }

  /**
   * Before a request answers: a device not known yet is looked for (its journal may have appeared since the last
   * pass; its first read starts), and a journal that grew since it was read is read up to its end (one stat when
   * it did not), so an answer is as current as the journal.
   */
  async catchUp(device: string): Promise<void> {
    if (!this.listed) return;
    let d = this.devices.get(device);
    if (d === undefined) {
      const names = await journaledDevices(this.o.root).catch(() => null);
      if (names === null || !names.includes(device)) return;
      this.list(names);
      d = this.devices.get(device)!;
      void this.read(d);
      return;
    }
    if (d.state.status !== 'ready') return;
    if (d.busy) await d.busy;
    const size = await stat(d.journal).then(
      (info) => info.size,
      () => -1,
    );
    if (size !== d.end) await this.read(d);
  }

  private newDevice(device: string): DeviceIndex {
    let markRead!: () => void;
    const firstRead = new Promise<void>((resolve) => {
      markRead = resolve;
    });
    return {
      device,
      journal: journalPathOf(this.o.root, device),
      columns: new SegmentColumns(device),
      state: { status: 'loading', readBytes: 0, journalBytes: 0 },
      end: 0,
      identity: null,
      pending: new Map(),
      firstRead,
      markRead,
      savedEnd: -1,
      savedAt: 0,
      busy: null,
      retryAt: 0,
      tail: Buffer.alloc(0),
    };
  }

  /** Reads what was appended to the device's journal since the last read; a new or shorter journal is read again from the start. */
  private async follow(d: DeviceIndex): Promise<void> {
    const first = d.state.status !== 'ready';
    try {
      const info = await stat(d.journal);
      const same = d.identity !== null && d.identity.dev === info.dev && d.identity.ino === info.ino && info.size >= d.end && (info.size === d.end || (await this.tailIsSame(d)));
      if (!same) {
        await this.load(d, info);
      } else if (info.size > d.end) {
        await this.readFrom(d, d.end, 'stat');
      }
      await this.lookAgain(d);
      if (d.state.status !== 'ready') this.o.log.info({ device: d.device, segments: d.columns.presentCount, journalBytes: d.end }, 'journal indexed');
      d.state = { status: 'ready' };
      await this.save(d, false);
    } catch (err) {
      this.o.onReadError?.(d.device);
      this.o.log.error({ err, device: d.device }, 'cannot read the journal');
      // A first read that failed answers 503 until one succeeds; a follow-up that failed keeps what was read.
      if (first) {
        d.state = { status: 'failed', error: err as Error };
        d.retryAt = Date.now() + RETRY_FAILED_MS;
      }
    } finally {
      if (first) d.markRead();
    }
  }

  /** The first read of a journal (or of a replaced one): from the on-disk index where it matches, then the rest. */
  private async load(d: DeviceIndex, info: { dev: number; ino: number; size: number }): Promise<void> {
    d.columns = new SegmentColumns(d.device);
    d.pending.clear();
    d.end = 0;
    d.identity = { dev: info.dev, ino: info.ino };
    d.state = { status: 'loading', readBytes: 0, journalBytes: info.size };
    const snapshot = this.o.indexDir !== undefined ? await loadSnapshot(this.o.indexDir, d.device, d.journal, info).catch((err: unknown) => {
          this.o.log.warn({ err, device: d.device }, 'on-disk index not used; reading the whole journal');
          return null;
        }) : null;
    if (snapshot) {
      this.restore(d, snapshot);
      this.o.log.info({ device: d.device, segments: d.columns.size, fromByte: d.end, journalBytes: info.size }, 'journal index loaded from the index dir');
    }
    await this.readFrom(d, d.end, 'listing');
    // Presence from one pass over the device folder, not a stat per file: a year is 105,120 files.
    await this.markListed(d);
    // The newest lines may name files still being moved into place.
    for (let row = Math.max(0, d.columns.size - 8); row < d.columns.size; row++) if (!d.columns.isPresent(row)) d.pending.set(row, Date.now() + PENDING_MS);
  }

  private async tailOf(d: DeviceIndex): Promise<Buffer> {
    const length = Math.min(TAIL_BYTES, d.end);
    const handle = await open(d.journal, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, d.end - length);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  private async tailIsSame(d: DeviceIndex): Promise<boolean> {
    return (await this.tailOf(d)).equals(d.tail);
  }

  private restore(d: DeviceIndex, s: Snapshot): void {
    d.columns = SegmentColumns.restored(d.device, s.columns);
    d.end = s.end;
  }

  /**
   * Marks the rows whose file is a regular file in the device folder (links and anything else are not footage;
   * nothing when the folder is not a folder). Entries are walked one at a time (opendir), so a folder of a
   * year of files costs no array of them.
   */
  private async markListed(d: DeviceIndex): Promise<void> {
    const folder = deviceDirOf(this.o.root, d.device);
    const info = await lstat(folder).catch(() => null);
    if (!info?.isDirectory()) return;
    const dir = await opendir(folder, { bufferSize: 256 }).catch(() => null);
    if (!dir) return;
    for await (const entry of dir) {
      if (!entry.isFile()) continue;
      const row = d.columns.rowOf(entry.name);
      if (row !== undefined && !d.columns.isDeleted(row)) d.columns.setPresent(row, true);
    }
  }

  /** Reads records from `from`; new files are stat'ed, or (`listing`) left for one pass over the folder. */
  private async readFrom(d: DeviceIndex, from: number, presence: 'stat' | 'listing'): Promise<void> {
    const added: number[] = [];
    const read = await (this.o.readJournalFrom ?? readJournalFrom)(d.journal, from, (record, place) => {
      const row = this.apply(d, record, place);
      if (row !== null && presence === 'stat') added.push(row);
      if (d.state.status === 'loading') d.state = { status: 'loading', readBytes: place.offset + place.length - from, journalBytes: d.state.journalBytes };
    });
    if (read === null) return;
    this.o.onBytesRead?.(d.device, read.end - from);
    d.end = read.end;
    d.tail = await this.tailOf(d);
    if (presence === 'listing') return;
    for (const row of added) {
      if (!d.columns.isPresent(row) && !d.columns.isDeleted(row)) {
        const here = await this.isFootageFile(d.device, d.columns.name(row));
        d.columns.setPresent(row, here);
        if (!here) d.pending.set(row, Date.now() + PENDING_MS);
      }
    }
  }

  /** One record into the columns: a segment adds (or replaces) its row, a deletion takes its file off the volume, an archive record changes nothing. */
  private apply(d: DeviceIndex, record: JournalRecord, place: JournalPlace): number | null {
    if (record.kind === 'deletion') {
      const name = path.posix.basename(record.deletion.deleted);
      const row = d.columns.rowOf(name);
      if (row !== undefined && record.deletion.deleted === `${d.device}/${name}`) {
        d.columns.markDeleted(row);
        d.pending.delete(row);
      }
      return null;
    }
    // An archive record says where a segment's copy is in the bucket; the volume's footage is unchanged.
    if (record.kind === 'archive') return null;
    const s = record.segment;
    const name = path.posix.basename(s.file);
    if (!isSegmentFileName(d.device, name)) return null;
    const startMs = Date.parse(s.startTime);
    const endMs = Date.parse(s.endTime);
    if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs <= startMs) return null;
    return d.columns.put(name, startMs, endMs, typeof s.bytes === 'number' ? s.bytes : 0, place, s.recovered === true);
  }

  /** Never through a link: the device folder and the file are each lstat'ed (a folder that is a link has no footage). */
  async isFootageFile(device: string, name: string): Promise<boolean> {
    const folder = await lstat(deviceDirOf(this.o.root, device)).catch(() => null);
    if (!folder?.isDirectory()) return false;
    const info = await lstat(path.join(deviceDirOf(this.o.root, device), name)).catch(() => null);
    return info?.isFile() ?? false;
  }

  /** Files journaled before they were moved into place, looked for again. */
  private async lookAgain(d: DeviceIndex): Promise<void> {
    const now = Date.now();
    for (const [row, until] of [...d.pending]) {
      if (await this.isFootageFile(d.device, d.columns.name(row))) {
        d.columns.setPresent(row, true);
        d.pending.delete(row);
      } else if (now > until) d.pending.delete(row);
    }
  }

  private async save(d: DeviceIndex, force: boolean): Promise<void> {
    if (this.o.indexDir === undefined || d.state.status !== 'ready' || d.identity === null || d.end === d.savedEnd) return;
    if (!force && d.savedEnd >= 0 && Date.now() - d.savedAt < SAVE_INTERVAL_MS) return;
    try {
      await saveSnapshot(this.o.indexDir, d.device, d.journal, d.identity.ino, d.end, d.columns.saved());
      d.savedEnd = d.end;
      d.savedAt = Date.now();
    } catch (err) {
      // The on-disk index only saves time at the next start: memory still answers.
      this.o.log.warn({ err, device: d.device, indexDir: this.o.indexDir }, 'cannot write the on-disk index');
    }
  }
}
