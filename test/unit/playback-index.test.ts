// Playback answers from its footage index: while a journal's first read runs every answer about that device is
// a 503 with Retry-After naming it (never an empty or short list), and the full answer comes once the read is done.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, HttpError } from '../../functions/lib/index.js';
import { FootageIndex, Library, SegmentColumns } from '../../functions/playback/index.js';
import { appendArchiveToJournal, appendToJournal, journalPathOf, readJournalFrom, type Segment } from '../../functions/recorder/index.js';
import { useScratch } from '../support/scratch.js';
import { segmentFixture } from '../support/segment.js';

const scratch = useScratch('shifu-playback-index-');

function segment(device: string, hour: number): Segment {
  return segmentFixture({ device, start: Date.UTC(2026, 10, 24, hour), seconds: 3600 }, { sequence: hour, bytes: 10, sha256: 'c'.repeat(64), video: null });
}

async function rejection(promise: Promise<unknown>): Promise<HttpError> {
  const err = await promise.then(
    (value) => new Error(`resolved with ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

describe('footage index', () => {
  it('answers 503 with Retry-After naming the device while its first read runs, then the whole footage', async () => {
    const root = path.join(scratch.dir, 'held');
    await mkdir(path.join(root, 'cam1'), { recursive: true });
    await mkdir(path.dirname(journalPathOf(root, 'cam1')), { recursive: true });
    for (const hour of [10, 11]) {
      await writeFile(path.join(root, 'cam1', path.posix.basename(segment('cam1', hour).file)), 'x'.repeat(10));
      await appendToJournal(journalPathOf(root, 'cam1'), segment('cam1', hour));
    }
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const index = new FootageIndex({
      root,
      log: createLogger('test', 'silent'),
      readJournalFrom: async (...args: Parameters<typeof readJournalFrom>) => {
        await held;
        return readJournalFrom(...args);
      },
    });
    scratch.defer(() => index.close());
    const library = new Library(root, { index, firstReadWaitMs: 20 });
    index.start();

    const devices = await rejection(library.devices());
    expect([devices.statusCode, devices.code, devices.headers['retry-after']]).toEqual([503, 'index_loading', '5']);
    expect(devices.message).toMatch(/journal of cam1 is being read/);
    const timeline = await rejection(library.footageBetween('cam1', 0, Date.parse('2026-11-25T00:00:00Z')));
    expect([timeline.statusCode, timeline.code]).toEqual([503, 'index_loading']);
    expect(timeline.message).toMatch(/^device: the journal of cam1/);
    await rejection(library.file('cam1', 'cam1_20261124T100000Z.mp4'));

    release();
    await index.firstPass;
    expect((await library.devices()).map((d) => [d.device, d.segments, d.firstFootage, d.lastFootage])).toEqual([
      ['cam1', 2, '2026-11-24T10:00:00.000Z', '2026-11-24T12:00:00.000Z'],
    ]);
    expect((await library.file('cam1', 'cam1_20261124T110000Z.mp4')).segment).toEqual(segment('cam1', 11));
  });

  it('keeps a segment archived to S3 as footage: its archive record is never a segment, nor a deletion', async () => {
    const root = path.join(scratch.dir, 'archived');
    await mkdir(path.join(root, 'cam1'), { recursive: true });
    await mkdir(path.dirname(journalPathOf(root, 'cam1')), { recursive: true });
    for (const hour of [10, 11]) {
      const s = segment('cam1', hour);
      await writeFile(path.join(root, 'cam1', path.posix.basename(s.file)), 'x'.repeat(10));
      await appendToJournal(journalPathOf(root, 'cam1'), s);
      await appendArchiveToJournal(journalPathOf(root, 'cam1'), { device: 'cam1', archived: s.file, sha256: s.sha256, bucket: 'b', key: `ns/${s.file}`, etag: '"e"', at: s.endTime });
    }
    const index = new FootageIndex({ root, log: createLogger('test', 'silent') });
    scratch.defer(() => index.close());
    const library = new Library(root, { index });
    index.start();
    await index.firstPass;
    expect((await library.devices()).map((d) => [d.device, d.segments])).toEqual([['cam1', 2]]);
    expect((await library.footageBetween('cam1', 0, Date.parse('2026-11-25T00:00:00Z'))).map((f) => f.name)).toEqual(['cam1_20261124T100000Z.mp4', 'cam1_20261124T110000Z.mp4']);
  });

  it('finds the segments overlapping a window in time order, whatever order they were journaled in', () => {
    const c = new SegmentColumns('cam');
    const name = (h: number): string => `cam_20261124T0${h}0000Z.mp4`;
    const hours = [3, 1, 2, 0, 5];
    hours.forEach((h, i) => c.put(name(h), h * 3_600_000, (h + 1) * 3_600_000, 1, { offset: i * 100, length: 99 }, false));
    // Names that sort apart from their times, and one a number cannot hold: found by name all the same.
    c.put('cam_20261124T010000Z_7.ts', 6 * 3_600_000, 7 * 3_600_000, 1, { offset: 500, length: 99 }, false);
    c.put('cam_20261124T010000Z_5000.mkv', 7 * 3_600_000, 8 * 3_600_000, 1, { offset: 600, length: 99 }, false);
    for (let row = 0; row < c.size; row++) c.setPresent(row, true);
    c.markDeleted(c.rowOf(name(2))!);
    const names = (rows: number[]): string[] => rows.map((r) => c.name(r));
    expect(names(c.between(1.5 * 3_600_000, 4 * 3_600_000))).toEqual([name(1), name(3)]);
    expect(names(c.between(0, 100 * 3_600_000))).toEqual([name(0), name(1), name(3), name(5), 'cam_20261124T010000Z_7.ts', 'cam_20261124T010000Z_5000.mkv']);
    expect(c.rowOf('cam_20261124T010000Z_7.ts')).toBe(5);
    expect(c.rowOf('cam_20261124T010000Z_5000.mkv')).toBe(6);
    expect(c.rowOf('cam_20261124T040000Z.mp4')).toBeUndefined();
    // A second line for a name replaces its row.
    expect(c.put(name(5), 5 * 3_600_000, 5.5 * 3_600_000, 1, { offset: 700, length: 99 }, false)).toBe(4);
    expect(c.size).toBe(7);
    c.setPresent(4, true);
    const ends = c.ends()!;
    expect([c.name(ends.first), c.name(ends.last), c.presentCount, c.presentBytes]).toEqual([name(0), 'cam_20261124T010000Z_5000.mkv', 6, 6]);
  });
});

describe('footage index on disk (PLAYBACK_INDEX_DIR)', () => {
  async function indexed(root: string, indexDir: string): Promise<{ index: FootageIndex; library: Library; bytesRead: () => number }> {
    let bytes = 0;
    const index = new FootageIndex({ root, indexDir, log: createLogger('test', 'silent'), onBytesRead: (_device, n) => (bytes += n) });
    index.start();
    await index.firstPass;
    return { index, library: new Library(root, { index }), bytesRead: () => bytes };
  }

  it('is used after a restart only for the same journal: a replaced journal is read from its start', async () => {
    const root = path.join(scratch.dir, 'restart');
    const indexDir = path.join(scratch.dir, 'restart-index');
    await mkdir(path.join(root, 'cam1'), { recursive: true });
    await mkdir(path.dirname(journalPathOf(root, 'cam1')), { recursive: true });
    for (const hour of [10, 11, 12]) {
      await writeFile(path.join(root, 'cam1', path.posix.basename(segment('cam1', hour).file)), 'x'.repeat(10));
      await appendToJournal(journalPathOf(root, 'cam1'), segment('cam1', hour));
    }
    const first = await indexed(root, indexDir);
    expect((await first.library.devices())[0]?.segments).toBe(3);
    await first.index.close();

    // Same journal: nothing read again, the footage all there.
    const second = await indexed(root, indexDir);
    expect(second.bytesRead()).toBe(0);
    expect((await second.library.footageBetween('cam1', 0, Date.parse('2026-11-25T00:00:00Z'))).map((f) => f.segment.sequence)).toEqual([10, 11, 12]);
    await second.index.close();

    // A new journal in its place (another file, other lines): read whole, the old index not used.
    const replacement = `${journalPathOf(root, 'cam1')}.new`;
    await writeFile(replacement, `${JSON.stringify({ ...segment('cam1', 12), sequence: 1 })}\n`);
    await rename(replacement, journalPathOf(root, 'cam1'));
    const third = await indexed(root, indexDir);
    expect(third.bytesRead()).toBeGreaterThan(0);
    expect((await third.library.footageBetween('cam1', 0, Date.parse('2026-11-25T00:00:00Z'))).map((f) => f.segment.sequence)).toEqual([1]);
    await third.index.close();
  });
});
