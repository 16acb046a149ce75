// Benchmark, not a test: HLS of recordings and thumbnails (issue 22 sections 5 and 4) against plain ffmpeg on the
// same files, in the same run. Six hour-long segments as the recorder writes them (fragmented MP4, 1 s fragments,
// 2 s GOP, 720p); a player's start (playlist, init segment, first media segment), a seek far into the range (one
// media segment), against plain ffmpeg cutting the same 6 s from the same point (-ss, -c copy to a pipe) and the
// server's own /api/clip; thumbnails first, cached, and 304, against plain ffmpeg decoding the same keyframe.
// Knobs: BENCH_HLS_HOURS (6), BENCH_HLS_RUNS (5), BENCH_HLS_DIR (keep the footage there between runs).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { link, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';
import { fmt, percentile, sleep, track, whenRunDirectly } from './support/util.js';

export type BenchRow = Readonly<Record<string, string | number>>;

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../../functions/cli.js');
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const HOURS = Number(process.env.BENCH_HLS_HOURS ?? 6);
const RUNS = Number(process.env.BENCH_HLS_RUNS ?? 5);
const DEVICE = 'bench';
const T0 = Date.parse('2026-11-24T06:00:00Z');

function note(message: string): void {
  process.stderr.write(`[bench:playback-hls ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function exec(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${stderr.slice(-800)}`)) : resolve(stdout)));
  });
}

/** One hour as the recorder's MP4 muxer writes it (60 s encoded, looped with -c copy), hard-linked under each hour. */
async function synthesize(root: string): Promise<string[]> {
  const dir = path.join(root, DEVICE);
  await mkdir(dir, { recursive: true });
  await mkdir(path.dirname(journalPathOf(root, DEVICE)), { recursive: true });
  const short = path.join(root, 'short.mp4');
  const hour = path.join(root, 'hour.mp4');
  note('encoding 60 s of 720p, then an hour of it with the recorder\'s muxer options');
  await exec(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1000k', '-g', '50', '-c:a', 'aac', '-b:a', '64k', short]);
  await exec(FFMPEG, ['-v', 'error', '-y', '-stream_loop', '59', '-i', short, '-map', '0', '-c', 'copy',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000', '-f', 'mp4', hour]);
  const bytes = (await stat(hour)).size;
  const files: string[] = [];
  // Journaled under another name and renamed last: a kept folder (the journal there) is whole, never half made.
  const partial = `${journalPathOf(root, DEVICE)}.partial`;
  await rm(partial, { force: true });
  for (let h = 0; h < HOURS; h++) {
    const segment = segmentFixture(
      { device: DEVICE, start: T0 + h * 3600_000, seconds: 3600, root },
      { sequence: h + 1, bytes, video: { codec: 'h264', width: 1280, height: 720, fps: 25 }, audio: { codec: 'aac' } },
    );
    await link(hour, segment.absolutePath);
    files.push(segment.absolutePath);
    await appendToJournal(partial, segment);
  }
  await rename(partial, journalPathOf(root, DEVICE));
  await rm(short);
  return files;
}

/** GETs a path to its end: status, first-byte and total time, bytes, headers. */
function get(port: number, route: string, headers: Record<string, string> = {}): Promise<{ status: number; ttfbMs: number; totalMs: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ttfb = NaN;
    const chunks: Buffer[] = [];
    http.get({ host: '127.0.0.1', port, path: route, headers }, (res) => {
      res.on('data', (b: Buffer) => {
        if (chunks.length === 0) ttfb = performance.now() - started;
        chunks.push(b);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ttfbMs: ttfb, totalMs: performance.now() - started, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Plain ffmpeg's time to write `args`' output to a pipe. */
async function plain(args: readonly string[]): Promise<number> {
  const started = performance.now();
  const child = track(spawn(FFMPEG, ['-v', 'error', ...args], { stdio: ['ignore', 'pipe', 'inherit'] }));
  child.stdout!.resume();
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`plain ffmpeg exited ${code}`);
  return performance.now() - started;
}

interface MediaSegment {
  readonly wallMs: number;
  readonly uri: string;
  readonly range: string;
}

function segmentsOf(playlist: string): { map: { uri: string; range: string }; segments: MediaSegment[] } {
  let map = { uri: '', range: '' };
  const segments: MediaSegment[] = [];
  let wall = NaN;
  let range = '';
  for (const line of playlist.split('\n')) {
    const m = /^#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@(\d+)"$/.exec(line);
    if (m && map.uri === '') map = { uri: m[1]!, range: `bytes=${m[3]}-${Number(m[3]) + Number(m[2]) - 1}` };
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) wall = Date.parse(line.slice(25));
    const r = /^#EXT-X-BYTERANGE:(\d+)@(\d+)$/.exec(line);
    if (r) range = `bytes=${r[2]}-${Number(r[2]) + Number(r[1]) - 1}`;
    if (line.startsWith('/')) segments.push({ wallMs: wall, uri: line, range });
  }
  return { map, segments };
}

const median = (values: readonly number[]): number => percentile(values, 50);

export async function run(): Promise<BenchRow[]> {
  const keep = process.env.BENCH_HLS_DIR;
  const root = keep ?? (await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-hls-')));
  const cache = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-hls-cache-'));
  const rows: BenchRow[] = [];
  let server: ChildProcess | undefined;
  try {
    const exists = keep ? await stat(journalPathOf(root, DEVICE)).then(() => true, () => false) : false;
    const files = exists ? Array.from({ length: HOURS }, (_, h) => segmentFixture({ device: DEVICE, start: T0 + h * 3600_000, seconds: 3600, root }).absolutePath) : await synthesize(root);
    const port = await freeLoopbackPort();
    server = track(spawn(process.execPath, [CLI, 'playback', '--root', root, '--listen', `127.0.0.1:${port}`, '--cache-dir', cache], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } }));
    for (let i = 0; i < 100; i++) {
      const up = await get(port, '/health').then((r) => r.status === 200, () => false);
      if (up) break;
      await sleep(100);
    }
    const iso = (ms: number): string => new Date(ms).toISOString();
    const playlistRoute = `/api/hls/${DEVICE}.m3u8?start=${iso(T0)}&end=${iso(T0 + HOURS * 3600_000)}`;

    // 1. The playlist of the whole range: the first (each file's fragment index read) and later ones (cached).
    const cold = await get(port, playlistRoute);
    if (cold.status !== 200) throw new Error(`playlist: ${cold.status} ${cold.body.toString().slice(0, 200)}`);
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) warm.push((await get(port, playlistRoute)).totalMs);
    const { map, segments } = segmentsOf(cold.body.toString());
    rows.push({ measure: `playlist of ${HOURS} h (${segments.length} segments, ${(cold.body.length / 1024).toFixed(0)} KiB)`, 'playback server': `${fmt(cold.totalMs, 0)} ms first, ${fmt(median(warm), 0)} ms after`, 'plain ffmpeg (same run)': '—', ratio: '—' });

    // 2. A player's start and seeks far into the range, against plain ffmpeg cutting the same 6 s there.
    const start: number[] = [];
    const seek: number[] = [];
    const peer: number[] = [];
    const clip: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const list = await get(port, playlistRoute);
      const first = segmentsOf(list.body.toString()).segments[0]!;
      await get(port, map.uri, { range: map.range });
      await get(port, first.uri, { range: first.range });
      start.push(performance.now() - t0);
      // Far points, spread over the range: a seek is one media segment (the init is the player's already).
      const target = T0 + ((i + 0.5) / RUNS) * HOURS * 3600_000 + 1234;
      const at = segments.filter((s) => s.wallMs <= target).at(-1)!;
      const s0 = performance.now();
      const got = await get(port, at.uri, { range: at.range });
      if (got.status !== 206) throw new Error(`media segment: ${got.status}`);
      seek.push(performance.now() - s0);
      const file = files[Math.floor((target - T0) / 3600_000)]!;
      const offset = ((target - T0) % 3600_000) / 1000;
      peer.push(await plain(['-ss', offset.toFixed(3), '-i', file, '-map', '0', '-c', 'copy', '-t', '6', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', 'pipe:1']));
      clip.push((await get(port, `/api/clip?device=${DEVICE}&start=${iso(target)}&duration=6&format=mp4`)).totalMs);
    }
    rows.push({ measure: 'start: playlist + init + first media segment', 'playback server': `${fmt(median(start), 0)} ms`, 'plain ffmpeg (same run)': `${fmt(median(peer), 0)} ms (cut 6 s)`, ratio: fmt(median(start) / median(peer), 2) });
    rows.push({ measure: 'seek far into the range: one media segment', 'playback server': `${fmt(median(seek), 0)} ms`, 'plain ffmpeg (same run)': `${fmt(median(peer), 0)} ms (cut 6 s)`, ratio: fmt(median(seek) / median(peer), 2) });
    rows.push({ measure: 'the same 6 s as /api/clip (whole answer)', 'playback server': `${fmt(median(clip), 0)} ms`, 'plain ffmpeg (same run)': `${fmt(median(peer), 0)} ms`, ratio: fmt(median(clip) / median(peer), 2) });

    // 3. Thumbnails: the first of a time, the same again (the server's cache), a 304, plain ffmpeg on the keyframe.
    const firstThumb: number[] = [];
    const cached: number[] = [];
    const notModified: number[] = [];
    const peerThumb: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const time = T0 + ((i + 0.3) / RUNS) * HOURS * 3600_000;
      const route = `/api/thumbnail?device=${DEVICE}&time=${iso(time)}&width=320`;
      const a = await get(port, route);
      if (a.status !== 200) throw new Error(`thumbnail: ${a.status}`);
      firstThumb.push(a.totalMs);
      cached.push((await get(port, route)).totalMs);
      notModified.push((await get(port, route, { 'if-none-match': String(a.headers.etag) })).totalMs);
      const keyframe = (Date.parse(String(a.headers['x-thumbnail-time'])) - T0) % 3600_000;
      const file = files[Math.floor((time - T0) / 3600_000)]!;
      peerThumb.push(await plain(['-skip_frame', 'nokey', '-ss', (keyframe / 1000).toFixed(3), '-i', file, '-map', '0:v:0', '-frames:v', '1', '-vf', 'scale=320:-2', '-q:v', '4', '-f', 'mjpeg', 'pipe:1']));
    }
    rows.push({ measure: 'thumbnail, first (320 px)', 'playback server': `${fmt(median(firstThumb), 0)} ms`, 'plain ffmpeg (same run)': `${fmt(median(peerThumb), 0)} ms`, ratio: fmt(median(firstThumb) / median(peerThumb), 2) });
    rows.push({ measure: 'thumbnail, cached (goal <= 300 ms)', 'playback server': `${fmt(median(cached), 1)} ms (p100 ${fmt(percentile(cached, 100), 1)})`, 'plain ffmpeg (same run)': `${fmt(median(peerThumb), 0)} ms`, ratio: fmt(median(cached) / median(peerThumb), 3) });
    rows.push({ measure: 'thumbnail, If-None-Match (304)', 'playback server': `${fmt(median(notModified), 1)} ms`, 'plain ffmpeg (same run)': '—', ratio: '—' });
    note(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    return rows;
  } finally {
    server?.kill('SIGKILL');
    await rm(cache, { recursive: true, force: true });
    if (!keep) await rm(root, { recursive: true, force: true });
  }
}

whenRunDirectly(import.meta.url, async () => {
  console.table(await run());
});
