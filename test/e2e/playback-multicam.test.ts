// Every camera in one place (issue 22 section 4): one playback server over several roots (one per device volume,
// as the all-cameras pod mounts them), and one cut of several cameras as a zip streamed while it is cut.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from './fixtures/camera.js';
import { FFMPEG, probeFile } from './fixtures/player.js';
import { placeFootage } from './support/placed-footage.js';
import { CLI, startCli, type CliProcess } from './support/recorder-process.js';

const run = promisify(execFile);

let base: string;
let rootA: string;
let rootB: string;
let playback: CliProcess;
const cleanups: Array<() => Promise<unknown>> = [];

const T0 = '2026-11-24T10:00:00.000Z';
const START = '2026-11-24T10:00:02Z';
const END = '2026-11-24T10:00:07Z';

/** Reads a zip with Python's zipfile (another implementation than ours): names, sizes, sha256, and the manifest. */
async function unzipped(file: string): Promise<{ entries: Array<{ name: string; bytes: number; sha256: string }>; manifest: Record<string, unknown> }> {
  const { stdout } = await run('python3', ['-c', [
    'import sys, zipfile, hashlib, json',
    'z = zipfile.ZipFile(sys.argv[1])',
    'assert z.testzip() is None',
    'entries = [{"name": i.filename, "bytes": i.file_size, "sha256": hashlib.sha256(z.read(i)).hexdigest()} for i in z.infolist()]',
    'for i in z.infolist():',
    '  if i.filename.endswith(".mp4"): open(sys.argv[2] + "/" + i.filename, "wb").write(z.read(i))',
    'print(json.dumps({"entries": entries, "manifest": json.loads(z.read("manifest.json"))}))',
  ].join('\n'), file, path.dirname(file)]);
  return JSON.parse(stdout) as { entries: Array<{ name: string; bytes: number; sha256: string }>; manifest: Record<string, unknown> };
}

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'ffprobe']) requireTool(tool);
  base = await mkdtemp(path.join(os.tmpdir(), 'shifu-multicam-'));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  rootA = path.join(base, 'cam-a-volume');
  rootB = path.join(base, 'cam-b-volume');
  const source = path.join(base, 'source.mp4');
  // 10 s of H.264 + AAC with a keyframe every second, as a camera records it.
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '10', '-c:v', 'libx264', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', source]);
  // Ten minutes of it (-c copy): an export of both cameras is tens of MiB, more than the sockets hold, so it is
  // still being written while the test holds its body unread.
  const long = path.join(base, 'long.mp4');
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-stream_loop', '59', '-i', source, '-c', 'copy', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', long]);
  // Two device volumes, as the all-cameras pod mounts them: cam-a on one, cam-b and cam-c (footage elsewhere in time) on the other.
  await placeFootage(rootA, 'cam-a', long, T0, 600);
  // A gap in cam-a's day: 10:10 to 10:20.
  await placeFootage(rootA, 'cam-a', long, '2026-11-24T10:20:00Z', 600);
  await placeFootage(rootB, 'cam-b', long, '2026-11-24T10:00:00.400Z', 600);
  await placeFootage(rootB, 'cam-c', source, '2026-11-25T10:00:00Z', 10);
  playback = await startCli('playback', ['--root', `${rootA},${rootB}`, '--max-cuts', '2'], {}, { httpFlag: 'listen' });
  cleanups.push(() => playback.stop('SIGKILL'));
  await playback.waitFor<{ devices: unknown[] }>('/api/devices', (b) => b.devices.length === 3);
}, 120_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('one server over every device volume (PLAYBACK_ROOT with several folders)', () => {
  it('lists, draws and serves the devices of every root', async () => {
    const { body } = await playback.json<{ devices: Array<{ device: string; segments: number }> }>('GET', '/api/devices');
    expect(body.devices.map((d) => [d.device, d.segments])).toEqual([['cam-a', 2], ['cam-b', 1], ['cam-c', 1]]);
    const timeline = await playback.json<{ spans: Array<{ segments: Array<{ url: string }> }> }>('GET', '/api/timeline?device=cam-b&day=2026-11-24');
    expect(timeline.status).toBe(200);
    const url = timeline.body.spans[0]!.segments[0]!.url;
    const file = await fetch(`${playback.baseUrl}${url}`, { headers: { range: 'bytes=0-99' } });
    expect(file.status).toBe(206);
    expect((await file.arrayBuffer()).byteLength).toBe(100);
    expect((await playback.json<{ message: string }>('GET', '/api/timeline?device=cam-z')).body.message).toBe('device: no recordings of cam-z');
  });

  it('a root named twice, or empty, stops start-up naming PLAYBACK_ROOT', async () => {
    for (const value of [`${rootA},${rootA}`, `${rootA},`]) {
      const r = await run(process.execPath, [CLI, 'playback', '--listen', '127.0.0.1:0'], { env: { ...process.env, PLAYBACK_ROOT: value } }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('PLAYBACK_ROOT');
    }
  });
});

describe('GET /api/export: one cut of several cameras in one zip', () => {
  it('streams a zip of one clip per device with footage, a manifest last, and says what is in it', async () => {
    const res = await fetch(`${playback.baseUrl}/api/export?devices=cam-a,cam-b,cam-c&start=${START}&end=${END}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    // Streamed while it is cut: no length is known up front.
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="export_20261124T100002Z_5s.zip"');
    expect(res.headers.get('x-export-devices')).toBe('cam-a,cam-b');
    expect(res.headers.get('x-export-missing')).toBe('cam-c');
    const clips = res.headers.get('x-export-clips')!.split(',');
    expect(clips).toEqual([expect.stringMatching(/^cam-a_20261124T1000\d\dZ_\d+s\.mp4$/), expect.stringMatching(/^cam-b_20261124T1000\d\dZ_\d+s\.mp4$/), 'manifest.json']);
    const file = path.join(base, 'export.zip');
    await writeFile(file, Buffer.from(await res.arrayBuffer()));

    const { entries, manifest } = await unzipped(file);
    expect(entries.map((e) => e.name)).toEqual(clips);
    const listed = manifest.clips as Array<{ device: string; file: string; sha256: string; bytes: number; start: string; durationSeconds: number }>;
    expect(listed.map((c) => [c.device, c.file, c.sha256, c.bytes])).toEqual(entries.slice(0, 2).map((e, i) => [['cam-a', 'cam-b'][i], e.name, e.sha256, e.bytes]));
    expect(manifest.missing).toEqual([{ device: 'cam-c', reason: 'no footage between 2026-11-24T10:00:02.000Z and 2026-11-24T10:00:07.000Z' }]);
    for (const clip of listed) {
      // Each clip starts at the keyframe at or before the asked start and plays to the asked end.
      expect(Date.parse(clip.start)).toBeLessThanOrEqual(Date.parse(START));
      expect(Date.parse(clip.start)).toBeGreaterThan(Date.parse(START) - 1100);
      const probed = await probeFile(path.join(base, clip.file));
      expect(probed.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
      expect(probed.durationSeconds).toBeGreaterThan(4.5);
      expect(probed.durationSeconds).toBeCloseTo((Date.parse(END) - Date.parse(clip.start)) / 1000, 0);
    }
  });

  it('takes a slot of PLAYBACK_MAX_CUTS while it is cut and frees it when done', async () => {
    // Headers come once the slot is taken and the clips planned; the bodies are not read yet. Two exports hold
    // both slots of --max-cuts 2.
    const held = await fetch(`${playback.baseUrl}/api/export?devices=cam-a,cam-b&start=${START}&duration=9m`);
    expect(held.status).toBe(200);
    const held2 = await fetch(`${playback.baseUrl}/api/export?devices=cam-b,cam-a&start=${START}&duration=9m`);
    expect(held2.status).toBe(200);
    const busy = await fetch(`${playback.baseUrl}/api/clip?device=cam-a&start=${START}&duration=2s`);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('5');
    expect((await held.arrayBuffer()).byteLength).toBeGreaterThan(16 << 20);
    expect((await held2.arrayBuffer()).byteLength).toBeGreaterThan(16 << 20);
    const after = await fetch(`${playback.baseUrl}/api/clip?device=cam-a&start=${START}&duration=2s`);
    expect(after.status).toBe(200);
    await after.arrayBuffer();
  });

  it('404 when no device has footage in the range; 400 naming the parameter for bad ones', async () => {
    const none = await playback.json<{ error: string; message: string }>('GET', `/api/export?devices=cam-a,cam-c&start=2026-11-23T00:00:00Z&duration=1m`);
    expect(none.status).toBe(404);
    expect(none.body.message).toMatch(/^start: no footage of cam-a, cam-c between/);
    const bad: Array<[string, string]> = [
      ['', 'devices: required'],
      ['devices=', 'devices: required'],
      ['devices=cam-a,cam-zz', 'devices: no recordings of cam-zz'],
      ['devices=cam-a,cam-a', 'devices: cam-a is named twice'],
      ['devices=cam-a,,cam-b', 'devices: required'],
      ['devices=../x', 'devices: expected a device name'],
      [`devices=${Array.from({ length: 17 }, (_, i) => `d${i}`).join(',')}`, 'devices: at most 16'],
    ];
    for (const [devices, message] of bad) {
      const r = await playback.json<{ message: string }>('GET', `/api/export?${devices}&start=${START}&end=${END}`);
      expect([devices, r.status, r.body.message.slice(0, message.length)]).toEqual([devices, 400, message]);
    }
    const format = await playback.json<{ message: string }>('GET', `/api/export?devices=cam-a&start=${START}&end=${END}&format=avi`);
    expect([format.status, format.body.message]).toEqual([400, 'format: expected one of mp4, mkv, ts']);
    const range = await playback.json<{ message: string }>('GET', `/api/export?devices=cam-a&start=${START}`);
    expect([range.status, range.body.message]).toEqual([400, 'duration: required (or end)']);
  });
});

describe('shifu-rtsp export --device a,b --clip: the same through the CLI', () => {
  it('saves one checked clip per device into <to>/<device>/ and reports the device without footage', async () => {
    const to = path.join(base, 'exported');
    const { stdout, stderr } = await run(process.execPath, [CLI, 'export', '--device', 'cam-a,cam-b,cam-c', '--clip', `${START}..${END}`, '--to', to, '--url', playback.baseUrl, '--no-progress']);
    const report = JSON.parse(stdout) as { clips: Array<{ device: string; file: string; sha256: string; bytes: number }>; missing: Array<{ device: string }> };
    expect(report.clips.map((c) => [c.device, path.relative(to, c.file).split(path.sep)[0]])).toEqual([['cam-a', 'cam-a'], ['cam-b', 'cam-b']]);
    expect(report.missing.map((m) => m.device)).toEqual(['cam-c']);
    expect(stderr).toContain('sha256 checked');
    for (const clip of report.clips) {
      const data = await readFile(clip.file);
      expect([data.length, createHash('sha256').update(data).digest('hex')]).toEqual([clip.bytes, clip.sha256]);
      expect((await probeFile(clip.file)).durationSeconds).toBeGreaterThan(4.5);
    }
    // Nothing else is left behind: no zip, no partial file.
    expect((await readdir(to)).sort()).toEqual(['cam-a', 'cam-b']);
  });

  it('refuses a device named twice before asking anything (exit 2, naming the flag)', async () => {
    const r = await run(process.execPath, [CLI, 'export', '--device', 'cam-a,cam-a', '--clip', `${START}..${END}`, '--to', path.join(base, 'x'), '--url', playback.baseUrl]).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--device.*a device is named twice/);
  });
});

describe('the page: all cameras on one axis, played together (Chromium)', () => {
  const CHROMIUM = '/usr/bin/chromium';
  let browser: Browser;
  const errors: string[] = [];

  beforeAll(async () => {
    requireTool(CHROMIUM);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  async function open(width = 1200): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 }, timezoneId: 'UTC' });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${playback.baseUrl}/`);
    await page.waitForSelector('body[data-ready="true"]');
    // The day of the last footage (cam-c's, the 25th) is shown first; the day picker goes to the 24th.
    expect(await page.locator('#all-cameras-day').inputValue()).toBe('2026-11-25');
    await page.locator('#all-cameras-day').fill('2026-11-24');
    await page.waitForSelector('#all-cameras .bar[data-camera="cam-a"] .gap');
    return page;
  }

  it('draws one row per device on one axis, gaps visible, one cursor on every row that the keyboard moves, and fits 375 px', async () => {
    const page = await open();
    expect(await page.evaluate(`[...document.querySelectorAll('#all-cameras .camera-row')].map((r) => r.dataset.camera)`)).toEqual(['cam-a', 'cam-b', 'cam-c']);
    expect(await page.locator('#all-cameras-day').inputValue()).toBe('2026-11-24');
    const gap = page.locator('#all-cameras .bar[data-camera="cam-a"] .gap');
    expect([await gap.getAttribute('data-start'), await gap.getAttribute('data-end')]).toEqual(['2026-11-24T10:10:00.000Z', '2026-11-24T10:20:00.000Z']);
    expect(await page.locator('#all-cameras .bar[data-camera="cam-c"] .empty').textContent()).toBe('no footage this day');
    const cursors = async (): Promise<string[]> => (await page.evaluate(`[...document.querySelectorAll('#all-cameras .bar .cursor')].map((c) => String(Math.round(c.getBoundingClientRect().left)))`)) as string[];
    const before = await cursors();
    expect(before).toHaveLength(3);
    expect(new Set(before).size).toBe(1);
    // Keyboard: from "Play together", Tab reaches the axis; arrows move the one cursor on every row.
    await page.locator('#all-cameras .play-together').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(`document.activeElement?.classList.contains('axis')`)).toBe(true);
    const axis = page.locator('#all-cameras .axis');
    expect(await axis.getAttribute('aria-valuetext')).toBe('10:00:00 UTC');
    await page.keyboard.press('PageUp');
    expect(await axis.getAttribute('aria-valuetext')).toBe('10:10:00 UTC');
    const after = await cursors();
    expect(new Set(after).size).toBe(1);
    expect(Number(after[0])).toBeGreaterThan(Number(before[0]));
    await page.close();

    const phone = await open(375);
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    const widths = (await phone.evaluate(`[...document.querySelectorAll('#all-cameras .bar')].map((b) => b.getBoundingClientRect().width)`)) as number[];
    for (const w of widths) expect(w).toBeGreaterThan(250);
    await phone.close();
    expect(errors).toEqual([]);
  }, 60_000);

  it('plays two cameras from one point and keeps their wall-clock positions within 0.5 s', async () => {
    const page = await open();
    await page.locator('#all-cameras .axis').focus();
    // 10:01:00: both cam-a and cam-b have footage there (cam-c, chosen too, has none that day).
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#all-cameras .sync-play[data-state="playing"]', { timeout: 15_000 }).catch(async (e: unknown) => {
      console.log('sync state when playing did not start:', await page.evaluate(`JSON.stringify({ state: document.querySelector('.sync-play')?.dataset.state, notices: [...document.querySelectorAll('#all-cameras .notice')].map((n) => n.textContent), videos: [...document.querySelectorAll('.sync-tile video')].map((v) => ({ src: v.src, rs: v.readyState, ns: v.networkState, t: v.currentTime, err: v.error?.message, buf: v.buffered.length ? [v.buffered.start(0), v.buffered.end(0)] : null, seeking: v.seeking })) })`), errors);
      throw e;
    });
    expect(await page.locator('#all-cameras > .notice').textContent()).toBe('No footage of cam-c at 10:01:00 UTC.');
    // The page's own clock (each clip's X-Clip-Start + the video's position), sampled until 4 s of footage played.
    const watched = (await page.evaluate(`(async () => {
      const videos = [...document.querySelectorAll('#all-cameras .sync-tile video')];
      const wall = (v) => Date.parse(v.dataset.start) + v.currentTime * 1000;
      const player = window.multicam.player;
      const first = videos.map(wall);
      let spread = 0;
      let stateSpread = 0;
      const deadline = Date.now() + 40000;
      while (wall(videos[0]) < first[0] + 4000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        const now = videos.map(wall);
        spread = Math.max(spread, Math.max(...now) - Math.min(...now));
        const state = Object.values(player.positions());
        stateSpread = Math.max(stateSpread, Math.max(...state) - Math.min(...state));
      }
      return { devices: videos.map((v) => v.dataset.camera), first, last: videos.map(wall), spread, stateSpread };
    })()`)) as { devices: string[]; first: number[]; last: number[]; spread: number; stateSpread: number };
    expect(watched.devices).toEqual(['cam-a', 'cam-b']);
    const at = Date.parse('2026-11-24T10:01:00Z');
    for (const [i, first] of watched.first.entries()) {
      // From the one point (give or take the first frames), and playing on for 4 s.
      expect(Math.abs(first - at)).toBeLessThan(1000);
      expect(watched.last[i]! - first).toBeGreaterThan(3500);
    }
    expect(watched.spread).toBeLessThanOrEqual(500);
    expect(watched.stateSpread).toBeLessThanOrEqual(500);
    await page.close();
    expect(errors).toEqual([]);
  }, 90_000);
});

