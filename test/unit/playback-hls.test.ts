// HLS playlists over the index (no file read: layouts are given), and the thumbnail cache's bounds.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hlsPlaylist, ThumbnailCache, type Footage, type HlsRequest, type Mp4Layout } from '../../functions/playback/index.js';
import { segmentFixture } from '../support/segment.js';

const T0 = Date.parse('2026-11-24T10:00:00Z');

function footage(startMs: number, seconds: number, format: 'mp4' | 'mkv' = 'mp4'): Footage {
  const segment = segmentFixture({ device: 'cam', start: startMs, seconds, format }, { audio: { codec: 'aac' } });
  return { segment, name: path.posix.basename(segment.file), path: segment.absolutePath, startMs, endMs: startMs + seconds * 1000 };
}

/** Pieces of 6 s from byte 1000, 10,000 bytes each. */
function layout(seconds: number): Mp4Layout {
  const pieces = [];
  for (let s = 0, i = 0; s < seconds; s += 6, i++) pieces.push({ offset: s, seconds: Math.min(6, seconds - s), from: 1000 + i * 10_000, to: 11_000 + i * 10_000 });
  return { initBytes: 1000, pieces };
}

const request = (startMs: number, endMs: number, video: 'copy' | 'h264' = 'copy'): HlsRequest => ({ device: 'cam', startMs, endMs, video, height: null });

describe('hlsPlaylist', () => {
  it('over a gap: a discontinuity, the next file’s init segment and its wall time; pieces outside the range left out', async () => {
    const files = [footage(T0, 60), footage(T0 + 3600_000, 60)];
    const text = await hlsPlaylist(request(T0 + 30_000, T0 + 3600_000 + 12_000), files, async (f) => layout((f.endMs - f.startMs) / 1000), null);
    const lines = text.trim().split('\n');
    expect(lines.filter((l) => l === '#EXT-X-DISCONTINUITY')).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('#EXT-X-MAP:'))).toEqual([
      '#EXT-X-MAP:URI="/files/cam/cam_20261124T100000Z.mp4",BYTERANGE="1000@0"',
      '#EXT-X-MAP:URI="/files/cam/cam_20261124T110000Z.mp4",BYTERANGE="1000@0"',
    ]);
    // 30 s to 60 s of the first (5 pieces), 0 to 12 s of the second (2 pieces).
    expect(lines.filter((l) => l.startsWith('#EXT-X-BYTERANGE:'))).toHaveLength(7);
    const wall = lines.filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:'));
    expect(wall[0]).toBe('#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:00:30.000Z');
    expect(wall[5]).toBe('#EXT-X-PROGRAM-DATE-TIME:2026-11-24T11:00:00.000Z');
    expect(lines.at(-1)).toBe('#EXT-X-ENDLIST');
  });

  it('a file without a fragment index makes every file pieces made on request (a playlist cannot go back from fMP4)', async () => {
    const files = [footage(T0, 12), footage(T0 + 12_000, 12, 'mkv')];
    const text = await hlsPlaylist(request(T0, T0 + 24_000), files, async (f) => (f.segment.format === 'mp4' ? layout(12) : null), null);
    expect(text).not.toContain('#EXT-X-MAP');
    expect(text.split('\n').filter((l) => l.startsWith('/api/hls/cam/piece.ts?'))).toEqual([
      '/api/hls/cam/piece.ts?file=cam_20261124T100000Z.mp4&from=0.000&to=6.000',
      '/api/hls/cam/piece.ts?file=cam_20261124T100000Z.mp4&from=6.000&to=12.000',
      '/api/hls/cam/piece.ts?file=cam_20261124T100012Z.mkv&from=0.000&to=6.000',
      '/api/hls/cam/piece.ts?file=cam_20261124T100012Z.mkv&from=6.000&to=12.000',
    ]);
  });

  it('a token given in the query goes on in every URI; no footage is a 404 naming start', async () => {
    const text = await hlsPlaylist(request(T0, T0 + 12_000, 'h264'), [footage(T0, 12)], async () => layout(12), 'secret-token-123456');
    const uris = text.split('\n').filter((l) => l.startsWith('/'));
    expect(uris).toHaveLength(2);
    for (const uri of uris) expect(uri).toMatch(/&video=h264&access_token=secret-token-123456$/);
    await expect(hlsPlaylist(request(T0 - 60_000, T0 - 1000), [footage(T0, 12)], async () => null, null)).rejects.toMatchObject({ statusCode: 404, message: expect.stringMatching(/^start: no footage/) as unknown });
  });
});

describe('ThumbnailCache', () => {
  it('in memory: bounded, the least recently used dropped first', async () => {
    const cache = new ThumbnailCache(undefined, 1000);
    await cache.put('a', Buffer.alloc(400));
    await cache.put('b', Buffer.alloc(400));
    expect(await cache.get('a')).not.toBeNull();
    await cache.put('c', Buffer.alloc(400));
    expect(await cache.get('b')).toBeNull();
    expect(await cache.get('a')).not.toBeNull();
    expect(await cache.get('c')).not.toBeNull();
  });

  it('in a folder: bounded too (files removed), and what an earlier run left is counted', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-thumbs-'));
    try {
      const key = (n: number): string => String(n).padStart(32, '0');
      const first = new ThumbnailCache(dir, 1000);
      await first.put(key(1), Buffer.alloc(400));
      await first.put(key(2), Buffer.alloc(400));
      const second = new ThumbnailCache(dir, 1000);
      expect(await second.get(key(2))).toHaveLength(400);
      await second.put(key(3), Buffer.alloc(400));
      expect((await readdir(dir)).sort()).toEqual([`${key(2)}.jpg`, `${key(3)}.jpg`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
