// The playback page in Debian's Chromium, on a volume whose footage is placed at chosen instants (a real
// segment file copied under journal lines): the viewer's own day in any zone (issue 22 section 3), and H.265
// footage played as H.264 that the server transcodes for a browser without an H.265 decoder (section 2), and
// what users notice (section 6): icon, titles, loading state, keyboard, a phone's width, a quiet console.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';
import { requireTool } from './fixtures/camera.js';
import { decodeCheck, probeFile } from './fixtures/player.js';
import { startCli, type CliProcess } from './support/recorder-process.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

let volume: string;
let playback: CliProcess;
let browser: Browser;
const cleanups: Array<() => Promise<unknown>> = [];

/** Journals `file` (a real recording) as `device`'s segment from `start` for `seconds`. */
async function place(device: string, file: string, start: string, seconds: number, codec: 'h264' | 'hevc' = 'h264'): Promise<void> {
  const segment = segmentFixture({ device, start, seconds, root: volume }, { bytes: 1, video: { codec, width: 320, height: 240, fps: 25 }, audio: { codec: 'aac' } });
  await mkdir(path.join(volume, device), { recursive: true });
  await mkdir(path.dirname(journalPathOf(volume, device)), { recursive: true });
  await copyFile(file, segment.absolutePath);
  await appendToJournal(journalPathOf(volume, device), segment);
}

beforeAll(async () => {
  for (const tool of ['ffmpeg', CHROMIUM]) requireTool(tool);
  volume = await mkdtemp(path.join(os.tmpdir(), 'shifu-playback-page-'));
  cleanups.push(() => rm(volume, { recursive: true, force: true }));
  const h264 = path.join(volume, '..', `${path.basename(volume)}-h264.mp4`);
  cleanups.push(() => rm(h264, { force: true }));
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '4', '-c:v', 'libx264', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', h264]);
  // H.265 + AAC as cameras record it, 8 s with a keyframe every second.
  const h265 = path.join(volume, '..', `${path.basename(volume)}-h265.mp4`);
  cleanups.push(() => rm(h265, { force: true }));
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '8', '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=25:min-keyint=25', '-tag:v', 'hvc1', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-shortest', h265]);
  await place('h265', h265, '2026-11-20T12:00:00Z', 8, 'hevc');
  // New York, the day clocks fall back: 01:10-01:20 EDT (05:10Z), then 01:10-01:20 EST (06:10Z).
  await place('ny', h264, '2026-11-01T05:10:00Z', 600);
  await place('ny', h264, '2026-11-01T06:10:00Z', 600);
  // Kolkata (+05:30): 23:30-00:30 IST across midnight of the 24th, in two segments that make one span.
  await place('kolkata', h264, '2026-11-24T18:00:00Z', 1800);
  await place('kolkata', h264, '2026-11-24T18:30:00Z', 1800);
  playback = await startCli('playback', ['--root', volume], {}, { httpFlag: 'listen' });
  cleanups.push(() => playback.stop('SIGKILL'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  cleanups.push(() => browser.close());
  // Two encodes, a playback server (startCli alone may wait 60 s for /health) and Chromium: under heavy load
  // (six busy loops beside a tier run, session 12) 60 s was not enough for all of them.
}, 180_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** What any page of this file logged as an error (console.error, failed loads, uncaught exceptions). */
const consoleErrors: string[] = [];

/** A fresh page (own storage) whose browser lives in `timezoneId`; loaded and ready unless `ready` is false. */
async function open(timezoneId: string, options: { width?: number; path?: string; base?: string; ready?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ timezoneId, viewport: { width: options.width ?? 1000, height: 800 } });
  cleanups.push(() => context.close());
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
  await page.goto(`${options.base ?? playback.baseUrl}${options.path ?? '/'}`);
  if (options.ready !== false) await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  return page;
}

/** Where a node sits on its device's bar, as fractions of the bar's width: [left edge, right edge]. */
async function onBar(device: Locator, node: Locator): Promise<[number, number]> {
  const bar = (await device.locator('.bar').boundingBox())!;
  const box = (await node.boundingBox())!;
  // The bar clips nothing; what lies outside the day is drawn at its edges.
  return [(box.x - bar.x) / bar.width, (box.x + box.width - bar.x) / bar.width];
}

describe('the playback page in the viewer’s time zone', () => {
  it('America/New_York, the day clocks fall back: 25 hours, footage at 01:10 shown twice, in order', async () => {
    const page = await open('America/New_York');
    const ny = page.locator('[data-device="ny"]');
    await expect(page.locator('#zone').inputValue()).resolves.toBe('America/New_York');
    await expect(ny.locator('input[type="date"]').inputValue()).resolves.toBe('2026-11-01');
    await expect(ny.locator('.day-length').textContent()).resolves.toBe('25-hour day (clocks change)');
    const spans = ny.locator('.span');
    await expect(spans.count()).resolves.toBe(2);
    await expect(spans.nth(0).getAttribute('title')).resolves.toBe('01:10:00 EDT – 01:20:00 EDT (1 segments)');
    await expect(spans.nth(1).getAttribute('title')).resolves.toBe('01:10:00 EST – 01:20:00 EST (1 segments)');
    // On a 25-hour bar from 00:00 EDT (04:00Z): 70 and 130 minutes in, of 1500.
    const [first] = await onBar(ny, spans.nth(0));
    const [second] = await onBar(ny, spans.nth(1));
    expect(first).toBeCloseTo(70 / 1500, 2);
    expect(second).toBeCloseTo(130 / 1500, 2);
  });

  it('Asia/Kolkata: footage across local midnight is split between the two local days', async () => {
    const page = await open('Asia/Kolkata');
    const cam = page.locator('[data-device="kolkata"]');
    // Chromium's Intl names the browser's zone by ICU's canonical alias.
    await expect(page.locator('#zone').inputValue()).resolves.toMatch(/^Asia\/(Kolkata|Calcutta)$/);
    // The day of the last footage: the 25th, from its midnight to 00:30.
    await expect(cam.locator('input[type="date"]').inputValue()).resolves.toBe('2026-11-25');
    const [s25, e25] = await onBar(cam, cam.locator('.span'));
    expect(s25).toBeCloseTo(0, 2);
    expect(e25).toBeCloseTo(0.5 / 24, 2);
    // The 24th: from 23:30 to the end of the bar.
    await cam.locator('input[type="date"]').fill('2026-11-24');
    await page.waitForFunction(`window.playback.kolkata.shownDay() === '2026-11-24'`);
    const [s24, e24] = await onBar(cam, cam.locator('.span'));
    expect(s24).toBeCloseTo(23.5 / 24, 2);
    expect(e24).toBeCloseTo(1, 2);
  });

  it('remembers the zone chosen in the page over the browser’s own', async () => {
    const page = await open('Asia/Kolkata');
    await page.selectOption('#zone', 'America/New_York');
    // In New York the Kolkata footage (18:00Z-19:00Z) is on the 24th, 13:00-14:00 EST.
    await page.waitForFunction(`window.playback.kolkata.shownDay() === '2026-11-24'`);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    await expect(page.locator('#zone').inputValue()).resolves.toBe('America/New_York');
    const cam = page.locator('[data-device="kolkata"]');
    await expect(cam.locator('input[type="date"]').inputValue()).resolves.toBe('2026-11-24');
    await expect(cam.locator('.span').getAttribute('title')).resolves.toBe('13:00:00 EST – 14:00:00 EST (2 segments)');
  });
});

describe('H.265 footage as H.264 (video=h264)', () => {
  it('cuts from the keyframe before the point, re-encoded to H.264 at the height asked, audio kept', async () => {
    const file = path.join(volume, '..', `${path.basename(volume)}-transcoded.mp4`);
    cleanups.push(() => rm(file, { force: true }));
    const res = await fetch(`${playback.baseUrl}/api/clip?device=h265&start=2026-11-20T12:00:02.500Z&duration=4&video=h264&height=120`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status, body.toString().slice(0, 300)).toBe(200);
    // The keyframe at or before the point (keyframes every second; its decode time, so a B-frame's delay early).
    const start = Date.parse(res.headers.get('x-clip-start')!);
    expect(start).toBeLessThanOrEqual(Date.parse('2026-11-20T12:00:02.500Z'));
    expect(start).toBeGreaterThanOrEqual(Date.parse('2026-11-20T12:00:01.500Z'));
    expect(res.headers.get('x-clip-video')).toBe('h264 (re-encoded from hevc by libx264 veryfast)');
    await writeFile(file, body);
    const probe = await probeFile(file);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({ codec_name: 'h264', width: 160, height: 120 });
    expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    expect(probe.durationSeconds).toBeGreaterThanOrEqual(4.3);
    expect(probe.durationSeconds).toBeLessThanOrEqual(4.7);
    const check = await decodeCheck(file);
    expect(check.ok, check.errors.join('\n')).toBe(true);
  });

  it('refuses another codec or a bad height with 400 naming it', async () => {
    for (const [query, message] of [
      ['video=vp9', /^video: expected copy or h264/],
      ['video=h264&height=7', /^height: expected an even number/],
      ['height=120', /^height: only with video=h264/],
    ] as const) {
      const res = await fetch(`${playback.baseUrl}/api/clip?device=h265&start=2026-11-20T12:00:01Z&duration=2&${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { message: string }).message, query).toMatch(message);
    }
  });

  it('plays in Chromium, which has no H.265 decoder: the page asks for H.264 by itself', async () => {
    const page = await open('UTC');
    const cam = page.locator('[data-device="h265"]');
    await expect(cam.locator('.notice').textContent()).resolves.toMatch(/cannot play H\.265 video: it plays here converted to H\.264/);
    await cam.locator('button.zoom-footage').click();
    await cam.locator('.span').first().click();
    // Pictures, not only sound: without a decoder Chromium plays the audio track and its clock runs on a black
    // picture, so the test counts decoded video frames.
    const video = `document.querySelector('[data-device="h265"] video')`;
    await page.waitForFunction(`(${video}?.currentTime ?? 0) > 1.5 && ${video}.getVideoPlaybackQuality().totalVideoFrames > 25`, undefined, { timeout: 30_000 });
    expect(await page.evaluate(`${video}.error?.code ?? null`)).toBeNull();
  });
});

describe('what users notice', () => {
  it('has an icon, a title, and a page per device titled with its name', async () => {
    const icon = await fetch(`${playback.baseUrl}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg /);
    const page = await open('UTC');
    await expect(page.title()).resolves.toBe('Recorded footage · shifu-rtsp');
    await expect(page.locator('link[rel="icon"]').getAttribute('href')).resolves.toBe('/favicon.svg');
    // The device's name links to its own page.
    await page.locator('[data-device="ny"] h2 a').click();
    await page.waitForSelector('body[data-ready="true"]');
    expect(new URL(page.url()).search).toBe('?device=ny');
    await expect(page.title()).resolves.toBe('ny · Recorded footage · shifu-rtsp');
    await expect(page.locator('[data-device]').count()).resolves.toBe(1);
    await expect(page.locator('h1').textContent()).resolves.toBe('ny');
  });

  it('says what is loading while the timeline is on its way', async () => {
    const context = await browser.newContext({ timezoneId: 'UTC' });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    // The timeline waits for the test's word, so the loading state is seen without a race.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    await page.route('**/api/timeline?*', async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(playback.baseUrl);
    const ny = page.locator('[data-device="ny"]');
    await ny.locator('.loading', { hasText: 'Loading timeline…' }).waitFor();
    await expect(ny.getAttribute('aria-busy')).resolves.toBe('true');
    release();
    await page.waitForSelector('body[data-ready="true"]');
    await expect(ny.locator('.loading').textContent()).resolves.toBe('');
    await expect(ny.getAttribute('aria-busy')).resolves.toBeNull();
  });

  it('works from the keyboard: Tab reaches the timeline, arrows move through the day, Enter plays', async () => {
    const page = await open('America/New_York');
    const bar = page.locator('[data-device="ny"] .bar');
    // Tab from the top of the page until the timeline has the focus (it is in the tab order; the date inputs
    // and video controls before it take several stops each).
    const focused = async (): Promise<unknown> => page.evaluate(`document.activeElement === document.querySelector('[data-device="ny"] .bar')`);
    for (let i = 0; i < 120 && !(await focused()); i++) await page.keyboard.press('Tab');
    expect(await focused()).toBe(true);
    await expect(bar.getAttribute('aria-valuetext')).resolves.toBe('01:10:00 EDT');
    // A step is 1% of the 25-hour view: 15 minutes.
    await page.keyboard.press('ArrowRight');
    await expect(bar.getAttribute('aria-valuetext')).resolves.toBe('01:25:00 EDT');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('Enter');
    await page.waitForFunction(`(document.querySelector('[data-device="ny"] video')?.currentTime ?? 0) > 1.5`, undefined, { timeout: 30_000 });
    await expect(page.locator('[data-device="ny"] video').getAttribute('data-start')).resolves.toBe('2026-11-01T05:10:00.000Z');
  });

  it('fits a phone 375 px wide: nothing scrolls sideways, the timeline and controls are on screen', async () => {
    const page = await open('UTC', { width: 375 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    for (const selector of ['[data-device="ny"] .bar', '[data-device="ny"] button.set-out', '[data-device="ny"] a.download', '#zone', '[data-device="ny"] video']) {
      const box = (await page.locator(selector).boundingBox())!;
      expect(box.x, selector).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, selector).toBeLessThanOrEqual(375);
    }
    expect((await page.locator('[data-device="ny"] .bar').boundingBox())!.width).toBeGreaterThan(300);
    // Big enough for a finger: WCAG 2.2's minimum target, 24 px tall, for every control of a device.
    const heights = (await page.evaluate(
      `[...document.querySelectorAll('[data-device="ny"] .controls :is(button, select, input, a)')].map((n) => [n.className || n.tagName, n.getBoundingClientRect().height])`,
    )) as Array<[string, number]>;
    expect(heights.length).toBeGreaterThanOrEqual(6);
    expect(heights.filter(([, h]) => h < 24)).toEqual([]);
  });

  it('logs no error to the console on any page, the token form of a guarded server included, naming the Secret its token comes from', async () => {
    const token = 'a-long-enough-page-token-0123';
    // As the all-cameras pod runs it: its token from the Secret shifu-rtsp-playback, which the form names.
    const guarded = await startCli('playback', ['--root', volume], { PLAYBACK_TOKEN: token, PLAYBACK_TOKEN_SECRET: 'shifu-rtsp-playback' }, { httpFlag: 'listen' });
    cleanups.push(() => guarded.stop('SIGKILL'));
    const page = await open('UTC', { base: guarded.baseUrl, ready: false });
    await page.waitForSelector('body[data-needs-token="true"]', { timeout: 20_000 });
    expect(await page.locator('#status').textContent()).toBe('This server needs its access token (the Secret shifu-rtsp-playback, key token).');
    await page.fill('#access-token', token);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    await open('UTC', { path: '/?device=kolkata' });
    // Every page this file opened, the pages above included.
    expect(consoleErrors).toEqual([]);
  });
});
