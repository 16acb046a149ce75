// `npm run bench -- live`: live view in real headless Chromium (Debian's, through playwright-core), every ICE
// agent inside network namespaces: a GStreamer camera (1280x720, 25 fps, 2 s GOP, H.264 + G.711) and the
// forwarder in one, Chromium in another. Time to first frame (navigation start to the first
// requestVideoFrameCallback, the page's live:frame mark) over WebRTC and HLS, where a WebRTC join's time goes
// (the page's live:* marks), WebRTC's first frame as a ratio of HLS's in the same run, and the forwarder's CPU
// (with its ffmpeg) and memory per WebRTC viewer (BENCH_LIVE_LOAD=0 skips those), and glass-to-glass latency over
// both, read back from a camera whose frames show its clock (glassToGlass). Numbers, not pass/fail.
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startGstCamera, type GstCameraOptions } from '../e2e/fixtures/camera.js';
import { createTestNetwork } from '../e2e/support/netns.js';
import { CLI as CLI_PATH, cpuSeconds, memoryMiB } from './forwarder-proxies.js';
import { percentile, sleep } from './support/util.js';

const CHROMIUM = '/usr/bin/chromium';
/** Page opens per way of playing: the first opens the camera session, the rest join it. */
const RUNS = Math.max(2, Number(process.env.BENCH_LIVE_RUNS ?? 6));
const MEASURE_S = 10;
/** Seconds of frames read back for glass-to-glass, per way. */
const LATENCY_S = 15;

/** The page's steps (`live:*` performance marks, ms since navigation start) and its first decoded frame. */
type Steps = Record<string, number>;

/** Milliseconds from navigation start to the first decoded frame (the page's `live:frame` mark), and the page's steps. */
async function firstFrame(page: Page, url: string, mode: 'webrtc' | 'hls'): Promise<{ ms: number; steps: Steps }> {
  await page.goto(url);
  await page.waitForSelector(`body[data-playing="${mode}"]`, { timeout: 60_000 });
  await page.waitForFunction(`performance.getEntriesByName('live:frame').length > 0`, undefined, { timeout: 60_000 });
  const steps = (await page.evaluate(`Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('live:')).map((m) => [m.name.slice(5), m.startTime]))`)) as Steps;
  return { ms: steps['frame'] ?? NaN, steps };
}

/** A camera (GStreamer, shared pipeline) and the forwarder in one namespace, Chromium in another. */
interface Rig {
  readonly base: string;
  readonly forwarderPid: number;
  readonly browser: BrowserContext;
}

async function startRig(camera: GstCameraOptions, cleanups: Array<() => Promise<unknown>>): Promise<Rig> {
  const network = createTestNetwork();
  cleanups.push(async () => network.remove());
  execFileSync('ip', ['-n', network.viewerNs, 'route', 'add', 'default', 'via', network.cameraDirectAddress]);
  const cam = await startGstCamera({ ...camera, shared: true, netns: network.cameraNs, address: '127.0.0.1' });
  cleanups.push(() => cam.stop());
  const livePort = 20000 + Math.floor(Math.random() * 10000);
  const forwarder = spawn('ip', ['netns', 'exec', network.cameraNs, process.execPath, CLI_PATH, 'forwarder', '--upstream', `127.0.0.1:${cam.port}`, '--listen', `127.0.0.1:${livePort + 1}`, '--health-listen', '127.0.0.1:0', '--live-listen', `0.0.0.0:${livePort}`], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', LIVE_WEBRTC_ADDRESSES: network.cameraDirectAddress, LIVE_WEBRTC_UDP_PORTS: '8189-8219' },
    stdio: 'ignore',
  });
  cleanups.push(async () => forwarder.kill('SIGTERM'));
  // Up once its live port answers (a loaded machine takes seconds to start Node); asked over the host's own link
  // to the namespace, while Chromium uses the viewer's.
  const base = `http://${network.cameraDirectAddress}:${livePort}${cam.path}/`;
  const fromHost = `http://${network.cameraAddress}:${livePort}${cam.path}/`;
  for (const deadline = Date.now() + 30_000; ; await sleep(200)) {
    const up = await fetch(fromHost).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline) throw new Error(`the forwarder's live port ${fromHost} did not answer within 30 s`);
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-live-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const wrapper = path.join(dir, 'chromium-in-netns');
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${network.viewerNs} ${CHROMIUM} "$@"\n`);
  await chmod(wrapper, 0o755);
  const browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: wrapper,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required', '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
  cleanups.push(() => browser.close());
  await browser.addInitScript(KEEP_HLS);
  return { base, forwarderPid: forwarder.pid ?? 0, browser };
}

/**
 * Glass-to-glass: for `seconds`, each frame the page's <video> shows is drawn to a canvas and the camera's clock
 * code read back (16 blocks, the capture's wall-clock ms mod 2^16; gst-camera.py --clock-code); its age is the
 * frame's expected display time minus that. Camera, forwarder and browser share this machine's clock.
 */
async function glassToGlass(page: Page, seconds: number): Promise<{ ages: number[]; hls: HlsState | null }> {
  return (await page.evaluate(`new Promise((resolve) => {
    const video = document.querySelector('video');
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 180;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    const ages = [];
    const end = performance.now() + ${seconds * 1000};
    const onFrame = (_now, meta) => {
      context.drawImage(video, 0, 0, 320, 180);
      const row = context.getImageData(0, 22, 320, 1).data;
      let code = 0;
      for (let i = 0; i < 16; i += 1) code = code * 2 + (row[Math.floor((i + 0.5) * 20) * 4] > 128 ? 1 : 0);
      const shown = Math.round(performance.timeOrigin + meta.expectedDisplayTime) % 65536;
      ages.push((shown - code + 65536) % 65536);
      if (performance.now() < end) video.requestVideoFrameCallback(onFrame);
      else resolve({ ages, hls: ${HLS_STATE} });
    };
    video.requestVideoFrameCallback(onFrame);
  })`)) as { ages: number[]; hls: HlsState | null };
}

/** What hls.js says of itself at the end of a window: its target latency, and the stalls that raised it. */
interface HlsState {
  /** null before hls.js has a playlist's details (its getter's own answer then). */
  readonly targetLatency: number | null;
  readonly stalls: number;
}
const HLS_STATE = `window.__benchHls ? { targetLatency: window.__benchHls.targetLatency, stalls: window.__benchHls.latencyController?.stallCount ?? NaN } : null`;

/**
 * Keeps the page's hls.js instance where the bench can ask it (the pages hold it in a closure): the Hls class the
 * page loads is replaced, as it is set on window, by a subclass that remembers each instance.
 */
const KEEP_HLS = `(() => {
  let kept;
  Object.defineProperty(window, 'Hls', { configurable: true, get: () => kept, set: (Hls) => {
    kept = class extends Hls { constructor(config) { super(config); window.__benchHls = this; } };
  } });
})()`;

const median = (values: number[]): number => percentile(values, 50);

export async function run(): Promise<ReadonlyArray<Record<string, string | number>>> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const rows: Array<Record<string, string | number>> = [];
    const patterned: Array<() => Promise<unknown>> = [];
    cleanups.push(() => release(patterned));
    const { base, forwarderPid, browser } = await startRig({ video: 'h264', audio: 'pcma', width: 1280, height: 720, fps: 25, gop: 50, bitrate: 2000 }, patterned);
    const joined: Record<'webrtc' | 'hls', number> = { webrtc: NaN, hls: NaN };
    for (const mode of ['webrtc', 'hls'] as const) {
      // The first run opens the camera session; later ones join the open one (as most viewers do).
      const runs: Array<{ ms: number; steps: Steps }> = [];
      for (let i = 0; i < RUNS; i += 1) {
        const page = await browser.newPage();
        runs.push(await firstFrame(page, `${base}?via=${mode}`, mode));
        await page.close();
        // Not in step with the camera's GOP, so the joins land anywhere in it.
        await sleep(700 + Math.random() * 1000);
      }
      joined[mode] = median(runs.slice(1).map((r) => r.ms));
      rows.push({ measure: `${mode}: first frame, opening the camera session (ms)`, value: Math.round(runs[0]!.ms) });
      rows.push({ measure: `${mode}: first frame, joining it (median of ${RUNS - 1}, ms)`, value: Math.round(joined[mode]) });
      if (mode === 'webrtc') {
        // Where a join's time goes, from the page's marks (median of each step).
        const step = (from: string | undefined, to: string, name: string): void => {
          const spans = runs.slice(1).map((r) => (r.steps[to] ?? NaN) - (from === undefined ? 0 : (r.steps[from] ?? NaN)));
          rows.push({ measure: `webrtc join: ${name} (median, ms)`, value: Math.round(median(spans)) });
        };
        step(undefined, 'start', 'navigation to the offer (page load)');
        step('start', 'gathered', "the offer and Chromium's ICE gathering");
        step('gathered', 'answered', 'WHEP round trip (the forwarder answers)');
        step('answered', 'connected', 'ICE checks and DTLS to connected');
        step('connected', 'frame', 'connected to the first decoded frame (keyframe, decode)');
      }
    }
    rows.push({ measure: 'first frame joining: WebRTC / HLS, same run (ratio)', value: Math.round((joined.webrtc / joined.hls) * 100) / 100 });
    if (process.env.BENCH_LIVE_LOAD !== '0') await viewerLoad(rows, base, forwarderPid, browser);
    await release(patterned);

    // Glass-to-glass, on a camera of its own whose frames carry its clock (a test pattern carries none).
    const clocked = await startRig({ video: 'h264', audio: 'pcma', width: 1280, height: 720, fps: 25, gop: 50, bitrate: 2000, clockCode: true }, cleanups);
    const ages: Record<'webrtc' | 'hls', number> = { webrtc: NaN, hls: NaN };
    for (const mode of ['webrtc', 'hls'] as const) {
      const page = await clocked.browser.newPage();
      await firstFrame(page, `${clocked.base}?via=${mode}`, mode);
      await sleep(2000);
      const { ages: seen, hls } = await glassToGlass(page, LATENCY_S);
      await page.close();
      if (mode === 'hls') rows.push({ measure: "hls: hls.js's target latency at the end (stalls that raised it)", value: typeof hls?.targetLatency === 'number' ? `${hls.targetLatency.toFixed(2)} s (${hls.stalls})` : 'unknown' });
      ages[mode] = median(seen);
      rows.push({ measure: `${mode}: glass-to-glass, median of ${seen.length} frames (ms)`, value: Math.round(ages[mode]) });
      rows.push({ measure: `${mode}: glass-to-glass, 90th percentile (ms)`, value: Math.round(percentile(seen, 90)) });
    }
    rows.push({ measure: 'glass-to-glass: WebRTC / HLS, same run (ratio)', value: Math.round((ages.webrtc / ages.hls) * 100) / 100 });
    return rows;
  } finally {
    await release(cleanups);
  }
}

async function release(cleanups: Array<() => Promise<unknown>>): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}

/** The forwarder's CPU (with its ffmpeg) and memory with 1 and 5 WebRTC viewers. */
async function viewerLoad(rows: Array<Record<string, string | number>>, base: string, pid: number, browser: BrowserContext): Promise<void> {
  for (const viewers of [1, 5]) {
    const pages = await Promise.all(Array.from({ length: viewers }, () => browser.newPage()));
    await Promise.all(pages.map((p) => firstFrame(p, `${base}?via=webrtc`, 'webrtc')));
    await sleep(2000);
    const cpu0 = cpuSeconds(pid);
    await sleep(MEASURE_S * 1000);
    const cpu = (100 * (cpuSeconds(pid) - cpu0)) / MEASURE_S;
    rows.push({ measure: `${viewers} WebRTC viewer(s): forwarder + its ffmpeg, CPU % of a core`, value: Math.round(cpu * 10) / 10 });
    rows.push({ measure: `${viewers} WebRTC viewer(s): forwarder + its ffmpeg, memory (MiB)`, value: Math.round(memoryMiB(pid).mib) });
    await Promise.all(pages.map((p) => p.close()));
    await sleep(7000);
  }
}
