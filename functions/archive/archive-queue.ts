// The archive's durable queue: the journal itself, followed from a byte cursor. A segment is pending from its
// journal line until an archive record for it follows; the cursor (replaced durably) only ever moves past
// segments that are archived, deleted or gone, so a restart, a kill -9 or a bucket outage loses no upload.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile } from '../lib/index.js';
import { readJournalFrom, type Segment } from '../contracts/index.js';

/** Segments held in memory at once: a backlog of a year is read in steps of this many, never all at once. */
export const MAX_PENDING = 256;

export interface PendingSegment {
  readonly segment: Segment;
  /** Where its line starts in the journal: the cursor while it is the oldest pending. */
  readonly offset: number;
  /**
   * Journaled before this archive started, so a predecessor may have uploaded it before a crash cut its journaling
   * short. A segment journaled since cannot be in the bucket: only the recorder holding the device folder's lease
   * (this process) journals and archives the device.
   */
  readonly backlog: boolean;
}

export class ArchiveQueue {
  private readonly pending: PendingSegment[] = [];
  /** Journal bytes read so far (where the next scan starts). */
  private readEnd: number;

  private constructor(
    private readonly journal: string,
    private readonly cursorFile: string,
    private cursor: number,
    /** The journal's length when the archive started: a line starting before it is the backlog's. */
    private backlogEnd: number,
  ) {
    this.readEnd = cursor;
  }

  /**
   * Opens the cursor (archiveCursorPathOf, contracts/volume.ts); none yet: the whole journal is pending. Call it
   * before this archive uploads anything: every line already journaled then is the backlog.
   */
  static async open(cursorFile: string, journal: string): Promise<ArchiveQueue> {
    const text = await readFile(cursorFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    let offset = 0;
    if (text !== null) {
      // Written by replaceFile, so never torn: a value that does not parse is damage, and starting over is safe
      // (objects already there are found by their sha256 and not uploaded again).
      const parsed = (JSON.parse(text) as { offset?: unknown }).offset;
      if (typeof parsed === 'number' && Number.isInteger(parsed) && parsed >= 0) offset = parsed;
    }
    // A line being appended right now starts before the length read: counted with the backlog, the safe side.
    const backlogEnd = await stat(journal).then(
      (s) => s.size,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return 0;
        throw err;
      },
    );
    return new ArchiveQueue(journal, cursorFile, offset, backlogEnd);
  }

  get size(): number {
    return this.pending.length;
  }

  /** The first of the pending segments' file names in name order (retention's boundary), or null. */
  firstPendingName(): string | null {
    let first: string | null = null;
    for (const p of this.pending) {
      const name = path.posix.basename(p.segment.file);
      if (first === null || name < first) first = name;
    }
    return first;
  }

  /** The oldest pending segment, or null. */
  get next(): PendingSegment | null {
    return this.pending[0] ?? null;
  }

  /** The oldest pending segment not in `taken` (uploaded already, waiting for its record), or null. */
  nextExcept(taken: ReadonlySet<PendingSegment>): PendingSegment | null {
    return this.pending.find((p) => !taken.has(p)) ?? null;
  }

  /** Reads what the journal gained since the last scan; returns how many segments are pending. */
  async scan(): Promise<number> {
    const from = this.readEnd;
    // Full: records from the first segment that did not fit are left for the next scan, which reads on from there.
    let full = false;
    let end = from;
    const read = await readJournalFrom(this.journal, from, (record, place) => {
      if (full) return;
      if (record.kind === 'segment') {
        if (this.pending.length >= MAX_PENDING) {
          full = true;
          return;
        }
        this.pending.push({ segment: record.segment, offset: place.offset, backlog: place.offset < this.backlogEnd });
      } else {
        const file = record.kind === 'archive' ? record.archive.archived : record.deletion.deleted;
        // Archived before a crash kept the cursor back, or deleted by retention: nothing left to upload.
        const i = this.pending.findIndex((p) => p.segment.file === file);
        if (i !== -1) this.pending.splice(i, 1);
      }
      end = place.offset + place.length + 1;
    });
    if (read === null) return this.pending.length; // no journal yet
    if (read.size < from) {
      // The journal was replaced by a shorter one: read it again from its start (sha256 checks stop duplicates), all
      // of it backlog, since its places no longer say when a line was journaled.
      this.pending.length = 0;
      this.readEnd = 0;
      this.backlogEnd = Number.POSITIVE_INFINITY;
      return this.scan();
    }
    this.readEnd = full ? end : read.end;
    return this.pending.length;
  }

  /** The oldest pending segment is archived (or gone): the cursor moves to the next one, durably. */
  async done(item: PendingSegment): Promise<void> {
    const i = this.pending.indexOf(item);
    if (i !== -1) this.pending.splice(i, 1);
    const cursor = this.pending[0]?.offset ?? this.readEnd;
    if (cursor === this.cursor) return;
    await replaceFile(this.cursorFile, `${JSON.stringify({ offset: cursor })}\n`);
    this.cursor = cursor;
  }
}
