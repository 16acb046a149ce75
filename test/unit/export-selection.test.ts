import { describe, expect, it } from 'vitest';
import { parseJournal, parseListing, parseTimeArgument, planFile, Progress, selectSegments, startFromName, type ExportItem } from '../../functions/export/index.js';

const sha = (c: string): string => c.repeat(64);

const listing = parseListing(
  [
    '1000 cam1_20261124T100000Z.mp4',
    '2000 cam1_20261124T110000Z.mp4',
    '3000 cam1_20261124T120000Z.mp4',
    '3001 cam1_20261124T120000Z_1.mp4',
    '50 notes.txt',
    '10 cam2_20261124T100000Z.mp4',
    'garbage line',
  ].join('\n'),
);
const journal = parseJournal(
  [
    JSON.stringify({ file: 'cam1/cam1_20261124T100000Z.mp4', startTime: '2026-11-24T10:00:00.000Z', endTime: '2026-11-24T11:00:00.000Z', bytes: 1000, sha256: sha('a') }),
    JSON.stringify({ file: 'cam1/cam1_20261124T110000Z.mp4', startTime: '2026-11-24T11:00:00.000Z', endTime: '2026-11-24T11:30:00.000Z', bytes: 1999, sha256: sha('b') }),
    JSON.stringify({ file: 'cam1/cam1_20261124T090000Z.mp4', bytes: 5, sha256: sha('c') }),
    '{"torn":',
  ].join('\n'),
);

describe('which segments an export copies', () => {
  it('takes what the pod lists, with sizes and checksums from the journal', () => {
    const items = selectSegments('cam1', listing, journal, {});
    expect(items.map((i) => i.name)).toEqual(['cam1_20261124T100000Z.mp4', 'cam1_20261124T110000Z.mp4', 'cam1_20261124T120000Z.mp4', 'cam1_20261124T120000Z_1.mp4']);
    expect(items[0]).toMatchObject({ bytes: 1000, sha256: sha('a') });
    // The journal wins on size: a file that changed after it was finished must not pass as good.
    expect(items[1]).toMatchObject({ bytes: 1999, sizeMismatch: { journal: 1999, pod: 2000 } });
    expect(items[2]?.sha256).toBeUndefined();
  });

  it('keeps segments that overlap [since, until)', () => {
    const pick = (since?: string, until?: string): string[] =>
      selectSegments('cam1', listing, journal, { ...(since ? { since: new Date(since) } : {}), ...(until ? { until: new Date(until) } : {}) }).map((i) => i.name);
    expect(pick('2026-11-24T10:30:00Z', '2026-11-24T11:15:00Z')).toEqual(['cam1_20261124T100000Z.mp4', 'cam1_20261124T110000Z.mp4']);
    // 11:00 segment ends 11:30 by the journal.
    expect(pick('2026-11-24T11:30:00Z')).toEqual(['cam1_20261124T120000Z.mp4', 'cam1_20261124T120000Z_1.mp4']);
    expect(pick(undefined, '2026-11-24T10:00:00Z')).toEqual([]);
  });

  it('reads start times from file names', () => {
    expect(startFromName('cam1_20261124T101530Z_2.mkv')?.toISOString()).toBe('2026-11-24T10:15:30.000Z');
    expect(startFromName('cam1.mp4')).toBeNull();
  });

  it('parses --since/--until as ISO times or ages', () => {
    const now = Date.parse('2026-11-24T12:00:00Z');
    expect(parseTimeArgument('90m', now)?.toISOString()).toBe('2026-11-24T10:30:00.000Z');
    expect(parseTimeArgument('7d', now)?.toISOString()).toBe('2026-11-17T12:00:00.000Z');
    expect(parseTimeArgument('2026-11-24T10:00:00Z')?.toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(parseTimeArgument('yesterday')).toBeUndefined();
  });
});

describe('resume plan per file', () => {
  const item: ExportItem = { name: 'x.mp4', bytes: 100, sha256: sha('a'), start: new Date(0), end: null };
  const noSha: ExportItem = { name: 'y.mp4', bytes: 100, start: new Date(0), end: null };

  it('fetches what is not here', () => {
    expect(planFile(item, {}, undefined)).toEqual({ kind: 'fetch', reason: 'new' });
  });
  it('skips a copy verified before (same size, mtime and checksum), hashes it once otherwise', () => {
    const final = { bytes: 100, mtimeMs: 5 };
    expect(planFile(item, { final }, { bytes: 100, mtimeMs: 5, sha256: sha('a') })).toEqual({ kind: 'skip', reason: 'verified' });
    expect(planFile(item, { final }, { bytes: 100, mtimeMs: 6, sha256: sha('a') })).toEqual({ kind: 'verify' });
    expect(planFile(item, { final }, undefined)).toEqual({ kind: 'verify' });
    expect(planFile(noSha, { final }, undefined)).toEqual({ kind: 'skip', reason: 'same-size' });
  });
  it('fetches again a copy of another size', () => {
    expect(planFile(item, { final: { bytes: 99, mtimeMs: 1 } }, undefined)).toEqual({ kind: 'fetch', reason: 'size-differs' });
  });
  it('continues an interrupted copy from its last byte', () => {
    expect(planFile(item, { partialBytes: 40 }, undefined)).toEqual({ kind: 'resume', offset: 40 });
    expect(planFile(item, { partialBytes: 0 }, undefined)).toEqual({ kind: 'fetch', reason: 'new' });
    expect(planFile(item, { partialBytes: 150 }, undefined)).toEqual({ kind: 'fetch', reason: 'partial-too-long' });
  });
});

describe('progress bar', () => {
  it('shows percent, bytes, rate and files', () => {
    let t = 0;
    const p = new Progress(null, 2 * 1024 * 1024, 4, () => t);
    p.begin('cam1_20261124T100000Z.mp4');
    p.advance(1024 * 1024);
    p.fileDone('cam1_20261124T100000Z.mp4', 'copied');
    t = 1000;
    expect(p.line(200)).toBe('[##########----------]  50% 1.0 MiB/2.0 MiB 1.0 MiB/s 1/4 files cam1_20261124T100000Z.mp4');
  });

  it('writes one line per file when stderr is not a terminal', () => {
    const lines: string[] = [];
    const p = new Progress({ write: (t: string) => lines.push(t), isTTY: false }, 10, 2);
    p.advance(10);
    p.fileDone('a.mp4', 'copied');
    p.fileDone('b.mp4', 'skipped');
    p.finish();
    expect(lines).toEqual(['1/2 a.mp4: copied\n', '2/2 b.mp4: skipped\n']);
  });
});
