// The playback page's live grid (issue 23, "The page"): a real GStreamer camera, the forwarder with live view
// behind LIVE_TOKEN, and the playback server proxying each device's live view (PLAYBACK_LIVE_URLS), all in
// one network namespace; Chromium in another, joined by a veth (10.250.0.0/16), so every ICE agent gathers
// and checks only those addresses. The browser reaches only the playback server over HTTP (same origin),
// and the forwarder's WebRTC UDP ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { runFfmpeg } from './fixtures/player.js';
import { cliPath, spawnForwarder, waitFor, type ForwarderProcess } from './forwarder-support.js';
import { chromiumInNetns, CHROMIUM } from './support/chromium-netns.js';
import { createTestNetwork, type TestNetwork } from './support/netns.js';
import { segmentFixture } from '../support/segment.js';

const LIVE_TOKEN = randomBytes(16).toString('hex');
const PLAYBACK_TOKEN = randomBytes(16).toString('hex');
const cleanups: Array<() => Promise<unknown>> = [];
let network: TestNetwork;
let camera: GstCamera;
let forwarder: ForwarderProcess;
let browser: BrowserContext;
/** The playback server as the browser's namespace reaches it. */
let site: string;
/** The same server and the forwarder's live port, from this namespace (through the camera namespace's host veth). */
let siteFromHost: string;
let liveFromHost: string;
let playbackLog: string[];
/** Where cam1's recorded footage ends. */
let recordedEndMs: number;

/** `shifu-rtsp playback` inside the camera namespace; resolves once it listens. */
async function startPlayback(volume: string, port: number, livePort: number): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', network.cameraNs, process.execPath, cliPath, 'playback', '--root', volume, '--listen', `0.0.0.0:${port}`], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PLAYBACK_TOKEN,
      PLAYBACK_LIVE_TOKEN: LIVE_TOKEN,
      PLAYBACK_LIVE_URLS: `cam1=http://127.0.0.1:${livePort}${camera.path}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  playbackLog = [];
  child.stderr.on('data', (b: Buffer) => playbackLog.push(b.toString()));
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      playbackLog.push(line);
      if (line.includes('"playback listening"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`playback exited (${code}): ${playbackLog.join('\n')}`)));
  });
  return child;
}

/** A real four-second H.264 segment journaled for cam1 as recorded a minute ago: the timeline to go back to. */
async function recordedMinuteAgo(volume: string): Promise<void> {
  const startMs = Math.floor((Date.now() - 60_000) / 1000) * 1000;
  recordedEndMs = startMs + 50_000;
  const segment = segmentFixture({ device: 'cam1', start: startMs, seconds: 50, root: volume }, { bytes: 1 });
  const file = segment.absolutePath;
  await mkdir(path.dirname(file), { recursive: true });
  await mkdir(path.dirname(journalPathOf(volume, 'cam1')), { recursive: true });
  const made = await runFfmpeg(['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '50', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', file]);
  expect(made.code, made.stderr).toBe(0);
  await appendToJournal(journalPathOf(volume, 'cam1'), segment);
}

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'gst-camera', CHROMIUM]) requireTool(tool);
  network = createTestNetwork('rtm-lg');
  cleanups.push(async () => network.remove());
  // Chromium gathers no candidate without a default route (issue 23's measurement): one through the direct veth.
  const route = spawn('ip', ['-n', network.viewerNs, 'route', 'add', 'default', 'via', network.cameraDirectAddress]);
  await new Promise((resolve) => route.once('exit', resolve));
  camera = await startGstCamera({ video: 'h264', audio: 'pcma', gop: 25, fps: 25, width: 640, height: 360, shared: true, netns: network.cameraNs, address: '127.0.0.1' });
  cleanups.push(() => camera.stop());
  const livePort = 20000 + Math.floor(Math.random() * 10000);
  forwarder = spawnForwarder(
    ['--upstream', `127.0.0.1:${camera.port}`, '--listen', `127.0.0.1:${livePort + 1}`, '--health-listen', '127.0.0.1:0', '--live-listen', `0.0.0.0:${livePort}`, '--linger', '2'],
    { LIVE_TOKEN, LIVE_WEBRTC_ADDRESSES: network.cameraDirectAddress, LIVE_WEBRTC_UDP_PORTS: '8189-8199' },
    network.cameraNs,
  );
  cleanups.push(() => forwarder.stop());
  await forwarder.ready();
  liveFromHost = `http://${network.cameraAddress}:${livePort}${camera.path}`;

  const volume = await mkdtemp(path.join(os.tmpdir(), 'shifu-live-grid-'));
  cleanups.push(() => rm(volume, { recursive: true, force: true }));
  await recordedMinuteAgo(volume);
  const playbackPort = livePort + 2;
  const playback = await startPlayback(volume, playbackPort, livePort);
  cleanups.push(async () => {
    playback.kill('SIGTERM');
    await new Promise((resolve) => (playback.exitCode === null ? playback.once('exit', resolve) : resolve(null)));
  });
  site = `http://${network.cameraDirectAddress}:${playbackPort}`;
  siteFromHost = `http://${network.cameraAddress}:${playbackPort}`;

  // Chromium itself in the viewer namespace.
  const chromium = await chromiumInNetns(network.viewerNs);
  browser = chromium.browser;
  cleanups.push(chromium.close);
  // The playback token once: the server keeps it in a cookie every request of the page carries.
  const first = await browser.newPage();
  await first.goto(`${site}/?access_token=${PLAYBACK_TOKEN}`);
  await first.close();
}, 90_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const TILE = 'figure[data-device="cam1"]';

/** Decoded frames of the tile's video. */
const framesOf = async (page: Page): Promise<number> => Number(await page.evaluate(`document.querySelector('${TILE} video').getVideoPlaybackQuality().totalVideoFrames`));

/** The tile plays `mode`, and its picture moves: its clock runs and frames keep being decoded. */
async function playsIn(page: Page, mode: 'webrtc' | 'hls'): Promise<void> {
  await page.waitForSelector(`${TILE}[data-playing="${mode}"]`, { timeout: 45_000 });
  const start = Number(await page.evaluate(`document.querySelector('${TILE} video').currentTime`));
  const frames = await framesOf(page);
  await page.waitForFunction(`document.querySelector('${TILE} video').currentTime > ${start + 2}`, undefined, { timeout: 30_000 });
  expect(await framesOf(page)).toBeGreaterThan(frames + 25);
}

describe('the playback page shows every camera live, through the playback server', () => {
  it('a tile plays over HLS through the proxy, saying so and how far behind it is; the forwarder wants the live token the proxy passes on', async () => {
    // The forwarder itself refuses a request without LIVE_TOKEN; the proxy without the playback token.
    expect((await fetch(`${liveFromHost}/index.m3u8`)).status).toBe(401);
    const refused = await fetch(`${siteFromHost}/live/cam1/index.m3u8`);
    expect(refused.status).toBe(401);
    const list = await fetch(`${siteFromHost}/api/live`, { headers: { authorization: `Bearer ${PLAYBACK_TOKEN}` } });
    expect(await list.json()).toEqual({ devices: [{ device: 'cam1', live: '/live/cam1/' }] });

    const page = await browser.newPage();
    await page.goto(`${site}/?live=hls`);
    await playsIn(page, 'hls');
    const status = String(await page.textContent(`${TILE} .live-status`));
    expect(status).toMatch(/^HLS · \d+\.\d s behind$/);
    // Measured from the segments' EXT-X-PROGRAM-DATE-TIME: seconds, not minutes.
    expect(Number(await page.getAttribute(TILE, 'data-latency-ms'))).toBeLessThan(20_000);
    // Click for large, click again for the grid.
    await page.click(`${TILE} video`);
    expect(await page.getAttribute(TILE, 'class')).toContain('large');
    await page.click(`${TILE} video`);
    expect(await page.getAttribute(TILE, 'class')).not.toContain('large');
    expect(playbackLog.join('\n')).not.toContain(LIVE_TOKEN);
    await page.close();
  });

  it('a tile plays over WebRTC, its offer and answer through the proxy and its media straight from the forwarder', async () => {
    const page = await browser.newPage();
    await page.goto(`${site}/?live=webrtc`);
    await playsIn(page, 'webrtc');
    expect(String(await page.textContent(`${TILE} .live-status`))).toMatch(/^WebRTC( · \d+\.\d s behind)?$/);
    await page.close();
    await waitFor('the WHEP session to end with the page', () => forwarder.lines.some((l) => l.msg === 'whep session closed'), 30_000);
  });

  it('"Back to recording" plays the recording from the same moment, in the timeline', async () => {
    const page = await browser.newPage();
    await page.goto(`${site}/?live=hls`);
    await page.waitForSelector(`${TILE}[data-playing="hls"]`, { timeout: 45_000 });
    await page.click(`${TILE} .back-to-recording`);
    // The live moment is after the last finished segment: its last seconds play, and the page says why.
    await page.waitForFunction(`document.querySelector('section.device[data-device="cam1"] video').currentTime > 0.5`, undefined, { timeout: 30_000 });
    const start = Date.parse(String(await page.getAttribute('section.device[data-device="cam1"] video', 'data-start')));
    // Its last 10 s, from the keyframe (one a second) at or before that.
    expect(start).toBeGreaterThanOrEqual(recordedEndMs - 11_000);
    expect(start).toBeLessThan(recordedEndMs);
    expect(String(await page.textContent('section.device[data-device="cam1"] .notice'))).toMatch(/Recorded up to/);
    await page.close();
  });

  it('a tile says "Camera offline" when the camera goes away, and plays again by itself when it returns', async () => {
    const page = await browser.newPage();
    await page.goto(`${site}/`);
    await page.waitForSelector(`${TILE}[data-state="playing"]`, { timeout: 45_000 });
    await camera.stop();
    await page.waitForSelector(`${TILE}[data-state="offline"]`, { timeout: 30_000 });
    expect(String(await page.textContent(`${TILE} .live-status`))).toContain('Camera offline');
    await camera.restart();
    await page.waitForSelector(`${TILE}[data-state="playing"]`, { timeout: 60_000 });
    const frames = await framesOf(page);
    await page.waitForFunction(`document.querySelector('${TILE} video').getVideoPlaybackQuality().totalVideoFrames > ${frames + 25}`, undefined, { timeout: 30_000 });
    await page.close();
  });
});
