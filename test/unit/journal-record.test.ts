// One schema for every kind of journal record: a line without `kind` is a segment (every journal written before
// kinds), retention's deletion record is never taken for a segment by any reader (today's, an old one's, or the
// recorder's own backward read), and a kind a reader does not know is skipped.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appendArchiveToJournal,
  appendDeletionToJournal,
  appendToJournal,
  journaledAfter,
  journalRecordOf,
  lastJournaled,
  parseJournal,
  parseJournalLines,
  parseJournalRecords,
  readJournal,
  readJournalAt,
  readJournalFrom,
  type JournalPlace,
  type JournalRecord,
  type Segment,
} from '../../functions/recorder/index.js';
import { applyRetention } from '../../functions/recorder/retention.js';
import { SegmentStore } from '../../functions/recorder/segment-store.js';
import { pino } from 'pino';
import { useScratch } from '../support/scratch.js';
import { segmentFixture } from '../support/segment.js';

const scratch = useScratch('shifu-journal-record-');

function segment(sequence: number): Segment {
  return segmentFixture(
    { device: 'cam1', start: Date.UTC(2026, 10, 24, 10) + sequence * 300_000, seconds: 300 },
    { sequence, bytes: 1000 + sequence, sha256: 'ab'.repeat(32), video: { codec: 'h264', width: 1920, height: 1080, fps: 25 } },
  );
}

/** How a reader from before kinds took a line for a segment (parseJournal at commit 3a2bea3). */
function oldReaderTakesForSegment(line: string): boolean {
  const v = JSON.parse(line) as { file?: unknown; sequence?: unknown };
  return typeof v.file === 'string' && typeof v.sequence === 'number';
}

const deletion = { device: 'cam1', deleted: segment(1).file, bytes: 1001, reason: 'age' as const, at: '2026-11-25T10:00:00.000Z' };

describe('journal records', () => {
  it('reads a line without kind (journals before kinds) as a segment, unchanged', () => {
    const line = JSON.stringify(segment(1));
    expect(journalRecordOf(JSON.parse(line))).toEqual({ kind: 'segment', segment: segment(1) });
    expect(parseJournal(line)).toEqual([segment(1)]);
  });

  it('reads kind "segment" as a segment and leaves kind out of it', () => {
    expect(journalRecordOf({ kind: 'segment', ...segment(2) })).toEqual({ kind: 'segment', segment: segment(2) });
  });

  it('reads a deletion record as a deletion, never as a segment', () => {
    const record = { kind: 'deletion', ...deletion };
    expect(journalRecordOf(record)).toEqual({ kind: 'deletion', deletion: record });
    const text = `${JSON.stringify(segment(1))}\n${JSON.stringify(record)}\n`;
    expect(parseJournal(text)).toEqual([segment(1)]);
    expect(parseJournalLines(text).map((l) => l.file)).toEqual([segment(1).file]);
    expect(parseJournalRecords(text).map((r) => r.kind)).toEqual(['segment', 'deletion']);
  });

  it('skips a kind it does not know, even one that carries a file and a sequence', () => {
    const later = { kind: 'archived', file: 'cam1/cam1_20261124T100000Z.mp4', sequence: 1, bucket: 's3://footage' };
    expect(journalRecordOf(later)).toBeNull();
    expect(parseJournal(JSON.stringify(later))).toEqual([]);
    expect(parseJournalLines(JSON.stringify(later))).toEqual([]);
  });

  it('refuses a deletion record without the file it deleted, or with an unknown reason', () => {
    expect(journalRecordOf({ kind: 'deletion', ...deletion, deleted: undefined })).toBeNull();
    expect(journalRecordOf({ kind: 'deletion', ...deletion, reason: 'whim' })).toBeNull();
  });

  it('writes deletion records that a reader from before kinds, jq .file and the recorder skip', async () => {
    const dir = path.join(scratch.dir, 'written');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'segments.jsonl');
    await appendToJournal(file, segment(1));
    await appendToJournal(file, segment(2));
    await appendDeletionToJournal(file, deletion);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines.map(oldReaderTakesForSegment)).toEqual([true, true, false]);
    // jq -r .file prints null for it: no path a script could take for footage.
    expect((JSON.parse(lines[2]!) as { file?: unknown }).file).toBeUndefined();
    expect((await readJournal(file)).map((s) => s.sequence)).toEqual([1, 2]);
    // The recorder's next number, and the event replay after a cursor, read from the end past the deletion.
    expect((await lastJournaled(file))?.sequence).toBe(2);
    expect((await journaledAfter(file, 1)).map((s) => s.sequence)).toEqual([2]);
  });

  it('writes archive records that every reader skips as footage: before kinds, jq .file, the recorder, the event replay', async () => {
    const dir = path.join(scratch.dir, 'archived');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'segments.jsonl');
    const archive = { device: 'cam1', archived: segment(1).file, sha256: segment(1).sha256, bucket: 'footage', key: 'ns/cam1/x.mp4', etag: '"e1"', at: '2026-11-25T10:00:00.000Z' };
    await appendToJournal(file, segment(1));
    await appendArchiveToJournal(file, archive);
    await appendToJournal(file, segment(2));
    await appendArchiveToJournal(file, { ...archive, archived: segment(2).file });
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines.map(oldReaderTakesForSegment)).toEqual([true, false, true, false]);
    expect((JSON.parse(lines[1]!) as { file?: unknown }).file).toBeUndefined();
    expect(journalRecordOf(JSON.parse(lines[1]!))).toEqual({ kind: 'archive', archive: { kind: 'archive', ...archive } });
    expect((await readJournal(file)).map((s) => s.sequence)).toEqual([1, 2]);
    expect(parseJournalLines(await readFile(file, 'utf8')).map((l) => l.file)).toEqual([segment(1).file, segment(2).file]);
    expect((await lastJournaled(file))?.sequence).toBe(2);
    expect((await journaledAfter(file, 1)).map((s) => s.sequence)).toEqual([2]);
    await expect(appendArchiveToJournal(file, { ...archive, key: '' })).rejects.toThrow();
  });

  it('reads records from an offset with their places, leaves a line still being written, and reads them again by place', async () => {
    const file = path.join(scratch.dir, 'places.jsonl');
    const complete = `${JSON.stringify(segment(1))}\n{"torn":\n${JSON.stringify({ kind: 'deletion', ...deletion })}\n`;
    await writeFile(file, `${complete}${JSON.stringify(segment(3)).slice(0, 40)}`);
    const seen: Array<{ record: JournalRecord; place: JournalPlace }> = [];
    const read = await readJournalFrom(file, 0, (record, place) => seen.push({ record, place }));
    expect(read?.end).toBe(Buffer.byteLength(complete));
    expect(seen.map((s) => s.record.kind)).toEqual(['segment', 'deletion']);
    expect(await readJournalAt(file, [seen[1]!.place, seen[0]!.place])).toEqual([seen[1]!.record, seen[0]!.record]);
    // The rest of the line arrives: the next read from `end` gives it.
    await writeFile(file, `${complete}${JSON.stringify(segment(3))}\n`);
    const more: JournalRecord[] = [];
    await readJournalFrom(file, read!.end, (record) => more.push(record));
    expect(more).toEqual([{ kind: 'segment', segment: segment(3) }]);
    expect(await readJournalFrom(path.join(scratch.dir, 'none.jsonl'), 0, () => undefined)).toBeNull();
  });

  it('retention journals a deletion record for every file it deletes', async () => {
    const root = path.join(scratch.dir, 'retention');
    const store = new SegmentStore({ root, device: 'cam1', ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', log: pino({ level: 'silent' }) });
    await store.open();
    for (const s of [segment(1), segment(2), segment(3)]) {
      await writeFile(path.join(root, s.file), Buffer.alloc(1000));
      await appendToJournal(store.journalPath, s);
    }
    const { deletions: deleted } = await applyRetention(store, { retainHours: 0, retainBytes: 1500, minFreePercent: 0 }, pino({ level: 'silent' }));
    expect(deleted.map((d) => d.file)).toEqual([segment(1).file, segment(2).file]);
    const records: JournalRecord[] = [];
    await readJournalFrom(store.journalPath, 0, (r) => records.push(r));
    expect(records.filter((r) => r.kind === 'deletion').map((r) => r.kind === 'deletion' && [r.deletion.deleted, r.deletion.reason, r.deletion.bytes])).toEqual([
      [segment(1).file, 'bytes', 1000],
      [segment(2).file, 'bytes', 1000],
    ]);
    expect((await readJournal(store.journalPath)).map((s) => s.sequence)).toEqual([1, 2, 3]);
  });
});
