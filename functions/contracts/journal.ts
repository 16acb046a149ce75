// The journal of finished segments: one JSON line per record (a finished segment, retention's deletion of one,
// or the archive's upload of one), appended and fsynced by the recorder (recorder/journal-writer.ts). Its format and its readers live here
// only; the recorder, events, export and playback read it through this module. Its path: volume.ts.
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { parseJsonLines } from './json-lines.js';
import type { Segment } from './segment.js';
import { journalPathOf, STATE_FOLDER } from './volume.js';

/**
 * A finished segment's line. `kind` is absent from every segment line (journals from before kinds, and today's:
 * their lines stay what every reader, `jq` included, has always read). What readers rely on is the file and the
 * sequence number; the other fields are the Segment's and pass through.
 */
const segmentRecordSchema = z.looseObject({
  kind: z.literal('segment').optional(),
  file: z.string().min(1),
  sequence: z.number(),
});

/**
 * Why retention deleted a file: `age`, `bytes` and `free-space` are the recorder's own limits; `keep-local` frees an
 * archived segment older than ARCHIVE_KEEP_LOCAL (the object in the bucket is the copy now); `hard-floor` deleted a
 * segment that was not archived yet because free space fell below ARCHIVE_HARD_MIN_FREE_PERCENT: footage lost.
 */
export const DELETION_REASONS = ['age', 'bytes', 'free-space', 'keep-local', 'hard-floor'] as const;
export type DeletionReason = (typeof DELETION_REASONS)[number];

/**
 * Retention deleted a finished segment's file. The path is `deleted`, never `file`, and there is no `sequence`:
 * a reader from before kinds (which takes a line with a `file` and a `sequence` for a segment) skips it, and so
 * does `jq .file`.
 */
export const deletionRecordSchema = z.object({
  kind: z.literal('deletion'),
  device: z.string().min(1),
  /** Path relative to the storage root, as the segment's `file` was. */
  deleted: z.string().min(1),
  bytes: z.number().nonnegative(),
  reason: z.enum(DELETION_REASONS),
  /** When the file was deleted (ISO 8601, UTC). */
  at: z.string().min(1),
});
export type DeletionRecord = z.infer<typeof deletionRecordSchema>;

/**
 * The archive uploaded a finished segment to S3 (functions/archive). Like a deletion it names the segment by
 * `archived`, never `file`, and has no `sequence`, so no reader takes it for a segment.
 */
export const archiveRecordSchema = z.object({
  kind: z.literal('archive'),
  device: z.string().min(1),
  /** The segment's `file` (relative to the storage root). */
  archived: z.string().min(1),
  /** The segment's sha256, also the object's `x-amz-meta-sha256`. */
  sha256: z.string().min(1),
  bucket: z.string().min(1),
  key: z.string().min(1),
  etag: z.string(),
  /** When the object was complete (ISO 8601, UTC). */
  at: z.string().min(1),
});
export type ArchiveRecord = z.infer<typeof archiveRecordSchema>;

/**
 * Every kind of journal record in one schema, told apart by `kind`: a line without one is a segment. A kind this
 * reader does not know (a later version's) matches neither and is skipped, never taken for a segment.
 */
export const journalRecordSchema = z.union([segmentRecordSchema, deletionRecordSchema, archiveRecordSchema]);

export type JournalRecord =
  | { readonly kind: 'segment'; readonly segment: Segment }
  | { readonly kind: 'deletion'; readonly deletion: DeletionRecord }
  | { readonly kind: 'archive'; readonly archive: ArchiveRecord };

/** One parsed JSON line as a journal record, or null for a torn, foreign or unknown kind of line. */
export function journalRecordOf(value: unknown): JournalRecord | null {
  const parsed = journalRecordSchema.safeParse(value);
  if (!parsed.success) return null;
  if (parsed.data.kind === 'deletion') return { kind: 'deletion', deletion: parsed.data as DeletionRecord };
  if (parsed.data.kind === 'archive') return { kind: 'archive', archive: parsed.data as ArchiveRecord };
  const { kind: _kind, ...segment } = parsed.data;
  return { kind: 'segment', segment: segment as unknown as Segment };
}

/** The records of a journal text, oldest first; torn, foreign and unknown lines are skipped. */
export function parseJournalRecords(text: string): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (const value of parseJsonLines(text)) {
    const record = journalRecordOf(value);
    if (record) out.push(record);
  }
  return out;
}

/** A journal line as readers outside the recorder take it: the file it names, other fields when present. */
export type JournalLine = Partial<Segment> & { readonly file: string };

/** Segment lines that name a file; a torn or foreign line, and every other kind of record, is skipped. */
export function parseJournalLines(text: string): JournalLine[] {
  return parseJsonLines(text).filter((v): v is JournalLine => {
    const kind = (v as { kind?: unknown } | null)?.kind;
    return (kind === undefined || kind === 'segment') && typeof (v as Partial<Segment> | null)?.file === 'string';
  });
}

/** Journal lines as segments; a torn or foreign line is skipped (the file it named is found by recovery), and so is every record that is not a segment. */
export function parseJournal(text: string): Segment[] {
  const out: Segment[] = [];
  for (const record of parseJournalRecords(text)) if (record.kind === 'segment') out.push(record.segment);
  return out;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/**
 * Every segment in the journal file, oldest first ([] before the first one: no file yet). Read as a stream, a
 * line at a time: a journal of years is larger than one string can hold (V8 stops at 512 MiB). Any other error
 * reading it throws: a journal that cannot be read is never taken for one without footage.
 */
export async function readJournal(file: string): Promise<Segment[]> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const segments: Segment[] = [];
  try {
    const lines = createInterface({ input: handle.createReadStream({ encoding: 'utf8', autoClose: false }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() !== '') segments.push(...parseJournal(line));
    }
  } finally {
    await handle.close();
  }
  return segments;
}

/** Where a record's line lies in the journal file, so it can be read again without reading the rest. */
export interface JournalPlace {
  readonly offset: number;
  readonly length: number;
}

/** Bytes read per step when the journal is read forwards. */
const FORWARD_CHUNK = 1024 * 1024;

/**
 * The journal's records from byte `from` to its end as it is now, each with its line's place, oldest first.
 * Read as a stream (any size). A last line without its newline is being appended (or was torn) and is left for
 * the next read: the answer's `end` is where that read starts. `null` when there is no journal; any other
 * error reading it throws.
 */
export async function readJournalFrom(
  file: string,
  from: number,
  onRecord: (record: JournalRecord, place: JournalPlace) => void,
): Promise<{ readonly end: number; readonly size: number } | null> {
  const handle = await open(file, 'r').catch((err: unknown) => {
    if (isMissing(err)) return null;
    throw err;
  });
  if (handle === null) return null;
  try {
    const size = (await handle.stat()).size;
    let position = from;
    // Bytes of a line whose end has not been read yet, and where that line starts.
    let carry: Buffer = Buffer.alloc(0);
    let lineStart = from;
    const chunk = Buffer.allocUnsafe(FORWARD_CHUNK);
    while (position < size) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(FORWARD_CHUNK, size - position), position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const text = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (let nl = text.indexOf(0x0a); nl !== -1; nl = text.indexOf(0x0a, start)) {
        const record = recordOfLine(text.subarray(start, nl));
        if (record) onRecord(record, { offset: lineStart, length: nl - start });
        lineStart += nl + 1 - start;
        start = nl + 1;
      }
      carry = Buffer.from(text.subarray(start));
    }
    return { end: lineStart, size };
  } finally {
    await handle.close();
  }
}

function recordOfLine(line: Buffer): JournalRecord | null {
  if (line.length === 0) return null;
  try {
    return journalRecordOf(JSON.parse(line.toString('utf8')));
  } catch {
    return null; // torn or foreign line
  }
}

/**
 * The records at these places (from `readJournalFrom`), in the order asked; null where the line is no longer a
 * record (the journal was replaced). Places close together are read in one step, so a day of segments costs a
 * read or two.
 */
export async function readJournalAt(file: string, places: readonly JournalPlace[]): Promise<Array<JournalRecord | null>> {
  const out: Array<JournalRecord | null> = places.map(() => null);
  if (places.length === 0) return out;
  const order = places.map((_, i) => i).sort((a, b) => places[a]!.offset - places[b]!.offset);
  const handle = await open(file, 'r');
  try {
    let i = 0;
    while (i < order.length) {
      // One read for the run of places that lie within 64 KiB of each other.
      let j = i;
      const first = places[order[i]!]!;
      let end = first.offset + first.length;
      while (j + 1 < order.length && places[order[j + 1]!]!.offset - end < TAIL_CHUNK && places[order[j + 1]!]!.offset + places[order[j + 1]!]!.length - first.offset <= 8 * FORWARD_CHUNK) {
        j++;
        const p = places[order[j]!]!;
        end = Math.max(end, p.offset + p.length);
      }
      const buffer = Buffer.allocUnsafe(end - first.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, first.offset);
      for (let k = i; k <= j; k++) {
        const p = places[order[k]!]!;
        const at = p.offset - first.offset;
        if (at + p.length <= bytesRead) out[order[k]!] = recordOfLine(buffer.subarray(at, at + p.length));
      }
      i = j + 1;
    }
  } finally {
    await handle.close();
  }
  return out;
}

/** Devices that have a journal under `root`, sorted by name. */
export async function journaledDevices(root: string): Promise<string[]> {
  // No state folder: nothing recorded yet. Any other error is one (never "no devices").
  const names = await readdir(path.join(root, STATE_FOLDER), { withFileTypes: true }).catch((err: unknown) => {
    if (isMissing(err)) return [];
    throw err;
  });
  const out: string[] = [];
  for (const entry of names) {
    if (!entry.isDirectory()) continue;
    // A journal that is there but cannot be read still names its device: reading it then says why.
    const present = await stat(journalPathOf(root, entry.name)).then(
      () => true,
      (err: unknown) => !isMissing(err),
    );
    if (present) out.push(entry.name);
  }
  return out.sort();
}

/** Bytes read per step when the journal is read from its end. */
const TAIL_CHUNK = 64 * 1024;

/**
 * The journal's segments newest first, read backwards from its end in 64 KiB steps: what the recorder and
 * the event replay need (the last number, the entries after a cursor) costs the same for a journal of ten
 * lines as for one of years, which no single read could hold (V8 strings stop at 512 MiB).
 */
export async function* journalFromEnd(file: string): AsyncGenerator<Segment> {
  const handle = await open(file, 'r').catch((err: unknown) => {
    if (isMissing(err)) return null;
    throw err;
  });
  if (handle === null) return;
  try {
    let position = (await handle.stat()).size;
    // The bytes before the first newline seen so far: the next step's line end.
    let carry = Buffer.alloc(0);
    while (position > 0) {
      const length = Math.min(TAIL_CHUNK, position);
      position -= length;
      const chunk = Buffer.allocUnsafe(length);
      await handle.read(chunk, 0, length, position);
      const text = Buffer.concat([chunk, carry]);
      const lines: Buffer[] = [];
      let end = text.length;
      for (let i = text.length - 1; i >= 0; i--) {
        if (text[i] !== 0x0a) continue;
        lines.push(text.subarray(i + 1, end));
        end = i;
      }
      carry = Buffer.from(text.subarray(0, end));
      for (const line of lines) yield* parseJournal(line.toString('utf8'));
    }
    yield* parseJournal(carry.toString('utf8'));
  } finally {
    await handle.close();
  }
}

/** The journal's newest segment, or null. */
export async function lastJournaled(file: string): Promise<Segment | null> {
  for await (const segment of journalFromEnd(file)) return segment;
  return null;
}

/** The segments journaled after `sequence`, oldest first (from the end: a cursor is near it). */
export async function journaledAfter(file: string, sequence: number): Promise<Segment[]> {
  const after: Segment[] = [];
  for await (const segment of journalFromEnd(file)) {
    if (segment.sequence <= sequence) break;
    after.push(segment);
  }
  return after.reverse();
}
