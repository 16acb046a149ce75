// Playback's cache of the bucket's day files (bucket-library.ts): past days are kept, today's is asked again whether
// it changed, memory is bounded, a long range is refused, and a failure is a 503 naming the device and the cause.
import { describe, expect, it } from 'vitest';
import type { BucketTimeline, DayFile } from '../../functions/archive/index.js';
import { BucketTimelineError } from '../../functions/archive/index.js';
import { BucketLibrary, PAST_DAY_TTL_MS, RECENT_DAY_TTL_MS } from '../../functions/playback/bucket-library.js';
import { segmentFixture } from '../support/segment.js';

const NOW = Date.parse('2026-12-07T12:00:00Z');

/** A timeline reader that counts what it is asked: every day has one hour-long segment at 10:00. */
function countingTimeline(fail: Error | null = null): { timeline: BucketTimeline; asked: Array<[string, string | null]> } {
  const asked: Array<[string, string | null]> = [];
  const reader = {
    devices: async () => ['cam'],
    days: async () => ['2026-12-01', '2026-12-07'],
    day: async (_device: string, day: string, etag: string | null): Promise<DayFile | 'unchanged'> => {
      asked.push([day, etag]);
      if (fail) throw fail;
      if (etag === `"${day}"`) return 'unchanged';
      return { segments: [segmentFixture({ device: 'cam', start: `${day}T10:00:00Z`, seconds: 3600 })], etag: `"${day}"` };
    },
    object: async () => 'unsatisfiable' as const,
    close: () => undefined,
  };
  return { timeline: reader as unknown as BucketTimeline, asked };
}

const day = (d: string): [number, number] => [Date.parse(`${d}T00:00:00Z`), Date.parse(`${d}T00:00:00Z`) + 86_400_000];

describe('the bucket library', () => {
  it('keeps a past day file, and asks again with its ETag after a while; today after seconds', async () => {
    let now = NOW;
    const { timeline, asked } = countingTimeline();
    const library = new BucketLibrary({ timeline, now: () => now });
    expect((await library.footageBetween('cam', ...day('2026-12-01'))).map((f) => f.name)).toEqual(['cam_20261201T100000Z.mp4']);
    await library.footageBetween('cam', ...day('2026-12-07'));
    expect(asked).toEqual([['2026-12-01', null], ['2026-12-07', null]]);
    now += RECENT_DAY_TTL_MS + 1;
    await library.footageBetween('cam', ...day('2026-12-01'));
    await library.footageBetween('cam', ...day('2026-12-07'));
    // Today's is asked again (a conditional GET); the past day is not.
    expect(asked.slice(2)).toEqual([['2026-12-07', '"2026-12-07"']]);
    now += PAST_DAY_TTL_MS;
    const again = await library.footageBetween('cam', ...day('2026-12-01'));
    expect(asked.at(-1)).toEqual(['2026-12-01', '"2026-12-01"']);
    expect(again.map((f) => f.name)).toEqual(['cam_20261201T100000Z.mp4']);
  });

  it('holds at most its bound of segment lines, dropping the least recently used day', async () => {
    const { timeline, asked } = countingTimeline();
    const library = new BucketLibrary({ timeline, now: () => NOW, maxCachedSegments: 2 });
    for (const d of ['2026-11-01', '2026-11-02', '2026-11-03']) await library.footageBetween('cam', ...day(d));
    await library.footageBetween('cam', ...day('2026-11-03'));
    await library.footageBetween('cam', ...day('2026-11-01'));
    expect(asked.map(([d]) => d)).toEqual(['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-01']);
  });

  it('refuses a range of more than 31 days, and answers a failure with a 503 naming the device and the cause', async () => {
    const library = new BucketLibrary({ timeline: countingTimeline().timeline, now: () => NOW });
    await expect(library.footageBetween('cam', Date.parse('2026-01-01T00:00:00Z'), Date.parse('2026-03-01T00:00:00Z'))).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/^end: .*31 days/) });
    const refused = new BucketLibrary({ timeline: countingTimeline(new BucketTimelineError('2026-12-07', 'credentials', 'refused the credentials')).timeline, now: () => NOW });
    await expect(refused.footageBetween('cam', ...day('2026-12-07'))).rejects.toMatchObject({ statusCode: 503, message: expect.stringMatching(/^device: cam: the bucket cannot be read \(credentials\)/) });
  });
});

describe('PLAYBACK_S3_* at start-up', () => {
  it('a bad or half-given bucket configuration stops start-up naming the variable', async () => {
    const { playbackCommand } = await import('../../functions/commands/playback.js');
    await expect(playbackCommand.execute([], { PLAYBACK_S3_ENDPOINT: 'http://127.0.0.1:9000' })).rejects.toThrow(/^invalid PLAYBACK_S3_BUCKET: PLAYBACK_S3_ENDPOINT is set/);
    await expect(playbackCommand.execute([], { PLAYBACK_S3_BUCKET: 'Not_A_Bucket' })).rejects.toThrow(/PLAYBACK_S3_BUCKET/);
    await expect(playbackCommand.execute([], { PLAYBACK_S3_BUCKET: 'footage', PLAYBACK_S3_ENDPOINT: 'ftp://x' })).rejects.toThrow(/PLAYBACK_S3_ENDPOINT/);
    await expect(playbackCommand.execute([], { PLAYBACK_S3_BUCKET: 'footage', PLAYBACK_S3_PREFIX: '/site1/' })).rejects.toThrow(/PLAYBACK_S3_PREFIX/);
    await expect(playbackCommand.execute([], { PLAYBACK_S3_BUCKET: 'footage', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' })).rejects.toThrow(/^invalid AWS_SECRET_ACCESS_KEY/);
  });
});
