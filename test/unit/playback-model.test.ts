// The playback server's pure parts: spans and gaps, request parsing, file paths, the concat script.
import { describe, expect, it } from 'vitest';
import { HttpError, parseDuration } from '../../functions/lib/index.js';
import { audioFor, concatScript, parseFilePath, parseFormat, parseRange, timelineOf, type ClipPlan, type Footage } from '../../functions/playback/index.js';
import { segmentFixture } from '../support/segment.js';

const T0 = Date.parse('2026-11-24T10:00:00Z');

function footage(name: string, startS: number, endS: number): Footage {
  const segment = segmentFixture({ device: 'cam', start: T0 + startS * 1000, seconds: endS - startS }, { file: `cam/${name}`, absolutePath: `/data/cam/${name}`, bytes: 1000, audio: { codec: 'aac' } });
  return { segment, name, path: `/data/cam/${name}`, startMs: T0 + startS * 1000, endMs: T0 + endS * 1000 };
}

function refusal(fn: () => unknown): { status: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return { status: err.statusCode, message: err.message };
    throw err;
  }
  throw new Error('not refused');
}

describe('timelineOf', () => {
  const all = [footage('cam_a.mp4', 0, 4), footage('cam_b.mp4', 4, 8), footage('cam_c.mp4', 8.5, 12), footage('cam_d.mp4', 22, 26)];

  it('merges segments that meet (within 2 s) into one span and reports the gap between spans', () => {
    const t = timelineOf('cam', all, T0 - 3600_000, T0 + 3600_000);
    expect(t.spans.map((s) => s.segments.map((g) => g.file))).toEqual([['cam_a.mp4', 'cam_b.mp4', 'cam_c.mp4'], ['cam_d.mp4']]);
    expect(t.gaps).toEqual([{ start: '2026-11-24T10:00:12.000Z', end: '2026-11-24T10:00:22.000Z', durationSeconds: 10 }]);
    expect(t.spans[0]!.segments[0]!.url).toBe('/files/cam/cam_a.mp4');
  });

  it('keeps only segments that overlap the window, whole', () => {
    const t = timelineOf('cam', all, T0 + 9000, T0 + 10_000);
    expect(t.spans).toHaveLength(1);
    expect(t.spans[0]!.start).toBe('2026-11-24T10:00:08.500Z');
    expect(t.gaps).toEqual([]);
  });
});

describe('clip request parsing', () => {
  const q = (s: string): URLSearchParams => new URLSearchParams(s);

  it('takes start with a duration or an end', () => {
    expect(parseRange(q('start=2026-11-24T10:15:00Z&duration=5m'), 21600)).toEqual({ startMs: Date.parse('2026-11-24T10:15:00Z'), endMs: Date.parse('2026-11-24T10:20:00Z') });
    expect(parseRange(q('start=2026-11-24T10:15:00%2B01:00&end=2026-11-24T09:20:00Z'), 21600).endMs - Date.parse('2026-11-24T09:15:00Z')).toBe(300_000);
  });

  it('names the parameter at fault', () => {
    expect(refusal(() => parseRange(q('duration=10'), 60))).toEqual({ status: 400, message: expect.stringMatching(/^start: required/) });
    expect(refusal(() => parseRange(q('start=2026-11-24T10:15:00&duration=10'), 60)).message).toMatch(/^start: expected an ISO 8601 time with a zone/);
    expect(refusal(() => parseRange(q('start=2026-11-24T10:15:00Z&duration=2m'), 60)).message).toBe('duration: at most 60 s (PLAYBACK_MAX_CLIP)');
    expect(refusal(() => parseRange(q('start=2026-11-24T10:15:00Z&duration=0'), 60)).message).toMatch(/^duration: expected a positive duration/);
    expect(refusal(() => parseRange(q('start=2026-11-24T10:15:00Z&end=2026-11-24T10:16:01Z'), 60)).message).toMatch(/^end: the range is at most 60 s/);
    expect(refusal(() => parseRange(q('start=2026-11-24T10:15:00Z&end=2026-11-24T10:16:00Z&duration=1'), 600)).message).toMatch(/^duration: give duration or end/);
    expect(refusal(() => parseFormat(q('format=flv'))).message).toBe('format: expected one of mp4, mkv, ts');
    expect(parseFormat(q(''))).toBe('mp4');
  });

  it('reads durations as people write them', () => {
    expect(parseDuration('6h')).toBe(21600);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('PT5M')).toBe(300);
    expect(parseDuration('300')).toBe(300);
    expect(parseDuration('7d')).toBe(604_800);
    expect(parseDuration('1d12h')).toBe(129_600);
    expect(parseDuration('2.5s')).toBe(2.5);
    expect(parseDuration('forever')).toBeNull();
    expect(parseDuration('')).toBeNull();
  });
});

describe('parseFilePath', () => {
  it('takes a device and a segment file name', () => {
    expect(parseFilePath('/files/cam/cam_20261124T100000Z.mp4')).toEqual({ device: 'cam', name: 'cam_20261124T100000Z.mp4' });
    expect(parseFilePath('/files/cam/cam_20261124T100000Z_1.ts')).toEqual({ device: 'cam', name: 'cam_20261124T100000Z_1.ts' });
  });

  it.each([
    '/files/cam/..%2F..%2Fetc%2Fpasswd',
    '/files/cam/..',
    '/files/cam/%2e%2e',
    '/files/../cam/cam_20261124T100000Z.mp4',
    '/files/cam/sub/cam_20261124T100000Z.mp4',
    '/files/cam/cam_20261124T100000Z.mp4%00',
    '/files/cam/other_20261124T100000Z.mp4',
    '/files/Cam/Cam_20261124T100000Z.mp4',
    '/files/cam/%E0%A4%A',
  ])('refuses %s with 400', (p) => {
    expect(refusal(() => parseFilePath(p)).status).toBe(400);
  });
});

describe('concatScript', () => {
  it('lists the files as file: URLs, quoted, with the first one starting just before its keyframe', () => {
    const plan = { parts: [footage("cam_a.mp4", 0, 4), { ...footage('cam_b.mp4', 4, 8), path: "/data/o'brien/cam_b.mp4" }], inpoint: 2.04 } as unknown as ClipPlan;
    // The last file is read without ffmpeg's index of its fragments: nothing is sought in it.
    expect(concatScript(plan)).toBe("ffconcat version 1.0\nfile 'file:/data/cam/cam_a.mp4'\ninpoint 2.039900\nfile 'file:/data/o'\\''brien/cam_b.mp4'\noption fflags +ignidx\n");
  });

  it("reads the first file from its keyframe's fragment when its index gave it, and says where the next file follows on", () => {
    const entry = { keyframe: 2.04, fileStart: 0, initBytes: 1270, moof: 443720519, end: 4.08 };
    const plan = { parts: [footage('cam_a.mp4', 0, 4), footage('cam_b.mp4', 4, 8)], inpoint: 2.04, entry } as unknown as ClipPlan;
    expect(concatScript(plan)).toBe(
      [
        'ffconcat version 1.0',
        "file 'concat:subfile,,start,0,end,1270,,:file:/data/cam/cam_a.mp4|subfile,,start,443720519,end,0,,:file:/data/cam/cam_a.mp4'",
        'option fflags +ignidx',
        'duration 2.040100',
        'inpoint 2.039900',
        "file 'file:/data/cam/cam_b.mp4'",
        'option fflags +ignidx',
        '',
      ].join('\n'),
    );
    // A path the concat protocol cannot hold (`|` separates its parts): ffmpeg seeks in the whole file instead.
    const odd = { ...plan, parts: [{ ...footage('cam_a.mp4', 0, 4), path: '/data/a|b/cam_a.mp4' }] } as unknown as ClipPlan;
    expect(concatScript(odd)).toBe("ffconcat version 1.0\nfile 'file:/data/a|b/cam_a.mp4'\ninpoint 2.039900\n");
  });
});

describe('audioFor', () => {
  it.each([
    ['mp4', 'aac', 'mp4', { mode: 'copy', recorded: 'aac', adtsToAsc: false }],
    ['mkv', 'pcm_alaw', 'mkv', { mode: 'copy', recorded: 'pcm_alaw', adtsToAsc: false }],
    ['mkv', 'pcm_alaw', 'mp4', { mode: 'aac', recorded: 'pcm_alaw', adtsToAsc: false }],
    ['mkv', 'pcm_mulaw', 'ts', { mode: 'aac', recorded: 'pcm_mulaw', adtsToAsc: false }],
    ['ts', 'aac', 'mp4', { mode: 'copy', recorded: 'aac', adtsToAsc: true }],
    ['ts', 'aac', 'mkv', { mode: 'aac', recorded: 'aac', adtsToAsc: false }],
    ['ts', 'aac', 'ts', { mode: 'copy', recorded: 'aac', adtsToAsc: false }],
    ['mp4', null, 'mkv', { mode: 'none', recorded: null, adtsToAsc: false }],
  ] as const)('%s with %s into %s', (recorded, codec, format, expected) => {
    expect(audioFor(recorded, codec, format)).toEqual(expected);
  });
});
