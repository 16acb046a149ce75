// Playback on real footage: a real recorder records GStreamer cameras (one stopped for 8 s), then the
// playback server answers the timeline, cuts clips that Debian's ffprobe/ffmpeg check, serves byte ranges,
// and its page runs in Debian's Chromium.
// Over 400 lines because every test reads the one volume this file records once (two cameras, one stopped
// for 8 s: about a minute of real recording); a second file would record it again.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext } from 'playwright-core';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { decodeCheck, probeFile } from './fixtures/player.js';
import { CLI, startCli, type CliProcess } from './support/recorder-process.js';
import { runCli } from '../support/cli.js';
import { journalOf } from '../support/journal.js';
import type { Segment } from '../../functions/recorder/index.js';

interface Status {
  state: string;
  counters: Record<string, number>;
}
interface TimelineSegment {
  file: string;
  format: string;
  url: string;
  start: string;
  end: string;
  bytes: number;
  sha256: string;
  codecs: { video: string | null; audio: string | null };
}
interface Timeline {
  spans: Array<{ start: string; end: string; segments: TimelineSegment[] }>;
  gaps: Array<{ start: string; end: string; durationSeconds: number }>;
}

const GOP_SECONDS = 1; // gop 25 at 25 fps
const CHROMIUM = '/usr/bin/chromium';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let volume: string;
let playback: CliProcess;
let outage: { stoppedAt: number; restartedAt: number };
const cleanups: Array<() => Promise<unknown>> = [];

async function recordUntil(rec: CliProcess, finished: number): Promise<Status> {
  return rec.waitFor<Status>('/record/status', (s) => s.state === 'recording' && (s.counters.segmentsFinished ?? 0) >= finished, 60_000);
}

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'ffprobe', 'gst-camera']) requireTool(tool);
  volume = await mkdtemp(path.join(os.tmpdir(), 'shifu-playback-'));
  cleanups.push(() => rm(volume, { recursive: true, force: true }));
  const cam = await startGstCamera({ video: 'h264', audio: 'aac', gop: 25, fps: 25 });
  const cam265 = await startGstCamera({ video: 'h265', audio: 'aac', gop: 25, fps: 25 });
  cleanups.push(() => cam.stop(), () => cam265.stop());
  const rec = await startCli('recorder', ['--url', cam.url, '--out', volume, '--device', 'cam', '--segment-seconds', '4']);
  // Recorded as MPEG-TS: clips into MP4 and MKV must carry its ADTS AAC too.
  const rec265 = await startCli('recorder', ['--url', cam265.url, '--out', volume, '--device', 'cam265', '--segment-seconds', '4', '--format', 'ts']);
  cleanups.push(() => rec.stop('SIGKILL'), () => rec265.stop('SIGKILL'));
  // The H.265 device only needs a few segments (the page's codec notice and the hvc1 clip). Three, not two: x265
  // under a loaded machine starts late, and a first segment short of its 4 s left the clip from 1 s to 6 s at 4.6 s.
  await recordUntil(rec265, 3);
  await rec265.json('POST', '/record/off');
  await rec265.stop();
  await cam265.stop();
  // Five whole segments before the outage: a 10 s clip from the second one never reaches the gap.
  const before = await recordUntil(rec, 5);
  await cam.stop();
  const stoppedAt = Date.now();
  await rec.waitFor<Status>('/record/status', (s) => s.state !== 'recording', 20_000);
  await sleep(Math.max(0, stoppedAt + 8000 - Date.now()));
  const back = await startGstCamera({ video: 'h264', audio: 'aac', gop: 25, fps: 25, port: cam.port });
  cleanups.push(() => back.stop());
  outage = { stoppedAt, restartedAt: Date.now() };
  await recordUntil(rec, (before.counters.segmentsFinished ?? 0) + 4);
  expect((await rec.json('POST', '/record/off')).status).toBe(200);
  await rec.stop();
  await back.stop();
  playback = await startCli('playback', ['--root', volume], {}, { httpFlag: 'listen' });
  cleanups.push(() => playback.stop('SIGKILL'));
}, 180_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function timeline(device: string): Promise<Timeline> {
  const res = await fetch(`${playback.baseUrl}/api/timeline?device=${device}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Timeline;
}

/** GETs a clip into a file; answers the response headers. */
async function clip(query: string, file: string): Promise<Headers> {
  const res = await fetch(`${playback.baseUrl}/api/clip?${query}`);
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status, body.toString().slice(0, 500)).toBe(200);
  await writeFile(file, body);
  return res.headers;
}

async function expectPlaysFor(file: string, seconds: number, video: string): Promise<void> {
  const probe = await probeFile(file);
  expect(probe.streams.map((s) => s.codec_type).sort(), file).toEqual(['audio', 'video']);
  expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe(video);
  expect(probe.durationSeconds, file).toBeGreaterThanOrEqual(seconds - 0.2);
  expect(probe.durationSeconds, file).toBeLessThanOrEqual(seconds + GOP_SECONDS + 0.2);
  const check = await decodeCheck(file);
  expect(check.ok, `${file}: ${check.errors.join('\n')}`).toBe(true);
  expect(check.decodedVideoFrames).toBeGreaterThanOrEqual(Math.floor(seconds * 25) - 5);
  expect(check.decodedAudioFrames ?? 0).toBeGreaterThan(0);
}

describe('playback API on a recorder volume', () => {
  it('lists each device with its footage, bytes and segment count from the journal', async () => {
    const res = await fetch(`${playback.baseUrl}/api/devices`);
    const { devices } = (await res.json()) as { devices: Array<{ device: string; segments: number; bytes: number; firstFootage: string; lastFootage: string; recorder: { state: string } }> };
    expect(devices.map((d) => d.device)).toEqual(['cam', 'cam265']);
    const journal = await journalOf(volume, 'cam');
    const cam = devices[0]!;
    expect(cam.segments).toBe(journal.length);
    expect(cam.bytes).toBe(journal.reduce((n, s) => n + s.bytes, 0));
    expect(cam.firstFootage).toBe(journal[0]!.startTime);
    expect(cam.lastFootage).toBe(journal.at(-1)!.endTime);
    expect(cam.recorder.state).toBe('idle');
  });

  it('shows two spans and the gap where the camera was stopped', async () => {
    const t = await timeline('cam');
    expect(t.spans).toHaveLength(2);
    expect(t.gaps).toHaveLength(1);
    const gap = t.gaps[0]!;
    expect(gap.start).toBe(t.spans[0]!.end);
    expect(gap.end).toBe(t.spans[1]!.start);
    expect(gap.durationSeconds).toBeGreaterThanOrEqual(7);
    // The outage lies inside the gap (a second of slack for when the last frames left the camera).
    expect(Date.parse(gap.start)).toBeLessThanOrEqual(outage.stoppedAt + 1000);
    expect(Date.parse(gap.end)).toBeGreaterThanOrEqual(outage.restartedAt);
    const journal = await journalOf(volume, 'cam');
    expect(t.spans.flatMap((s) => s.segments.map((g) => g.file))).toEqual(journal.map((s) => path.basename(s.file)));
    const first = t.spans[0]!.segments[0]!;
    expect(first.sha256).toBe(journal[0]!.sha256);
    expect(first.codecs).toEqual({ video: 'h264', audio: 'aac' });
  });

  it.each(['mp4', 'mkv', 'ts'] as const)('cuts a 10 s %s clip across three segments that plays with video and audio', async (format) => {
    const seg = (await timeline('cam')).spans[0]!.segments;
    expect(seg.length).toBeGreaterThanOrEqual(4);
    const startMs = Date.parse(seg[1]!.start) + 1500;
    const start = new Date(startMs).toISOString();
    const overlapping = seg.filter((s) => Date.parse(s.end) > startMs && Date.parse(s.start) < startMs + 10_000);
    expect(overlapping.length).toBeGreaterThanOrEqual(3);
    const file = path.join(volume, `..`, `${path.basename(volume)}-clip.${format}`);
    cleanups.push(() => rm(file, { force: true }));
    const headers = await clip(`device=cam&start=${start}&duration=10&format=${format}`, file);
    expect(headers.get('x-clip-segments')).toBe(String(overlapping.length));
    const realStart = Date.parse(headers.get('x-clip-start')!);
    // The keyframe at or before the requested start.
    expect(realStart).toBeLessThanOrEqual(startMs);
    expect(realStart).toBeGreaterThanOrEqual(startMs - GOP_SECONDS * 1000 - 100);
    expect(headers.get('content-disposition')).toMatch(new RegExp(`filename="cam_\\d{8}T\\d{6}Z_1[01]s\\.${format}"`));
    await expectPlaysFor(file, 10, 'h264');
  });

  it('joins the footage on both sides of a gap into one clip that leaves the gap out', async () => {
    const t = await timeline('cam');
    const gap = t.gaps[0]!;
    const startMs = Date.parse(gap.start) - 3000;
    const endMs = Date.parse(gap.end) + 3000;
    const file = path.join(os.tmpdir(), `${path.basename(volume)}-gap.mp4`);
    cleanups.push(() => rm(file, { force: true }));
    const headers = await clip(`device=cam&start=${new Date(startMs).toISOString()}&end=${new Date(endMs).toISOString()}`, file);
    const realStart = Date.parse(headers.get('x-clip-start')!);
    const footage = (Date.parse(gap.start) - realStart + 3000) / 1000;
    expect(Number(headers.get('x-clip-duration'))).toBeCloseTo(footage, 1);
    expect(Number(headers.get('x-clip-gap-seconds'))).toBeCloseTo(gap.durationSeconds, 1);
    await expectPlaysFor(file, 6, 'h264');
  });

  it('stops cutting when the client leaves: no ffmpeg left behind, counted as aborted', async () => {
    const t = await timeline('cam');
    const controller = new AbortController();
    const res = await fetch(`${playback.baseUrl}/api/clip?device=cam&start=${t.spans[0]!.start}&end=${t.spans[1]!.end}&format=ts`, { signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const ffmpegChildren = async (): Promise<number> => {
      const text = await readFile(`/proc/${playback.child.pid}/task/${playback.child.pid}/children`, 'utf8').catch(() => '');
      const pids = text.trim().split(/\s+/).filter(Boolean);
      const names = await Promise.all(pids.map((p) => readFile(`/proc/${p}/comm`, 'utf8').catch(() => '')));
      return names.filter((n) => n.trim() === 'ffmpeg').length;
    };
    const aborted = async (): Promise<boolean> => /shifu_rtsp_playback_clips_total\{format="ts",outcome="aborted"\} 1/.test(await (await fetch(`${playback.baseUrl}/metrics`)).text());
    // The count comes once the server has seen its ffmpeg's pipes close, a moment after the process is gone.
    for (let i = 0; i < 50 && ((await ffmpegChildren()) > 0 || !(await aborted())); i++) await sleep(100);
    expect(await ffmpegChildren()).toBe(0);
    expect(await aborted()).toBe(true);
  });

  it('keeps H.265 as hvc1 in an MP4 clip from MPEG-TS segments, with their audio; MKV re-encodes that audio', async () => {
    const seg = (await timeline('cam265')).spans[0]!.segments;
    expect(seg[0]!.format).toBe('ts');
    const start = new Date(Date.parse(seg[0]!.start) + 1000).toISOString();
    const file = path.join(os.tmpdir(), `${path.basename(volume)}-265.mp4`);
    cleanups.push(() => rm(file, { force: true }));
    expect((await clip(`device=cam265&start=${start}&duration=5&format=mp4`, file)).get('x-clip-audio')).toBe('copy');
    const probe = await probeFile(file);
    expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'hevc', codec_tag_string: 'hvc1' });
    await expectPlaysFor(file, 5, 'hevc');
    const mkv = path.join(os.tmpdir(), `${path.basename(volume)}-265.mkv`);
    cleanups.push(() => rm(mkv, { force: true }));
    expect((await clip(`device=cam265&start=${start}&duration=5&format=mkv`, mkv)).get('x-clip-audio')).toBe('aac (re-encoded from aac for mkv)');
    await expectPlaysFor(mkv, 5, 'hevc');
  });

  it('serves segment files with byte ranges (206) and an ETag from the journal sha256', async () => {
    const journal: Segment[] = await journalOf(volume, 'cam');
    const segment = journal[1]!;
    const bytes = await readFile(path.join(volume, segment.file));
    const url = `${playback.baseUrl}/files/cam/${path.basename(segment.file)}`;
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('etag')).toBe(`"${segment.sha256}"`);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(createHash('sha256').update(Buffer.from(await whole.arrayBuffer())).digest('hex')).toBe(segment.sha256);
    const part = await fetch(url, { headers: { range: 'bytes=1000-4999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-4999/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1000, 5000))).toBe(true);
    // curl -C - style resume: from an offset to the end, only while the file is the same one.
    const rest = await fetch(url, { headers: { range: `bytes=${bytes.length - 100}-`, 'if-range': `"${segment.sha256}"` } });
    expect(rest.status).toBe(206);
    expect(Buffer.from(await rest.arrayBuffer()).equals(bytes.subarray(bytes.length - 100))).toBe(true);
    const changed = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': '"another-file"' } });
    expect(changed.status).toBe(200);
    await changed.arrayBuffer();
    // node:http, not fetch: fetch adds Cache-Control: no-cache to a conditional request, which forbids a 304.
    const cached = await new Promise<number | undefined>((resolve, reject) => {
      http.get(url, { headers: { 'if-none-match': `"${segment.sha256}"` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    expect(cached).toBe(304);
  });

  it('refuses path traversal and files that are not finished segments', async () => {
    for (const target of ['/files/cam/..%2F..%2Fetc%2Fpasswd', '/files/cam/%2E%2E', '/files/..%2F.shifu-rtsp/segments.jsonl', '/files/cam/.recording%2Fx.mp4', '/files/cam/a/b']) {
      const res = await fetch(`${playback.baseUrl}${target}`);
      expect(res.status, target).toBe(400);
      expect(((await res.json()) as { message: string }).message, target).toMatch(/^file: /);
    }
    const unknown = await fetch(`${playback.baseUrl}/files/cam/cam_20000101T000000Z.mp4`);
    expect(unknown.status).toBe(404);
  });

  it('answers 404 outside footage and 400 naming the parameter for bad input', async () => {
    const cases: Array<[string, number, RegExp]> = [
      ['device=cam&start=2000-01-01T00:00:00Z&duration=60', 404, /^start: no footage of cam/],
      ['device=nobody&start=2000-01-01T00:00:00Z&duration=60', 404, /^device: /],
      ['start=2026-01-01T00:00:00Z&duration=60', 400, /^device: required/],
      ['device=cam&duration=60', 400, /^start: required/],
      ['device=cam&start=yesterday&duration=60', 400, /^start: expected an ISO 8601/],
      ['device=cam&start=2026-01-01T00:00:00Z', 400, /^duration: required/],
      ['device=cam&start=2026-01-01T00:00:00Z&duration=7h', 400, /^duration: at most 21600 s/],
      ['device=cam&start=2026-01-01T00:00:00Z&end=2025-01-01T00:00:00Z', 400, /^end: must be after start/],
      ['device=cam&start=2026-01-01T00:00:00Z&duration=60&format=avi', 400, /^format: expected one of mp4, mkv, ts/],
    ];
    for (const [query, status, message] of cases) {
      const res = await fetch(`${playback.baseUrl}/api/clip?${query}`);
      expect(res.status, query).toBe(status);
      expect(((await res.json()) as { message: string }).message, query).toMatch(message);
    }
  });

  it('requires the bearer token when PLAYBACK_TOKEN is set, and refuses a bad PLAYBACK_MAX_CLIP at start-up', async () => {
    const token = 'a-long-enough-playback-token';
    const guarded = await startCli('playback', ['--root', volume], { PLAYBACK_TOKEN: token }, { httpFlag: 'listen' });
    cleanups.push(() => guarded.stop('SIGKILL'));
    expect((await fetch(`${guarded.baseUrl}/api/devices`)).status).toBe(401);
    expect((await fetch(`${guarded.baseUrl}/api/devices`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
    expect((await fetch(`${guarded.baseUrl}/api/devices`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${guarded.baseUrl}/api/devices?access_token=${token}`)).status).toBe(200);
    expect((await fetch(`${guarded.baseUrl}/`)).status).toBe(200);
    // The page takes the token once: /?access_token= answers with an HttpOnly cookie and a redirect to /,
    // which its own requests then carry; a wrong one sets nothing.
    const wrong = await fetch(`${guarded.baseUrl}/?access_token=wrong-token-of-some-length`, { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const once = await fetch(`${guarded.baseUrl}/?access_token=${token}`, { redirect: 'manual' });
    expect(once.status).toBe(303);
    expect(once.headers.get('location')).toBe('/');
    const cookie = once.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const pair = cookie.split(';')[0] ?? '';
    expect((await fetch(`${guarded.baseUrl}/api/devices`, { headers: { cookie: pair } })).status).toBe(200);
    expect((await fetch(`${guarded.baseUrl}/api/devices`, { headers: { cookie: 'shifu_rtsp_playback_token=wrong-token-of-some-length' } })).status).toBe(401);
    // No answer tells a link it follows where it came from: pages, errors, data and streams alike.
    for (const [url, headers] of [
      ['/', {}],
      ['/health', {}],
      ['/api/devices', {}],
      ['/api/devices', { cookie: pair }],
      [`/api/clip?device=cam&start=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}&duration=2`, { cookie: pair }],
    ] as const) {
      const res = await fetch(`${guarded.baseUrl}${url}`, { headers, redirect: 'manual' });
      await res.body?.cancel();
      expect(res.headers.get('referrer-policy'), url).toBe('no-referrer');
    }
    expect(guarded.output()).not.toContain(token);
    await guarded.stop();

    const bad = spawn(process.execPath, [CLI, 'playback', '--root', volume], { env: { ...process.env, PLAYBACK_MAX_CLIP: 'forever' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    bad.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => bad.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid PLAYBACK_MAX_CLIP \(flag --max-clip\): expected a duration/);
  });
});

const cli = (args: string[]): ReturnType<typeof runCli> => runCli(args);

describe('shifu-rtsp export from the playback server', () => {
  it('copies every finished segment, checked against the journal, and a re-run copies nothing', async () => {
    const to = await mkdtemp(path.join(os.tmpdir(), 'shifu-export-'));
    cleanups.push(() => rm(to, { recursive: true, force: true }));
    const first = await cli(['export', '--url', playback.baseUrl, '--device', 'cam', '--to', to, '--no-progress']);
    expect(first.code, first.stderr).toBe(0);
    const journal = await journalOf(volume, 'cam');
    const report = JSON.parse(first.stdout) as { files: Array<{ name: string; outcome: string }> };
    expect(report.files.map((f) => [f.name, f.outcome])).toEqual(journal.map((s) => [path.basename(s.file), 'copied']));
    for (const s of journal) {
      expect(createHash('sha256').update(await readFile(path.join(to, 'cam', path.basename(s.file)))).digest('hex')).toBe(s.sha256);
    }
    const again = await cli(['export', '--url', playback.baseUrl, '--device', 'cam', '--to', to, '--no-progress']);
    expect((JSON.parse(again.stdout) as { bytesCopied: number }).bytesCopied).toBe(0);
  });

  it('--clip START..END saves one cut file of that range, with video and audio', async () => {
    const seg = (await timeline('cam')).spans[0]!.segments;
    const startMs = Date.parse(seg[1]!.start) + 1500;
    const to = await mkdtemp(path.join(os.tmpdir(), 'shifu-clip-'));
    cleanups.push(() => rm(to, { recursive: true, force: true }));
    const range = `${new Date(startMs).toISOString()}..${new Date(startMs + 10_000).toISOString()}`;
    const r = await cli(['export', '--url', playback.baseUrl, '--device', 'cam', '--to', to, '--clip', range, '--format', 'mkv']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { file: string; segments: number; start: string };
    expect(path.dirname(report.file)).toBe(path.join(to, 'cam'));
    expect(path.basename(report.file)).toMatch(/^cam_\d{8}T\d{6}Z_1[01]s\.mkv$/);
    expect(report.segments).toBeGreaterThanOrEqual(3);
    expect(Date.parse(report.start)).toBeLessThanOrEqual(startMs);
    expect(await readdir(path.join(to, 'cam'))).toEqual([path.basename(report.file)]);
    await expectPlaysFor(report.file, 10, 'h264');
  });
});

describe('playback page in Chromium', () => {
  let browser: BrowserContext;

  beforeAll(async () => {
    requireTool(CHROMIUM);
    const profile = await mkdtemp(path.join(os.tmpdir(), 'shifu-chromium-'));
    cleanups.push(() => rm(profile, { recursive: true, force: true }));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    cleanups.push(() => browser.close());
  });

  it('lists the devices, shows the gap, plays on a click, warns about H.265 and downloads a clip', async () => {
    const page = await browser.newPage();
    await page.goto(playback.baseUrl);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    const cam = page.locator('[data-device="cam"]');
    await expect(cam.locator('h2').textContent()).resolves.toBe('cam');
    await expect(page.locator('[data-device="cam265"] h2').textContent()).resolves.toBe('cam265');
    const t = await timeline('cam');
    await expect(cam.locator('.span').count()).resolves.toBe(2);
    await expect(cam.locator('.gap').count()).resolves.toBe(1);
    await expect(cam.locator('.gap').getAttribute('data-start')).resolves.toBe(t.gaps[0]!.start.replace(/\.000Z$/, 'Z'));

    // A click in the first span plays from there: the video's clock runs.
    await cam.locator('button.zoom-footage').click();
    await cam.locator('.span').first().click();
    // Strings, not functions: they run in the page, and this file is compiled without DOM types.
    await page.waitForFunction(`(document.querySelector('[data-device="cam"] video')?.currentTime ?? 0) > 1.5`, undefined, { timeout: 30_000 });
    await expect(cam.locator('.notice').textContent()).resolves.toBe('');
    const videoError = await page.evaluate(`document.querySelector('[data-device="cam"] video').error?.code ?? null`);
    expect(videoError).toBeNull();

    // Debian's Chromium has no H.265 decoder: the page says so and still offers the download.
    await expect(page.locator('[data-device="cam265"] .notice').textContent()).resolves.toMatch(/cannot play H\.265/);

    const seg = t.spans[0]!.segments;
    const inMs = Date.parse(seg[1]!.start) + 1500;
    await page.evaluate(`window.playback.cam.setRange(${inMs}, ${inMs + 10_000})`);
    const [download] = await Promise.all([page.waitForEvent('download'), cam.locator('a.download').click()]);
    expect(download.suggestedFilename()).toMatch(/^cam_\d{8}T\d{6}Z_1[01]s\.mp4$/);
    const file = path.join(os.tmpdir(), `${path.basename(volume)}-${download.suggestedFilename()}`);
    cleanups.push(() => rm(file, { force: true }));
    await download.saveAs(file);
    await expectPlaysFor(file, 10, 'h264');
    await page.close();
  });

  it('with PLAYBACK_TOKEN: asks for the token once, keeps it out of its URLs (an HttpOnly cookie), and plays', async () => {
    const token = 'a-long-enough-page-token-0123';
    const guarded = await startCli('playback', ['--root', volume], { PLAYBACK_TOKEN: token }, { httpFlag: 'listen' });
    cleanups.push(() => guarded.stop('SIGKILL'));
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(guarded.baseUrl);
    await page.waitForSelector('body[data-needs-token="true"]', { timeout: 20_000 });
    await page.fill('#access-token', token);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(new URL(page.url()).search).toBe('');
    // HttpOnly: the page's scripts cannot read it.
    expect(await page.evaluate('document.cookie')).toBe('');
    const cam = page.locator('[data-device="cam"]');
    await cam.locator('button.zoom-footage').click();
    await cam.locator('.span').first().click();
    await page.waitForFunction(`(document.querySelector('[data-device="cam"] video')?.currentTime ?? 0) > 1.5`, undefined, { timeout: 30_000 });
    // Only the form's one navigation carried the token in a URL.
    expect(requested.filter((u) => u.includes(token))).toEqual([`${guarded.baseUrl}/?access_token=${token}`]);
    await page.close();
    await guarded.stop();
  });
});
