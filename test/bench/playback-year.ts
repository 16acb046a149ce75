// Benchmark, not a test: the playback server on a year of footage (issue 22 item 1). 4 devices x 105,120
// five-minute segments: the journals as the recorder writes them, and every segment a real 5-minute fragmented
// MP4 (one short encode looped with -c copy, then hard-linked under each segment's name: a year of files
// without a year of disk). Medians of /api/devices, a day's /api/timeline, the first byte of a 64 KiB /files
// Range and of a 10 s clip; the server's peak RSS; start-up to the first answer, without and with
// PLAYBACK_INDEX_DIR. Beside MediaMTX's playback server (/list, /get) on the same files when BENCH_MEDIAMTX
// names its binary (download it from its releases); skipped with the reason otherwise.
// Knobs: BENCH_YEAR_DEVICES (4), BENCH_YEAR_SEGMENTS (105120 per device), BENCH_PLAYBACK_RUNS (5 here),
// BENCH_YEAR_DIR (keep the volume there between runs), BENCH_MEDIAMTX.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import { segmentOf, writeYearVolume, YEAR_OF_FIVE_MINUTE_SEGMENTS, type YearVolumeOptions } from '../support/year-volume.js';
import { fmt, percentile, sleep, track, waitExit } from './support/util.js';

export type BenchRow = Readonly<Record<string, string | number>>;

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../../functions/cli.js');
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const DEVICES = Array.from({ length: Number(process.env.BENCH_YEAR_DEVICES ?? 4) }, (_, i) => `cam${i + 1}`);
const SEGMENTS = Number(process.env.BENCH_YEAR_SEGMENTS ?? YEAR_OF_FIVE_MINUTE_SEGMENTS);
const RUNS = Number(process.env.BENCH_PLAYBACK_RUNS ?? 5);
const T0 = Date.parse('2025-12-01T00:00:00Z');
const DAY_MS = 86_400_000;
const FRAGMENTED = ['-movflags', '+frag_keyframe+empty_moov+default_base_moof'];

function note(message: string): void {
  process.stderr.write(`[bench:playback-year ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function exec(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${stderr.slice(-800)}`)) : resolve(stdout)));
  });
}

/** A five-minute fragmented MP4 as the recorder writes it (H.264 + AAC, 2 s GOP, 300 kbit/s): 10 s encoded, looped. */
async function fiveMinutes(dir: string): Promise<string> {
  const short = path.join(dir, 'short.mp4');
  const media = path.join(dir, 'five-minutes.mp4');
  await exec(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '300k', '-g', '50', '-c:a', 'aac', '-b:a', '32k', short]);
  await exec(FFMPEG, ['-v', 'error', '-y', '-stream_loop', '29', '-i', short, '-map', '0', '-c', 'copy', ...FRAGMENTED, media]);
  await rm(short);
  return media;
}

/** GET: time to the first body byte and in all (ms), status. */
function timed(port: number, route: string, headers: Record<string, string> = {}): Promise<{ status: number; ttfbMs: number; totalMs: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ttfb = NaN;
    let bytes = 0;
    http
      .get({ host: '127.0.0.1', port, path: route, headers }, (res) => {
        res.on('data', (b: Buffer) => {
          if (bytes === 0) ttfb = performance.now() - started;
          bytes += b.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ttfbMs: Number.isNaN(ttfb) ? performance.now() - started : ttfb, totalMs: performance.now() - started, bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Peak resident set (VmHWM) in MiB. */
function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  /** From spawn to the first 200 of /api/devices (503 before: the journals are being read). */
  readonly firstAnswerMs: number;
}

async function startServer(root: string, indexDir: string | null): Promise<Started> {
  const port = await freeLoopbackPort();
  const started = performance.now();
  const env = { ...process.env, LOG_LEVEL: 'warn', ...(indexDir ? { PLAYBACK_INDEX_DIR: indexDir } : {}) };
  const child = track(spawn(process.execPath, [CLI, 'playback', '--root', root, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'inherit'], env }));
  for (;;) {
    const r = await timed(port, '/api/devices').catch(() => null);
    if (r?.status === 200) return { child, port, firstAnswerMs: performance.now() - started };
    if (child.exitCode !== null) throw new Error(`playback exited ${child.exitCode}`);
    await sleep(r === null ? 20 : 100);
  }
}

const median = (values: readonly number[]): number => percentile(values, 50);

/** The peer: plain ffmpeg cutting the same 10 s from the same file (`-ss` before `-i`, `-c copy`, fragmented MP4 to a pipe): ms to its first byte. */
function plainFfmpegFirstByte(file: string, offsetSeconds: number, seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let first = NaN;
    const child = track(spawn(FFMPEG, ['-v', 'error', '-ss', String(offsetSeconds), '-i', `file:${file}`, '-map', '0', '-c', 'copy', '-t', String(seconds), ...FRAGMENTED, '-f', 'mp4', 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] }));
    child.stdout!.on('data', () => {
      if (Number.isNaN(first)) first = performance.now() - started;
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 && !Number.isNaN(first) ? resolve(first) : reject(new Error(`plain ffmpeg exited ${code}`))));
  });
}

async function measure(port: number, root: string, o: YearVolumeOptions): Promise<Record<string, number>> {
  const devices: number[] = [];
  const timeline: number[] = [];
  const range: number[] = [];
  const clip: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const device = DEVICES[i % DEVICES.length]!;
    // A different day, file and clip each run, spread over the year.
    const day = Math.floor(((i + 0.5) / RUNS) * 364);
    const start = new Date(T0 + day * DAY_MS).toISOString();
    const end = new Date(T0 + (day + 1) * DAY_MS).toISOString();
    devices.push((await timed(port, '/api/devices')).totalMs);
    const t = await timed(port, `/api/timeline?device=${device}&start=${start}&end=${end}`);
    if (t.status !== 200) throw new Error(`timeline: ${t.status}`);
    timeline.push(t.totalMs);
    const segment = segmentOf(root, device, day * 288 + 100 + i, o, 0, '');
    const r = await timed(port, `/files/${segment.file}`, { range: 'bytes=0-65535' });
    if (r.status !== 206) throw new Error(`range: ${r.status}`);
    range.push(r.ttfbMs);
    const clipStart = new Date(Date.parse(segment.startTime) + 137_000).toISOString();
    const c = await timed(port, `/api/clip?device=${device}&start=${clipStart}&duration=10`);
    if (c.status !== 200) throw new Error(`clip: ${c.status}`);
    clip.push(c.ttfbMs);
    plain.push(await plainFfmpegFirstByte(path.join(root, segment.file), 137, 10));
  }
  return { devices: median(devices), timeline: median(timeline), range: median(range), clip: median(clip), plain: median(plain) };
}

/** MediaMTX's playback server on the same files, named as it records them (symbolic links; it runs in UTC). */
async function mediamtx(binary: string, root: string, o: YearVolumeOptions, work: string): Promise<Record<string, number>> {
  const mirror = path.join(work, 'mediamtx-recordings');
  for (const device of DEVICES) {
    mkdirSync(path.join(mirror, device), { recursive: true });
    for (let sequence = 1; sequence <= SEGMENTS; sequence++) {
      const s = segmentOf(root, device, sequence, o, 0, '');
      const name = `${s.startTime.replace('T', '_').replace(/:/g, '-').replace('.', '-').replace('Z', '')}.mp4`;
      const link = path.join(mirror, device, name);
      if (!existsSync(link)) symlinkSync(path.join(root, s.file), link);
    }
  }
  const port = await freeLoopbackPort();
  const config = path.join(work, 'mediamtx.yml');
  await writeFile(
    config,
    [
      'logLevel: warn',
      'api: no', 'metrics: no', 'pprof: no', 'rtsp: no', 'rtmp: no', 'hls: no', 'webrtc: no', 'srt: no',
      'playback: yes', `playbackAddress: 127.0.0.1:${port}`,
      'authInternalUsers:', '  - user: any', '    pass:', '    ips: []', '    permissions:', '      - action: playback',
      'pathDefaults:', `  recordPath: ${mirror}/%path/%Y-%m-%d_%H-%M-%S-%f`, '  recordFormat: fmp4',
      'paths:', ...DEVICES.map((d) => `  ${d}: {}`),
      '',
    ].join('\n'),
  );
  const child = track(spawn(binary, [config], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TZ: 'UTC' } }));
  try {
    for (let i = 0; i < 100 && (await timed(port, `/list?path=${DEVICES[0]}`).catch(() => null)) === null; i++) await sleep(100);
    const list: number[] = [];
    const get: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const device = DEVICES[i % DEVICES.length]!;
      const day = Math.floor(((i + 0.5) / RUNS) * 364);
      const start = new Date(T0 + day * DAY_MS).toISOString();
      const end = new Date(T0 + (day + 1) * DAY_MS).toISOString();
      list.push((await timed(port, `/list?path=${device}&start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`)).totalMs);
      const segment = segmentOf(root, device, day * 288 + 100 + i, o, 0, '');
      const clipStart = new Date(Date.parse(segment.startTime) + 137_000).toISOString();
      get.push((await timed(port, `/get?path=${device}&start=${encodeURIComponent(clipStart)}&duration=10&format=fmp4`)).ttfbMs);
    }
    return { list: median(list), get: median(get), rss: peakRssMiB(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await waitExit(child, 5000);
  }
}

export async function run(): Promise<BenchRow[]> {
  const keep = process.env.BENCH_YEAR_DIR;
  const work = keep ?? (await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-year-')));
  const root = path.join(work, 'volume');
  const rows: BenchRow[] = [];
  try {
    await mkdir(work, { recursive: true });
    const media = path.join(work, 'five-minutes.mp4');
    const o: YearVolumeOptions = { devices: DEVICES, segments: SEGMENTS, t0: T0, media };
    const made = await stat(path.join(root, '.shifu-rtsp', DEVICES.at(-1)!, 'segments.jsonl')).then(() => true, () => false);
    if (!made) {
      note('encoding a five-minute segment');
      await fiveMinutes(work);
      note(`writing ${DEVICES.length} journals of ${SEGMENTS} segments and hard-linking ${DEVICES.length * SEGMENTS} files`);
      await writeYearVolume(root, o);
    }
    const journalMiB = (await Promise.all(DEVICES.map((d) => stat(path.join(root, '.shifu-rtsp', d, 'segments.jsonl'))))).reduce((sum, s) => sum + s.size, 0) / 2 ** 20;
    const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
    note(`volume ready (${fmt(journalMiB, 0)} MiB of journals); machine load ${load}`);

    const indexDir = path.join(work, 'index');
    await rm(indexDir, { recursive: true, force: true });
    const first = await startServer(root, indexDir);
    const ours = await measure(first.port, root, o);
    const rss = peakRssMiB(first.child.pid!);
    first.child.kill('SIGTERM');
    await waitExit(first.child, 30_000);
    const again = await startServer(root, indexDir);
    again.child.kill('SIGTERM');
    await waitExit(again.child, 30_000);

    const theirs = process.env.BENCH_MEDIAMTX ? await mediamtx(process.env.BENCH_MEDIAMTX, root, o, work) : null;
    if (!theirs) note('MediaMTX skipped: set BENCH_MEDIAMTX to the path of its binary (from its releases) to measure /list and /get beside');
    const peer = (v: number | undefined, unit = 'ms'): string => (v === undefined ? 'skipped (BENCH_MEDIAMTX unset)' : `${fmt(v, 1)} ${unit}`);
    const scope = `${DEVICES.length} devices x ${SEGMENTS} segments, median of ${RUNS}, load ${load}`;
    rows.push(
      { measure: `/api/devices (${scope})`, playback: `${fmt(ours.devices!, 1)} ms`, goal: '<= 50 ms', mediamtx: '—' },
      { measure: "a day's /api/timeline", playback: `${fmt(ours.timeline!, 1)} ms`, goal: '<= 50 ms', mediamtx: `/list of that day: ${peer(theirs?.list)}` },
      { measure: 'first byte of a 64 KiB /files Range', playback: `${fmt(ours.range!, 1)} ms`, goal: '<= 20 ms', mediamtx: '—' },
      { measure: 'first byte of a 10 s clip (mid-segment)', playback: `${fmt(ours.clip!, 0)} ms`, goal: '<= 500 ms', mediamtx: `/get: ${peer(theirs?.get)}` },
      { measure: 'first byte of the same 10 s by plain ffmpeg (-ss, -c copy to a pipe)', playback: `${fmt(ours.plain!, 0)} ms (ratio ${fmt(ours.clip! / ours.plain!, 2)})`, goal: 'peer', mediamtx: '—' },
      { measure: 'server peak RSS', playback: `${fmt(rss, 0)} MiB`, goal: '<= 200 MiB', mediamtx: peer(theirs?.rss, 'MiB') },
      { measure: 'start-up to the first 200 of /api/devices', playback: `${fmt(first.firstAnswerMs / 1000, 1)} s (${fmt(journalMiB, 0)} MiB of journals read)`, goal: 'reported', mediamtx: '—' },
      { measure: 'start-up again, from PLAYBACK_INDEX_DIR', playback: `${fmt(again.firstAnswerMs / 1000, 1)} s`, goal: 'reported', mediamtx: '—' },
    );
  } finally {
    if (!keep) await rm(work, { recursive: true, force: true });
  }
  return rows;
}
