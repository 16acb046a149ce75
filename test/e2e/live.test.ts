// Live view on the forwarder's live port (issue 23): HLS from the shared camera session, played by ffmpeg and
// by Chromium's page, while a camera that allows one RTSP session also serves an RTSP viewer.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort, type HostPort } from '../../functions/lib/index.js';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { FFMPEG } from './fixtures/player.js';
import { spawnForwarder, waitFor, type ForwarderProcess } from './forwarder-support.js';

const CHROMIUM = '/usr/bin/chromium';
const cleanups: Array<() => Promise<unknown>> = [];
let camera: GstCamera;
let forwarder: ForwarderProcess;
let rtspUrl: string;
let live: string;
let browser: BrowserContext;

/** Decodes `frames` video frames of `url` with ffmpeg: how many it decoded, and its stderr. */
function decodeFrames(url: string, frames: number, input: readonly string[] = []): Promise<{ code: number | null; frames: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-nostdin', '-v', 'error', ...input, '-i', url, '-map', '0:v:0', '-frames:v', String(frames), '-f', 'framecrc', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr, frames: out.split('\n').filter((l) => /^0,/.test(l)).length }));
  });
}

/** GET with the request target exactly as given. */
function rawGet(target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(live);
    const req = http.get({ host: url.hostname, port: url.port, path: target }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** The media playlist a multivariant playlist names (each viewer gets its own URL). */
async function mediaPlaylist(index: string, init: RequestInit = {}): Promise<string> {
  return (await mediaPlaylistAt(index, init)).text;
}

async function mediaPlaylistAt(index: string, init: RequestInit = {}): Promise<{ url: URL; text: string }> {
  const multivariant = await (await fetch(index, init)).text();
  const media = /^live\.m3u8\?\S+$/m.exec(multivariant)?.[0];
  if (!media) throw new Error(`no media playlist in ${multivariant}`);
  const url = new URL(media, index);
  return { url, text: await (await fetch(url, init)).text() };
}

const bytesOf = async (url: URL | string): Promise<Buffer> => {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${String(url)}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
};

function liveAddress(f: ForwarderProcess): HostPort {
  const line = f.lines.find((l) => l.msg === 'forwarding');
  const m = /^(.*):(\d+)$/.exec(String(line?.live));
  if (!m) throw new Error(`no live address in ${JSON.stringify(line)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

const count = (msg: string): number => forwarder.lines.filter((l) => l.msg === msg).length;

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'gst-camera', CHROMIUM]) requireTool(tool);
  const profile = await mkdtemp(path.join(os.tmpdir(), 'shifu-chromium-'));
  cleanups.push(() => rm(profile, { recursive: true, force: true }));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  cleanups.push(() => browser.close());
  // One pipeline for every client and one RTSP session at most: a second camera session would be refused.
  camera = await startGstCamera({ video: 'h264', audio: 'pcma', gop: 25, fps: 25, shared: true, maxSessions: 1 });
  cleanups.push(() => camera.stop());
  const port = await freeLoopbackPort();
  forwarder = spawnForwarder(['--upstream', `127.0.0.1:${camera.port}`, '--listen', `127.0.0.1:${port}`, '--health-listen', '127.0.0.1:0', '--live-listen', '127.0.0.1:0', '--linger', '2']);
  cleanups.push(() => forwarder.stop());
  await forwarder.ready();
  const address = liveAddress(forwarder);
  live = `http://${address.host}:${address.port}`;
  rtspUrl = `rtsp://127.0.0.1:${port}${camera.path}`;
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe('live view over HLS', () => {
  it('ffmpeg plays the HLS while an RTSP viewer plays the same camera, which allows one session', async () => {
    const [hls, rtsp] = await Promise.all([decodeFrames(`${live}${camera.path}/index.m3u8`, 75), decodeFrames(rtspUrl, 75, ['-rtsp_transport', 'tcp'])]);
    expect(hls.code, hls.stderr).toBe(0);
    expect(hls.frames).toBe(75);
    expect(rtsp.code, rtsp.stderr).toBe(0);
    expect(rtsp.frames).toBe(75);
    expect(count('camera session opened')).toBe(1);
    const playlist = await mediaPlaylist(`${live}${camera.path}/index.m3u8`);
    expect(playlist).toMatch(/^#EXTM3U\n/);
    expect(playlist).toMatch(/#EXT-X-MAP:URI="init-\d+\.mp4"/);
    // Segments run from keyframe to keyframe: one second here (a GOP of 25 frames at 25 fps; a camera pushed late
    // by a busy machine stamps a frame or two later, seen as 1.08 s), never a part's 0.2 s nor two GOPs.
    const durations = [...playlist.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    expect(durations.length).toBeGreaterThanOrEqual(2);
    expect(durations.length).toBeLessThanOrEqual(6);
    for (const d of durations.slice(1)) expect(Math.abs(d - 1), String(durations)).toBeLessThan(0.15);
  });

  it('LL-HLS: parts as ffmpeg cuts them, the hinted part and a blocking reload answered once there, and a segment is its parts', async () => {
    const { url, text } = await mediaPlaylistAt(`${live}${camera.path}/index.m3u8`);
    const target = Number(/#EXT-X-PART-INF:PART-TARGET=([\d.]+)/.exec(text)?.[1]);
    expect(target).toBeGreaterThan(0);
    expect(text).toMatch(/#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=[\d.]+/);
    const parts = [...text.matchAll(/#EXT-X-PART:DURATION=([\d.]+),URI="(part-(\d+)\.(\d+)\.m4s)"/g)];
    expect(parts.length).toBeGreaterThan(5);
    // Cut every 200 ms and at each keyframe: none over the target, and most are the 200 ms.
    const seconds = parts.map((p) => Number(p[1])).sort((a, b) => a - b);
    for (const d of seconds) expect(d).toBeLessThanOrEqual(target);
    expect(seconds[Math.floor(seconds.length / 2)]).toBeCloseTo(0.2, 1);
    // The hinted part is answered once ffmpeg has cut it: a fragment (moof first).
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(text);
    if (!hint) throw new Error(`no preload hint in ${text}`);
    const [sequence, index] = [Number(hint[1]), Number(hint[2])];
    const hinted = await fetch(new URL(`part-${sequence}.${index}.m4s`, url));
    // The next keyframe may start segment sequence+1 instead: then that part is never made (404), as the RFC allows.
    if (hinted.status === 200) expect(Buffer.from(await hinted.arrayBuffer()).toString('latin1', 4, 8)).toBe('moof');
    else expect(hinted.status).toBe(404);
    // A blocking reload for the part after it: the answer holds it, or the next segment's first.
    const reload = new URL(url);
    reload.searchParams.set('_HLS_msn', String(sequence));
    reload.searchParams.set('_HLS_part', String(index + 1));
    const held = await (await fetch(reload)).text();
    expect(held.includes(`URI="part-${sequence}.${index + 1}.m4s"`) || held.includes(`URI="part-${sequence + 1}.0.m4s"`), held).toBe(true);
    // A complete segment listed with its parts is those parts back to back.
    const listed = /#EXT-X-PART:[^\n]*URI="part-(\d+)\.0\.m4s"[^\n]*\n(?:#EXT-X-PART:[^\n]*\n)*#EXTINF:[\d.]+,\nseg-(\d+)\.m4s/.exec(held);
    if (!listed) throw new Error(`no complete segment with its parts in ${held}`);
    const whole = Number(listed[1]);
    const count = [...held.matchAll(new RegExp(`URI="part-${whole}\\.\\d+\\.m4s"`, 'g'))].length;
    const pieces = await Promise.all(Array.from({ length: count }, (_, i) => bytesOf(new URL(`part-${whole}.${i}.m4s`, url))));
    expect(Buffer.concat(pieces).equals(await bytesOf(new URL(`seg-${whole}.m4s`, url)))).toBe(true);
    // Bad reload parameters are named.
    const bad = new URL(url);
    bad.searchParams.set('_HLS_msn', 'soon');
    const refused = await fetch(bad);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/^_HLS_msn: /);
  });

  it('answers what it cannot serve with a 4xx naming the part: no such camera path, a segment never made, a path that is not one, another method', async () => {
    const missing = await fetch(`${live}/no/such/path/index.m3u8`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { message: string }).message).toMatch(/^path: the camera has no stream \/no\/such\/path/);
    const segment = await fetch(`${live}/never/opened/seg-3.m4s`);
    expect(segment.status).toBe(404);
    expect(((await segment.json()) as { message: string }).message).toMatch(/^segment: /);
    // Sent as written: a NUL and an escape that is not UTF-8 are no camera path.
    for (const raw of ['/a%00b/index.m3u8', '/a%ffb/index.m3u8']) {
      const bad = await rawGet(raw);
      expect(bad.status, raw).toBe(400);
      expect(bad.body, raw).toMatch(/"message":"path: /);
    }
    const post = await fetch(`${live}${camera.path}/index.m3u8`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
  });

  describe('in Chromium', () => {
    it('the player page plays the camera (HLS through hls.js): its clock runs and frames are decoded, beside an RTSP viewer', async () => {
      const rtsp = decodeFrames(rtspUrl, 100, ['-rtsp_transport', 'tcp']);
      const page = await browser.newPage();
      // hls.js in its low-latency mode fetches parts, not only whole segments.
      const partRequests: string[] = [];
      page.on('request', (r) => {
        if (/\/part-\d+\.\d+\.m4s/.test(r.url())) partRequests.push(r.url());
      });
      // WebRTC only inside network namespaces (below): here the page is told to take HLS.
      await page.goto(`${live}${camera.path}/?via=hls`);
      await page.waitForSelector('body[data-playing="hls"]', { timeout: 30_000 });
      const start = Number(await page.evaluate('document.querySelector("video").currentTime'));
      // Strings, not functions: they run in the page, and this file is compiled without DOM types.
      await page.waitForFunction(`document.querySelector('video').currentTime > ${start + 2}`, undefined, { timeout: 30_000 });
      expect(Number(await page.evaluate('document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames'))).toBeGreaterThan(25);
      expect(await page.evaluate('document.querySelector("video").error?.code ?? null')).toBeNull();
      expect(partRequests.length).toBeGreaterThan(0);
      const r = await rtsp;
      expect(r.frames, r.stderr).toBe(100);
      expect(count('camera session opened')).toBe(1);
      await page.close();
    });
  });

  it('closes its camera stream once no viewer has asked for anything, and the camera session after it', async () => {
    await waitFor('the live stream to close', () => forwarder.lines.some((l) => l.msg === 'live stream closed' && l.reason === 'no viewer left'), 30_000);
    await waitFor('the camera session to close', () => count('camera session closed') === 1, 15_000);
    expect(count('camera session opened')).toBe(1);
  });
});

describe('live view of a camera with a login, behind LIVE_TOKEN', () => {
  const token = 'live-token-for-the-e2e-test-0123';
  const password = 'cam-Secret-pass-7391';
  let guarded: ForwarderProcess;
  let locked: GstCamera;
  let base: string;
  const bearer = { headers: { authorization: `Bearer ${token}` } };

  beforeAll(async () => {
    locked = await startGstCamera({ video: 'h264', audio: 'pcmu', gop: 25, fps: 25, shared: true, maxSessions: 1, user: 'admin', password, auth: 'digest' });
    cleanups.push(() => locked.stop());
    const port = await freeLoopbackPort();
    guarded = spawnForwarder(['--upstream', `127.0.0.1:${locked.port}`, '--listen', `127.0.0.1:${port}`, '--health-listen', '127.0.0.1:0', '--live-listen', '127.0.0.1:0', '--linger', '2'], {
      UserName: 'admin',
      PasswordSecret: password,
      LIVE_TOKEN: token,
      LIVE_MAX_VIEWERS: '2',
      LIVE_ALLOW_ORIGIN: 'http://viewer.test',
    });
    cleanups.push(() => guarded.stop());
    await guarded.ready();
    const address = liveAddress(guarded);
    base = `http://${address.host}:${address.port}${locked.path}`;
  });

  it('without the token: 401 and no camera session; with it ffmpeg plays, and the password is in no argv and no log line', async () => {
    for (const init of [{}, { headers: { authorization: 'Bearer not-the-token-at-all-0000' } }]) {
      const refused = await fetch(`${base}/index.m3u8`, init);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { message: string }).message).toContain('LIVE_TOKEN');
    }
    expect(guarded.lines.filter((l) => l.msg === 'live stream opened' || l.msg === 'camera session opened')).toEqual([]);

    const playing = decodeFrames(`${base}/index.m3u8`, 50, ['-headers', `Authorization: Bearer ${token}\r\n`]);
    await waitFor('the camera session', () => guarded.lines.some((l) => l.msg === 'camera session opened'), 30_000);
    // The test camera itself takes it on its command line; nothing of ours may.
    expect(processesShowing(password).filter((p) => !p.includes('gst-camera.py'))).toEqual([]);
    const played = await playing;
    expect(played.code, played.stderr).toBe(0);
    expect(played.frames).toBe(50);
    expect(JSON.stringify(guarded.lines) + guarded.stderr()).not.toContain(password);
  });

  it('the page asks for the token once, keeps it out of its URLs (an HttpOnly cookie), and plays', async () => {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(`${base}/?via=hls`);
    await page.waitForSelector('body[data-needs-token="true"]', { timeout: 30_000 });
    await page.fill('#access-token', token);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('body[data-playing="hls"]', { timeout: 30_000 });
    await page.waitForFunction(`document.querySelector('video').currentTime > 1.5`, undefined, { timeout: 30_000 });
    expect(new URL(page.url()).search).toBe('?via=hls');
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(requested.filter((u) => u.includes(token))).toEqual([`${base}/?via=hls&access_token=${token}`]);
    await page.close();
  });
  it('takes at most LIVE_MAX_VIEWERS viewers of a camera: the next gets 503 naming it', async () => {
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await fetch(`${base}/index.m3u8`, bearer));
    const last = answers[2]!;
    expect(last.status).toBe(503);
    expect(((await last.json()) as { message: string }).message).toMatch(/^viewers: 2 watch .*LIVE_MAX_VIEWERS/);
  });

  it('answers CORS for the origins LIVE_ALLOW_ORIGIN names, and for no other', async () => {
    const allowed = await fetch(`${base}/index.m3u8`, { method: 'OPTIONS', headers: { origin: 'http://viewer.test', 'access-control-request-method': 'GET' } });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://viewer.test');
    const other = await fetch(`${base}/index.m3u8`, { method: 'OPTIONS', headers: { origin: 'http://elsewhere.test', 'access-control-request-method': 'GET' } });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const refused = await fetch(`${base}/index.m3u8`, { headers: { origin: 'http://viewer.test' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe('http://viewer.test');
  });

});

/** Processes whose command line holds `text` (every user on a node can read them). */
function processesShowing(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline.split('\0').join(' ')}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
