// The tests' one fake segment (test/support/segment.ts) is a segment the readers accept: a journal line made of
// it reads back as itself, and its name is the one the recorder gives a file started then.
import { describe, expect, it } from 'vitest';
import { isSegmentFileName, journalRecordOf } from '../../functions/contracts/index.js';
import { segmentFixture } from '../support/segment.js';

describe('segment fixture (test/support/segment.ts)', () => {
  it('reads back from a journal line as the same segment, named after its device and start', () => {
    const segment = segmentFixture({ device: 'cam1', start: '2026-11-24T10:00:05.000Z', seconds: 3, root: '/volume' }, { sequence: 7 });
    expect(journalRecordOf(JSON.parse(JSON.stringify(segment)))).toEqual({ kind: 'segment', segment });
    expect(segment.file).toBe('cam1/cam1_20261124T100005Z.mp4');
    expect(isSegmentFileName('cam1', segment.file.split('/')[1]!)).toBe(true);
    expect([segment.absolutePath, segment.endTime, segment.sequence]).toEqual(['/volume/cam1/cam1_20261124T100005Z.mp4', '2026-11-24T10:00:08.000Z', 7]);
  });
});
