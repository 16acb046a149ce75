// Benchmark, not a test: the playback server cutting clips from hour-long segments, against plain ffmpeg on the
// same files (concat demuxer + seek), its memory from a 1-minute to a 6-hour clip, and time to first byte.
// Knobs: BENCH_PLAYBACK_HOURS (segments of one hour, default 6), BENCH_PLAYBACK_KBPS (video bit rate, 1000),
// BENCH_PLAYBACK_RUNS (timed runs per side, 3), BENCH_PLAYBACK_DIR (keep the synthesized footage there).
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';
import { childrenNamed, rssMiB } from './support/procfs.js';
import { fmt, percentile, sleep, track, waitExit, whenRunDirectly } from './support/util.js';

export type BenchRow = Readonly<Record<string, string | number>>;

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../../functions/cli.js');
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe';
const HOURS = Number(process.env.BENCH_PLAYBACK_HOURS ?? 6);
const KBPS = Number(process.env.BENCH_PLAYBACK_KBPS ?? 1000);
const RUNS = Number(process.env.BENCH_PLAYBACK_RUNS ?? 3);
const DEVICE = 'bench';
const T0 = Date.parse('2026-11-24T06:00:00Z');
const FRAGMENTED = ['-movflags', '+frag_keyframe+empty_moov+default_base_moof'];

function note(message: string): void {
  process.stderr.write(`[bench:playback ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function exec(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${stderr.slice(-800)}`)) : resolve(stdout)));
  });
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Hour-long segments as the recorder writes them (fragmented MP4, H.264 720p + AAC, 2 s GOP), made fast:
 * one 60 s encode, looped with -c copy, and a journal line each.
 */
async function synthesize(root: string): Promise<string[]> {
  const dir = path.join(root, DEVICE);
  await mkdir(dir, { recursive: true });
  await mkdir(path.dirname(journalPathOf(root, DEVICE)), { recursive: true });
  const short = path.join(root, 'short.mp4');
  note(`encoding 60 s of 720p at ${KBPS} kbit/s`);
  await exec(FFMPEG, [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', `${KBPS}k`, '-g', '50', '-c:a', 'aac', '-b:a', '64k', short,
  ]);
  const files: string[] = [];
  // Journaled under another name and renamed last: a kept folder (the journal there) is whole, never half made.
  const partial = `${journalPathOf(root, DEVICE)}.partial`;
  await rm(partial, { force: true });
  for (let h = 0; h < HOURS; h++) {
    const at = { device: DEVICE, start: T0 + h * 3600_000, root };
    // Named by the recorder's rule from its start; its length is known once ffmpeg has written it.
    const file = segmentFixture({ ...at, seconds: 3600 }).absolutePath;
    files.push(file);
    note(`segment ${h + 1}/${HOURS}: ${path.basename(file)}`);
    await exec(FFMPEG, ['-v', 'error', '-y', '-stream_loop', '59', '-i', short, '-map', '0', '-c', 'copy', ...FRAGMENTED, file]);
    const duration = Number((await exec(FFPROBE, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file])).trim());
    const segment = segmentFixture(
      { ...at, seconds: duration },
      { sequence: h + 1, bytes: (await stat(file)).size, sha256: await sha256(file), video: { codec: 'h264', width: 1280, height: 720, fps: 25 }, audio: { codec: 'aac' } },
    );
    await appendToJournal(partial, segment);
  }
  await rename(partial, journalPathOf(root, DEVICE));
  await rm(short);
  return files;
}

interface Fetched {
  readonly ttfbMs: number;
  readonly totalMs: number;
  readonly bytes: number;
  readonly serverPeakMiB: number;
  readonly ffmpegPeakMiB: number;
}

/** GETs a clip to nowhere, sampling the server's RSS and its ffmpeg child's every 100 ms. */
function fetchClip(port: number, serverPid: number, query: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ttfb = NaN;
    let bytes = 0;
    let serverPeak = 0;
    let ffmpegPeak = 0;
    const sample = (): void => {
      serverPeak = Math.max(serverPeak, rssMiB(serverPid) ?? 0);
      for (const pid of childrenNamed(serverPid, 'ffmpeg')) ffmpegPeak = Math.max(ffmpegPeak, rssMiB(pid) ?? 0);
    };
    const timer = setInterval(sample, 100);
    http
      .get({ host: '127.0.0.1', port, path: `/api/clip?${query}` }, (res) => {
        if (res.statusCode !== 200) {
          clearInterval(timer);
          reject(new Error(`clip ${query}: ${res.statusCode}`));
          res.resume();
          return;
        }
        res.on('data', (chunk: Buffer) => {
          if (bytes === 0) ttfb = performance.now() - started;
          bytes += chunk.length;
        });
        res.on('end', () => {
          clearInterval(timer);
          sample();
          resolve({ ttfbMs: ttfb, totalMs: performance.now() - started, bytes, serverPeakMiB: serverPeak, ffmpegPeakMiB: ffmpegPeak });
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * The peer, plain ffmpeg on the same files with -c copy to a pipe. `inpoint`: the concat demuxer's own seek
 * (what the server runs, without its keyframe lookup and HTTP). `input -ss`: what one types first, which the
 * concat demuxer cannot honour in fragmented MP4 without an index: it reads from the start.
 */
async function plainFfmpeg(files: readonly string[], seekSeconds: number, seconds: number, how: 'inpoint' | 'input -ss'): Promise<{ ms: number; bytes: number }> {
  const lines = files.map((f, i) => `file 'file:${f}'${i === 0 && how === 'inpoint' ? `\ninpoint ${seekSeconds}` : ''}`);
  const list = `ffconcat version 1.0\n${lines.join('\n')}\n`;
  const seek = how === 'input -ss' ? ['-ss', String(seekSeconds)] : [];
  const started = performance.now();
  const child = track(
    spawn(FFMPEG, ['-v', 'error', '-protocol_whitelist', 'file,pipe', ...seek, '-f', 'concat', '-safe', '0', '-i', 'pipe:0', '-map', '0', '-c', 'copy', '-t', String(seconds), ...FRAGMENTED, '-f', 'mp4', 'pipe:1'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  child.stdin!.end(list);
  let bytes = 0;
  child.stdout!.on('data', (b: Buffer) => (bytes += b.length));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`plain ffmpeg exited ${code}`);
  return { ms: performance.now() - started, bytes };
}

async function durationOf(port: number, query: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.request({ host: '127.0.0.1', port, path: `/api/clip?${query}`, method: 'HEAD' }, (res) => {
      res.resume();
      resolve(`${res.headers['x-clip-duration'] ?? '?'} s from ${res.headers['x-clip-start'] ?? '?'}`);
    }).on('error', reject).end();
  });
}

export async function run(): Promise<BenchRow[]> {
  const keep = process.env.BENCH_PLAYBACK_DIR;
  const root = keep ?? (await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-playback-')));
  const rows: BenchRow[] = [];
  try {
    const exists = keep ? await stat(journalPathOf(root, DEVICE)).then(() => true, () => false) : false;
    const files = exists ? Array.from({ length: HOURS }, (_, h) => segmentFixture({ device: DEVICE, start: T0 + h * 3600_000, seconds: 3600, root }).absolutePath) : await synthesize(root);
    const port = await freeLoopbackPort();
    const server = track(spawn(process.execPath, [CLI, 'playback', '--root', root, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } }));
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => http.get({ host: '127.0.0.1', port, path: '/health' }, (res) => resolve(res.statusCode === 200)).on('error', () => resolve(false)));
      if (up) break;
      await sleep(100);
    }
    const pid = server.pid!;
    const iso = (offsetSeconds: number): string => new Date(T0 + offsetSeconds * 1000).toISOString();

    // 1. A 10-minute clip across the first two segments (55 min into the first), against plain ffmpeg.
    const tenMinutes = `device=${DEVICE}&start=${iso(3300)}&duration=600&format=mp4`;
    note(`10-minute clip: ${await durationOf(port, tenMinutes)}`);
    const ours: number[] = [];
    const peers = { inpoint: [] as number[], 'input -ss': [] as number[] };
    const peerBytes = { inpoint: 0, 'input -ss': 0 };
    let ourBytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const a = await fetchClip(port, pid, tenMinutes);
      ours.push(a.totalMs);
      ourBytes = a.bytes;
      for (const how of ['inpoint', 'input -ss'] as const) {
        const b = await plainFfmpeg(files.slice(0, 2), 3300, 600, how);
        peers[how].push(b.ms);
        peerBytes[how] = b.bytes;
      }
    }
    const oursMs = percentile(ours, 50);
    for (const how of ['inpoint', 'input -ss'] as const) {
      const theirsMs = percentile(peers[how], 50);
      rows.push({
        measure: `10-min clip over 2 hour-long segments (median of ${RUNS})`,
        playback: `${fmt(oursMs, 0)} ms, ${fmt(ourBytes / 2 ** 20)} MiB`,
        peer: `ffmpeg concat ${how}: ${fmt(theirsMs, 0)} ms, ${fmt(peerBytes[how] / 2 ** 20)} MiB`,
        ratio: fmt(oursMs / theirsMs, 2),
      });
    }

    // 2. Memory from a 1-minute to a 6-hour clip (as long as the footage allows).
    rows.push({ measure: 'RSS idle, after the clips above', playback: `server ${fmt(rssMiB(pid) ?? NaN)} MiB`, peer: '', ratio: '' });
    for (const seconds of [60, 600, 3600, HOURS * 3600 - 60].filter((s) => s <= HOURS * 3600 - 60)) {
      const r = await fetchClip(port, pid, `device=${DEVICE}&start=${iso(30)}&duration=${seconds}&format=mp4`);
      rows.push({
        measure: `RSS during a ${seconds >= 3600 ? `${fmt(seconds / 3600)} h` : `${seconds / 60} min`} clip`,
        playback: `server peak ${fmt(r.serverPeakMiB)} MiB, its ffmpeg ${fmt(r.ffmpegPeakMiB)} MiB`,
        peer: '',
        ratio: `${fmt(r.bytes / 2 ** 20, 0)} MiB in ${fmt(r.totalMs / 1000)} s`,
      });
    }

    // 3. Time to first byte, a clip starting mid-segment (keyframe search + ffmpeg start).
    const ttfb: number[] = [];
    for (let i = 0; i < 5; i++) ttfb.push((await fetchClip(port, pid, `device=${DEVICE}&start=${iso(1800 + i * 7)}&duration=5&format=mp4`)).ttfbMs);
    rows.push({ measure: 'time to first byte, clip from mid-segment (5 runs)', playback: `p50 ${fmt(percentile(ttfb, 50), 0)} ms, max ${fmt(Math.max(...ttfb), 0)} ms`, peer: '', ratio: '' });

    server.kill('SIGTERM');
    await waitExit(server, 5000);
  } finally {
    if (!keep) await rm(root, { recursive: true, force: true });
  }
  return rows;
}

whenRunDirectly(import.meta.url, async () => {
  console.table(await run());
});
