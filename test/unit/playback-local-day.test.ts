// The viewer's day: /api/timeline's `tz` and `day`, local midnight to the next, 23 or 25 hours when clocks change.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startPlaybackServer } from '../../functions/playback/index.js';
import { appendToJournal, journalPathOf, type Segment } from '../../functions/recorder/index.js';
import { useScratch } from '../support/scratch.js';
import { segmentFixture } from '../support/segment.js';

const scratch = useScratch('shifu-playback-day-');

function segment(device: string, start: string, seconds: number): Segment {
  return segmentFixture({ device, start, seconds });
}

/** A server over a volume with one device whose segments start at the given UTC times (10 minutes each). */
async function serverWith(device: string, starts: string[]): Promise<string> {
  const root = path.join(scratch.dir, `root-${Math.random().toString(36).slice(2)}`);
  await mkdir(path.join(root, device), { recursive: true });
  await mkdir(path.dirname(journalPathOf(root, device)), { recursive: true });
  for (const start of starts) {
    const s = segment(device, start, 600);
    await writeFile(path.join(root, s.file), 'x'.repeat(100));
    await appendToJournal(journalPathOf(root, device), s);
  }
  const server = await startPlaybackServer(
    { root, listen: { host: '127.0.0.1', port: 0 }, token: undefined, maxClipSeconds: 3600, ffmpeg: '/nonexistent/ffmpeg', ffprobe: '/nonexistent/ffprobe' },
    pino({ level: 'silent' }),
  );
  scratch.defer(() => server.close());
  return `http://127.0.0.1:${server.port}`;
}

interface Answer {
  start: string;
  end: string;
  timeZone: string;
  day: string | null;
  spans: Array<{ start: string; end: string }>;
}

async function timeline(base: string, query: string): Promise<{ status: number; body: Answer & { message?: string } }> {
  const res = await fetch(`${base}/api/timeline?${query}`);
  return { status: res.status, body: (await res.json()) as Answer & { message?: string } };
}

describe('/api/timeline in the viewer’s time zone', () => {
  it('answers the New York day clocks fall back (25 hours), its repeated 01:00 hour twice, in order', async () => {
    // 2026-11-01 01:10 EDT (05:10Z) and 01:10 EST (06:10Z): the same local time, an hour apart.
    const base = await serverWith('ny', ['2026-11-01T05:10:00Z', '2026-11-01T06:10:00Z']);
    const { status, body } = await timeline(base, 'device=ny&tz=America/New_York');
    expect(status).toBe(200);
    expect(body).toMatchObject({ timeZone: 'America/New_York', day: '2026-11-01', start: '2026-11-01T04:00:00.000Z', end: '2026-11-02T05:00:00.000Z' });
    expect(body.spans.map((s) => s.start)).toEqual(['2026-11-01T05:10:00.000Z', '2026-11-01T06:10:00.000Z']);
  });

  it('answers the New York day clocks spring forward as 23 hours', async () => {
    const base = await serverWith('ny', ['2026-03-08T12:00:00Z']);
    const { body } = await timeline(base, 'device=ny&tz=America/New_York');
    expect(body).toMatchObject({ day: '2026-03-08', start: '2026-03-08T05:00:00.000Z', end: '2026-03-09T04:00:00.000Z' });
  });

  it('splits footage across Kolkata’s midnight (+05:30) between the two local days', async () => {
    // 18:20Z-18:30Z is 23:50-00:00 IST on the 24th; 18:30Z-18:40Z is 00:00-00:10 IST on the 25th.
    const base = await serverWith('in', ['2026-11-24T18:20:00Z', '2026-11-24T18:30:00Z']);
    const last = await timeline(base, 'device=in&tz=Asia/Kolkata');
    expect(last.body).toMatchObject({ day: '2026-11-25', start: '2026-11-24T18:30:00.000Z', end: '2026-11-25T18:30:00.000Z' });
    const before = await timeline(base, 'device=in&tz=Asia/Kolkata&day=2026-11-24');
    expect(before.body).toMatchObject({ day: '2026-11-24', start: '2026-11-23T18:30:00.000Z', end: '2026-11-24T18:30:00.000Z' });
    expect(before.body.spans.map((s) => [s.start, s.end])).toEqual([['2026-11-24T18:20:00.000Z', '2026-11-24T18:30:00.000Z']]);
    expect(last.body.spans.map((s) => [s.start, s.end])).toEqual([['2026-11-24T18:30:00.000Z', '2026-11-24T18:40:00.000Z']]);
  });

  it('keeps UTC without tz, and footage ending at midnight belongs to the day it ends', async () => {
    const base = await serverWith('utc', ['2026-11-24T23:50:00Z']);
    const { body } = await timeline(base, 'device=utc');
    expect(body).toMatchObject({ timeZone: 'UTC', day: '2026-11-24', start: '2026-11-24T00:00:00.000Z', end: '2026-11-25T00:00:00.000Z' });
    expect(body.spans).toHaveLength(1);
  });

  it('refuses an unknown zone or a bad day with 400 naming the parameter', async () => {
    const base = await serverWith('utc', ['2026-11-24T10:00:00Z']);
    for (const [query, message] of [
      ['device=utc&tz=Mars/Olympus_Mons', /^tz: unknown time zone "Mars\/Olympus_Mons"/],
      ['device=utc&tz=constructor', /^tz: unknown time zone/],
      ['device=utc&day=2026-02-30', /^day: expected a date YYYY-MM-DD/],
      ['device=utc&day=2026-11-24&start=2026-11-24T00:00:00Z', /^day: give day or start\/end, not both/],
    ] as const) {
      const { status, body } = await timeline(base, query);
      expect(status, query).toBe(400);
      expect(body.message, query).toMatch(message);
    }
  });
});
