// Benchmark, not a test: how fast the playback server turns H.265 footage into H.264 for a browser
// (/api/clip?video=h264), as a multiple of real time, at 1080p25 and 720p25, against plain ffmpeg with the
// same encoder on the same file; and the time from a click on the page to the first frame in Chromium.
// Knobs: BENCH_TRANSCODE_SECONDS (footage per source, default 20), BENCH_CHROMIUM (default /usr/bin/chromium;
// the first-frame row is left out when it is missing).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';
import { fmt, sleep, track, waitExit, whenRunDirectly } from './support/util.js';

export type BenchRow = Readonly<Record<string, string | number>>;

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../../functions/cli.js');
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const SECONDS = Number(process.env.BENCH_TRANSCODE_SECONDS ?? 20);
const CHROMIUM = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium';
const T0 = Date.parse('2026-11-24T06:00:00Z');

const SOURCES = [
  { device: 'h265-1080p', size: '1920x1080', height: 1080 },
  { device: 'h265-720p', size: '1280x720', height: 720 },
] as const;

function note(message: string): void {
  process.stderr.write(`[bench:transcode ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function exec(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { maxBuffer: 16 << 20 }, (err, _stdout, stderr) => (err ? reject(new Error(`${cmd}: ${stderr.slice(-800)}`)) : resolve()));
  });
}

/** One H.265 + AAC segment per source, as a camera records it (2 s GOP), journaled at T0. */
async function synthesize(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const source of SOURCES) {
    const file = segmentFixture({ device: source.device, start: T0, seconds: SECONDS, root }).absolutePath;
    await mkdir(path.dirname(file), { recursive: true });
    await mkdir(path.dirname(journalPathOf(root, source.device)), { recursive: true });
    note(`encoding ${SECONDS} s of ${source.size} H.265`);
    await exec(FFMPEG, [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${source.size}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(SECONDS), '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=50:min-keyint=50', '-tag:v', 'hvc1',
      '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-shortest', file,
    ]);
    const segment = segmentFixture(
      { device: source.device, start: T0, seconds: SECONDS, root },
      { bytes: (await stat(file)).size, sha256: '0'.repeat(64), video: { codec: 'hevc', width: Number(source.size.split('x')[0]), height: source.height, fps: 25 }, audio: { codec: 'aac' } },
    );
    await appendToJournal(journalPathOf(root, source.device), segment);
    files.set(source.device, file);
  }
  return files;
}

/** GETs a clip to nowhere: time to first byte and to the end. */
function fetchClip(port: number, query: string): Promise<{ ttfbMs: number; totalMs: number; status: number; video: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    http.get({ host: '127.0.0.1', port, path: `/api/clip?${query}` }, (res) => {
      let ttfb = 0;
      res.on('data', () => (ttfb ||= performance.now() - started));
      res.on('end', () => resolve({ ttfbMs: ttfb, totalMs: performance.now() - started, status: res.statusCode ?? 0, video: String(res.headers['x-clip-video'] ?? '') }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Plain ffmpeg with the preset the server's libx264 used (its pace picks one per request), output thrown away. */
async function plainFfmpeg(file: string, height: number, preset: string): Promise<number> {
  const started = performance.now();
  await exec(FFMPEG, [
    '-v', 'error', '-i', file, '-vf', `scale=-2:'min(ih,${height})'`, '-c:v', 'libx264', '-preset', preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-c:a', 'copy', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', '-y', '/dev/null',
  ]);
  return performance.now() - started;
}

/** From a click on the H.265 device's footage to the first decoded frame, in Chromium. */
async function firstFrameMs(port: number, device: string): Promise<number> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    const cam = page.locator(`[data-device="${device}"]`);
    await cam.locator('button.zoom-footage').click();
    const started = performance.now();
    await cam.locator('.span').first().click();
    await page.waitForFunction(`document.querySelector('[data-device="${device}"] video').getVideoPlaybackQuality().totalVideoFrames > 0`, undefined, { timeout: 60_000, polling: 20 });
    return performance.now() - started;
  } finally {
    await browser.close();
  }
}

export async function run(): Promise<BenchRow[]> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-transcode-'));
  const rows: BenchRow[] = [];
  try {
    const files = await synthesize(root);
    const port = await freeLoopbackPort();
    const server = track(spawn(process.execPath, [CLI, 'playback', '--root', root, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } }));
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => http.get({ host: '127.0.0.1', port, path: '/health' }, (res) => resolve(res.statusCode === 200)).on('error', () => resolve(false)));
      if (up) break;
      await sleep(100);
    }
    const start = new Date(T0).toISOString();
    // 720p first: the goal row runs with the default preset; a row that falls behind makes the next
    // ones ultrafast (the server's pace), and each row's peer uses the preset the server used.
    for (const [source, height] of [[SOURCES[1], 720], [SOURCES[0], 720], [SOURCES[0], 1080]] as const) {
      const query = `device=${source.device}&start=${start}&duration=${SECONDS}&video=h264&height=${height}`;
      const ours = await fetchClip(port, query);
      if (ours.status !== 200) throw new Error(`${query}: ${ours.status}`);
      const preset = /libx264 (\w+)/.exec(ours.video)?.[1] ?? 'veryfast';
      const theirs = await plainFfmpeg(files.get(source.device)!, height, preset);
      rows.push({
        measure: `${source.size.split('x')[1]}p25 H.265 -> ${height}p H.264, ${SECONDS} s (${ours.video})`,
        playback: `${fmt((SECONDS * 1000) / ours.totalMs, 2)}x real time, first byte ${fmt(ours.ttfbMs, 0)} ms`,
        peer: `plain ffmpeg, ${preset}: ${fmt((SECONDS * 1000) / theirs, 2)}x real time`,
        ratio: fmt(ours.totalMs / theirs, 2),
      });
    }
    if (existsSync(CHROMIUM)) {
      for (const source of SOURCES) {
        rows.push({ measure: `Chromium: click to first frame, ${source.size.split('x')[1]}p H.265 (the page asks 720p H.264)`, playback: `${fmt(await firstFrameMs(port, source.device), 0)} ms`, peer: '', ratio: '' });
      }
    } else note(`no Chromium at ${CHROMIUM}: first-frame row left out`);
    server.kill('SIGTERM');
    await waitExit(server, 5000);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return rows;
}

whenRunDirectly(import.meta.url, async () => {
  console.table(await run());
});
