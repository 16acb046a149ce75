// HLS of recordings and thumbnails (issue 22 sections 5 and 4) on a volume mounted read-only: six hours of
// footage (one real hour of fragmented MP4 as the recorder writes it, 1 frame a second, hard-linked under six
// journaled hours) and an MKV recording; ffmpeg plays the playlists, Chromium plays six hours through hls.js
// and seeks to three far-apart points, and shows a thumbnail over the timeline.
import { execFile } from 'node:child_process';
import { link, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';
import { useScratch } from '../support/scratch.js';
import { requireTool } from './fixtures/camera.js';
import { decodeCheck, FFMPEG, probeFile } from './fixtures/player.js';
import { startCli, type CliProcess } from './support/recorder-process.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'hls-test-token-0123456789';
const DAY = '2026-11-24';
const HOUR_MS = 3_600_000;
const FOOTAGE_START = Date.parse(`${DAY}T10:00:00Z`);

const scratch = useScratch('shifu-playback-hls-');
let volume: string;
let readOnly: string;
let cacheDir: string;
let playback: CliProcess;
let guarded: CliProcess;
let browser: Browser;
const cleanups: Array<() => Promise<unknown>> = [];

/** Journals `file` as `count` consecutive segments of `device`, `seconds` each, from `start` (hard links: no copies). */
async function place(device: string, file: string, start: number, seconds: number, count: number, format: 'mp4' | 'mkv'): Promise<void> {
  await mkdir(path.join(volume, device), { recursive: true });
  await mkdir(path.dirname(journalPathOf(volume, device)), { recursive: true });
  for (let i = 0; i < count; i++) {
    const startMs = start + i * seconds * 1000;
    const segment = segmentFixture(
      { device, start: startMs, seconds, format, root: volume },
      { sequence: i + 1, bytes: 1, video: { codec: 'h264', width: 160, height: 120, fps: 1 }, audio: { codec: 'aac' } },
    );
    await link(file, segment.absolutePath);
    await appendToJournal(journalPathOf(volume, device), segment);
  }
}

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'ffprobe', CHROMIUM]) requireTool(tool);
  volume = path.join(scratch.dir, 'volume');
  readOnly = path.join(scratch.dir, 'read-only');
  cacheDir = path.join(scratch.dir, 'cache');
  const hour = path.join(scratch.dir, 'hour.mp4');
  // Ten minutes encoded, then looped into an hour with the recorder's MP4 muxer options (functions/recorder/plan.ts)
  // through the segment muxer, as it runs them.
  const tenMinutes = path.join(scratch.dir, 'ten-minutes.mp4');
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=1', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000',
    '-t', '600', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '40', '-g', '2', '-bf', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '16k', tenMinutes]);
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-stream_loop', '5', '-i', tenMinutes, '-map', '0', '-c', 'copy',
    '-f', 'segment', '-segment_time', '4000', '-segment_format', 'mp4',
    '-segment_format_options', 'movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration=1000000:flush_packets=1',
    path.join(scratch.dir, 'hour%d.mp4')]);
  await run('mv', [path.join(scratch.dir, 'hour0.mp4'), hour]);
  // MKV with B-frames and a 2 s GOP, 20 s: pieces made on request.
  const mkv = path.join(scratch.dir, 'short.mkv');
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-bf', '2', '-pix_fmt', 'yuv420p', '-c:a', 'aac', mkv]);
  await place('cam', hour, FOOTAGE_START, 3600, 6, 'mp4');
  await place('mkvcam', mkv, FOOTAGE_START, 20, 2, 'mkv');
  // The volume as the export pod mounts it: read-only.
  await mkdir(readOnly);
  await run('mount', ['--bind', volume, readOnly]);
  cleanups.push(() => run('umount', [readOnly]));
  await run('mount', ['-o', 'remount,bind,ro', readOnly]);
  playback = await startCli('playback', ['--root', readOnly, '--cache-dir', cacheDir], {}, { httpFlag: 'listen' });
  guarded = await startCli('playback', ['--root', readOnly], { PLAYBACK_TOKEN: TOKEN }, { httpFlag: 'listen' });
  cleanups.push(() => playback.stop('SIGKILL'), () => guarded.stop('SIGKILL'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  cleanups.push(() => browser.close());
}, 120_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const iso = (ms: number): string => new Date(ms).toISOString();

/** One sample of a Prometheus text exposition, by name and labels (in any order); 0 when absent. */
function metric(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}
const hlsUrl = (base: string, device: string, start: number, end: number, extra = ''): string => `${base}/api/hls/${device}.m3u8?start=${iso(start)}&end=${iso(end)}${extra}`;

describe('GET /api/hls/<device>.m3u8', () => {
  it('the volume is mounted read-only', async () => {
    const { stdout } = await run('findmnt', ['-n', '-o', 'OPTIONS', readOnly]);
    expect(stdout.split(',')).toContain('ro');
  });

  it('six hours of fragmented MP4: one playlist of byte ranges, a discontinuity and an init segment per file, wall times', async () => {
    const res = await fetch(hlsUrl(playback.baseUrl, 'cam', FOOTAGE_START, FOOTAGE_START + 6 * HOUR_MS));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const text = await res.text();
    const count = (re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;
    expect(count(/^#EXT-X-MAP:URI="\/files\/cam\/cam_2026112\dT\d{6}Z\.mp4",BYTERANGE="\d+@0"$/)).toBe(6);
    expect(count(/^#EXT-X-DISCONTINUITY$/)).toBe(5);
    expect(count(/^#EXT-X-BYTERANGE:\d+@\d+$/)).toBe(count(/^#EXTINF:/));
    expect(text).toMatch(/#EXT-X-ENDLIST\n$/);
    const seconds = text.split('\n').filter((l) => l.startsWith('#EXTINF:')).reduce((sum, l) => sum + Number.parseFloat(l.slice(8)), 0);
    expect(seconds).toBeGreaterThan(6 * 3600 - 10);
    expect(seconds).toBeLessThan(6 * 3600 + 10);
    const wall = text.split('\n').filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')).map((l) => Date.parse(l.slice(25)));
    expect(wall[0]! - FOOTAGE_START).toBeLessThan(1000);
    expect(wall.at(-1)! - (FOOTAGE_START + 6 * HOUR_MS)).toBeLessThan(0);
    expect(wall.at(-1)! - (FOOTAGE_START + 6 * HOUR_MS)).toBeGreaterThan(-10_000);
  });

  it('ffmpeg plays a range across two files, through the byte ranges of /files/', async () => {
    // 11:59 to 12:01: the end of one file and the start of the next; 1 frame a second.
    const url = hlsUrl(playback.baseUrl, 'cam', FOOTAGE_START + 2 * HOUR_MS - 60_000, FOOTAGE_START + 2 * HOUR_MS + 60_000);
    const result = await decodeCheck(url);
    expect(result.decodedVideoFrames).toBeGreaterThanOrEqual(118);
    expect(result.decodedVideoFrames).toBeLessThanOrEqual(132);
    expect(result.decodedAudioFrames).toBeGreaterThan(0);
  });

  it('MKV: pieces made on request (MPEG-TS, -c copy) that tile the file, each frame once', async () => {
    // Two pieces, 0-6 s and 6-12 s: keyframes at 0.02, 2.02 ... s, so they hold 0.02-4.02 and 4.02-10.02 (250 frames).
    const url = hlsUrl(playback.baseUrl, 'mkvcam', FOOTAGE_START, FOOTAGE_START + 12_000);
    const text = await (await fetch(url)).text();
    expect(text).not.toContain('#EXT-X-MAP');
    expect(text.split('\n').filter((l) => l.startsWith('/'))).toEqual([
      '/api/hls/mkvcam/piece.ts?file=mkvcam_20261124T100000Z.mkv&from=0.000&to=6.000',
      '/api/hls/mkvcam/piece.ts?file=mkvcam_20261124T100000Z.mkv&from=6.000&to=12.000',
    ]);
    const result = await decodeCheck(url);
    expect(result.errors).toEqual([]);
    expect(result.decodedVideoFrames).toBe(250);
    expect(result.decodedAudioFrames).toBeGreaterThan(0);
    // What an operator watches: the playlist and both pieces counted as answered, and how long each piece took.
    const metrics = await (await fetch(`${playback.baseUrl}/metrics`)).text();
    expect(metric(metrics, 'shifu_rtsp_playback_recording_requests_total', { route: 'playlist', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(metric(metrics, 'shifu_rtsp_playback_recording_requests_total', { route: 'piece', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(metric(metrics, 'shifu_rtsp_playback_render_seconds_count', { kind: 'hls_piece' })).toBeGreaterThanOrEqual(2);
    expect(metric(metrics, 'shifu_rtsp_playback_render_seconds_count', { kind: 'hls_playlist' })).toBeGreaterThanOrEqual(1);
  });

  it('video=h264 re-encodes each piece to H.264 (height scaled), as the page asks for H.265', async () => {
    const res = await fetch(`${playback.baseUrl}/api/hls/mkvcam/piece.ts?file=mkvcam_20261124T100000Z.mkv&from=6&to=12&video=h264&height=120`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp2t');
    const file = path.join(scratch.dir, 'piece.ts');
    await writeFile(file, Buffer.from(await res.arrayBuffer()));
    const probe = await probeFile(file);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video?.codec_name).toBe('h264');
    expect(video?.height).toBe(120);
    const playlist = await (await fetch(hlsUrl(playback.baseUrl, 'cam', FOOTAGE_START, FOOTAGE_START + 60_000, '&video=h264&height=120'))).text();
    expect(playlist).toContain('/api/hls/cam/piece.ts?file=cam_20261124T100000Z.mp4&from=0.000&to=6.000&video=h264&height=120');
  });

  it('bad parameters are 400 naming the parameter; no footage is 404', async () => {
    const cases: Array<[string, number, RegExp]> = [
      [`/api/hls/cam.m3u8?end=${iso(FOOTAGE_START)}`, 400, /^start:/],
      [`/api/hls/cam.m3u8?start=${iso(FOOTAGE_START)}`, 400, /^end:/],
      [`/api/hls/cam.m3u8?start=${iso(FOOTAGE_START)}&end=${iso(FOOTAGE_START + 25 * HOUR_MS)}`, 400, /^end: a playlist covers at most 24 hours/],
      [`/api/hls/cam.m3u8?start=${iso(FOOTAGE_START)}&end=${iso(FOOTAGE_START - 1000)}`, 400, /^end:/],
      [`/api/hls/Not_A_Device.m3u8?start=${iso(FOOTAGE_START)}&end=${iso(FOOTAGE_START + 1000)}`, 400, /^device:/],
      [`/api/hls/%E0%A4%A.m3u8?start=${iso(FOOTAGE_START)}&end=${iso(FOOTAGE_START + 1000)}`, 400, /^device: not a valid URL path/],
      ['/api/hls/c%ZZ/piece.ts?file=x&from=0&to=6', 400, /^device: not a valid URL path/],
      [`/api/hls/cam.m3u8?start=${iso(FOOTAGE_START)}&end=${iso(FOOTAGE_START + 1000)}&video=vp9`, 400, /^video:/],
      [`/api/hls/cam.m3u8?start=2026-11-20T00:00:00Z&end=2026-11-20T01:00:00Z`, 404, /^start: no footage/],
      ['/api/hls/mkvcam/piece.ts?file=mkvcam_20261124T100000Z.mkv&from=x&to=6', 400, /^from:/],
      ['/api/hls/mkvcam/piece.ts?file=../../etc/passwd&from=0&to=6', 400, /^file:/],
      ['/api/hls/mkvcam/piece.ts?file=mkvcam_20261124T100000Z.mkv&from=6&to=2', 400, /^to:/],
      ['/api/hls/mkvcam/piece.ts?file=mkvcam_20261124T100000Z.mkv&from=0&to=90', 400, /^to:/],
      ['/api/thumbnail?device=cam', 400, /^time:/],
      [`/api/thumbnail?device=cam&time=${iso(FOOTAGE_START)}&width=5000`, 400, /^width:/],
      [`/api/thumbnail?device=cam&time=${iso(FOOTAGE_START)}&width=abc`, 400, /^width:/],
      ['/api/thumbnail?device=cam&time=2026-11-20T00:00:00Z', 404, /^time: no footage/],
    ];
    for (const [route, status, message] of cases) {
      const res = await fetch(`${playback.baseUrl}${route}`);
      const body = (await res.json()) as { message: string };
      expect({ route, status: res.status, message: body.message }).toEqual({ route, status, message: expect.stringMatching(message) as unknown });
    }
    const metrics = await (await fetch(`${playback.baseUrl}/metrics`)).text();
    expect(metric(metrics, 'shifu_rtsp_playback_recording_requests_total', { route: 'playlist', status: '400' })).toBeGreaterThanOrEqual(5);
    expect(metric(metrics, 'shifu_rtsp_playback_recording_requests_total', { route: 'playlist', status: '404' })).toBeGreaterThanOrEqual(1);
  });

  it('with PLAYBACK_TOKEN: 401 without it; access_token in the query goes on in the URIs, and ffmpeg plays it', async () => {
    const bare = hlsUrl(guarded.baseUrl, 'cam', FOOTAGE_START, FOOTAGE_START + 30_000);
    expect((await fetch(bare)).status).toBe(401);
    expect((await fetch(`${guarded.baseUrl}/api/thumbnail?device=cam&time=${iso(FOOTAGE_START)}`)).status).toBe(401);
    const text = await (await fetch(`${bare}&access_token=${TOKEN}`)).text();
    const uris = text.split('\n').filter((l) => l.startsWith('/') || l.startsWith('#EXT-X-MAP'));
    expect(uris.length).toBeGreaterThan(1);
    for (const uri of uris) expect(uri).toContain(`access_token=${TOKEN}`);
    const result = await decodeCheck(`${bare}&access_token=${TOKEN}`);
    expect(result.decodedVideoFrames).toBeGreaterThanOrEqual(29);
    expect(guarded.output()).not.toContain(TOKEN);
  });
});

describe('GET /api/thumbnail', () => {
  it('a JPEG of the keyframe at or before the time, at the width asked; an ETag, 304, kept in the cache folder', async () => {
    // Keyframes every 2 s (1 frame a second, GOP 2): 12:30:03 shows the keyframe of 12:30:02.
    const url = `${playback.baseUrl}/api/thumbnail?device=cam&time=${DAY}T12:30:03Z&width=200`;
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/jpeg');
    expect(first.headers.get('x-thumbnail-time')).toMatch(new RegExp(`^${DAY}T12:30:02\\.\\d{3}Z$`));
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const image = Buffer.from(await first.arrayBuffer());
    const file = path.join(scratch.dir, 'thumb.jpg');
    await writeFile(file, image);
    const probe = await probeFile(file);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'mjpeg', width: 200, height: 150 });
    expect(await readdir(cacheDir)).toEqual([`${etag!.slice(1, -1)}.jpg`]);
    const again = await fetch(url, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    const cached = await fetch(url);
    expect(Buffer.from(await cached.arrayBuffer()).equals(image)).toBe(true);
    // Another time in the same GOP is the same keyframe: the same image, from the cache.
    const sameKeyframe = await fetch(`${playback.baseUrl}/api/thumbnail?device=cam&time=${DAY}T12:30:02.500Z&width=200`, { headers: { 'if-none-match': etag! } });
    expect(sameKeyframe.status).toBe(304);
  });

  it('MKV (its keyframe found by ffprobe): the default width, 400', async () => {
    const res = await fetch(`${playback.baseUrl}/api/thumbnail?device=mkvcam&time=${DAY}T10:00:05Z`);
    expect(res.status).toBe(200);
    const file = path.join(scratch.dir, 'thumb-mkv.jpg');
    await writeFile(file, Buffer.from(await res.arrayBuffer()));
    expect((await probeFile(file)).streams[0]).toMatchObject({ width: 400, height: 300 });
  });
});

describe('the page: six hours through hls.js', () => {
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    const context = await browser.newContext({ timezoneId: 'UTC', viewport: { width: 1000, height: 800 } });
    cleanups.push(() => context.close());
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${playback.baseUrl}/?device=cam`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    await page.locator('.zoom-footage').click();
  });

  /** Clicks the footage at a fraction of its length; the wall time clicked. */
  async function clickAt(fraction: number): Promise<number> {
    const span = page.locator('[data-device="cam"] .span');
    await expect(span.count()).resolves.toBe(1);
    const box = (await span.boundingBox())!;
    const start = Date.parse((await span.getAttribute('data-start'))!);
    const end = Date.parse((await span.getAttribute('data-end'))!);
    const x = box.x + fraction * box.width;
    await page.mouse.click(x, box.y + box.height / 2);
    return start + ((x - box.x) / box.width) * (end - start);
  }

  it('plays from three far-apart points of a six-hour range, each advancing with frames decoded', async () => {
    for (const fraction of [0.04, 0.5, 0.96]) {
      const clicked = await clickAt(fraction);
      // The footage is continuous from 10:00, so the player's time is the wall time's offset from it.
      const expected = (clicked - FOOTAGE_START) / 1000;
      const video = `document.querySelector('[data-device="cam"] video')`;
      const at = await page.waitForFunction(
        `(() => { const v = ${video}; return v.dataset.player === 'hls' && !v.paused && v.readyState >= 3 && Math.abs(v.currentTime - ${expected}) < 20
          ? { time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames } : null; })()`,
        undefined,
        { timeout: 30_000, polling: 100 },
      );
      const start = (await at.jsonValue()) as { time: number; frames: number };
      await page.waitForFunction(`${video}.currentTime >= ${start.time + 1.5} && ${video}.getVideoPlaybackQuality().totalVideoFrames > ${start.frames}`, undefined, { timeout: 30_000, polling: 100 });
    }
    // One playlist for the three: hls.js loaded it once and the later points were seeks.
    expect(await page.evaluate(`performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/hls/cam.m3u8')).length`)).toBeLessThanOrEqual(2);
    expect(errors).toEqual([]);
  }, 120_000);

  it('shows a thumbnail of the footage under the pointer', async () => {
    const span = page.locator('[data-device="cam"] .span');
    const box = (await span.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    const thumb = page.locator('[data-device="cam"] img.thumb');
    await thumb.waitFor({ state: 'visible', timeout: 20_000 });
    // Shown at once, drawn when its JPEG has arrived: wait for the picture itself, not only the element.
    await page.waitForFunction(`(() => { const img = document.querySelector('[data-device="cam"] img.thumb'); return img !== null && img.complete && img.naturalWidth > 0; })()`, undefined, { timeout: 20_000 });
    expect(await page.evaluate(`document.querySelector('[data-device="cam"] img.thumb').naturalWidth`)).toBe(160);
    await page.mouse.move(box.x + box.width * 0.3, box.y + 300);
    await thumb.waitFor({ state: 'hidden', timeout: 5_000 });
    expect(errors).toEqual([]);
  });
});
