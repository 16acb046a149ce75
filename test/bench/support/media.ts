// Bench support: the pre-encoded 1080p clip, the looping RTSP server that serves it, and segment checks.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuTicks } from './procfs.js';
import { track, waitExit } from './util.js';

/** The system Python: the pyenv `python3` on PATH has no `gi`. */
const SYSTEM_PYTHON = '/usr/bin/python3';
const here = path.dirname(fileURLToPath(import.meta.url));
/** Beside this file (source), or in the repo when compiled to dist/test/bench/support. */
const SERVER_SCRIPT =
  [path.join(here, 'clip-server.py'), path.resolve(here, '../../../../test/bench/support/clip-server.py'), path.resolve('test/bench/support/clip-server.py')].find(
    (p) => existsSync(p),
  ) ?? 'test/bench/support/clip-server.py';

export interface ClipSpec {
  readonly seconds: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly gop: number;
  /** Video bitrate in bit/s (also the maxrate; bufsize is twice it). */
  readonly bitrate: number;
}

export const CLIP_1080P_4M: ClipSpec = { seconds: 20, width: 1920, height: 1080, fps: 25, gop: 50, bitrate: 4_000_000 };

function run(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Encodes the clip once: testsrc2 (moving, detailed: x264 really spends the bitrate), libx264 ultrafast
 * (no B-frames, so decode order = presentation order), closed GOP of `gop` frames, CBR-ish 4 Mbit/s.
 * Raw Annex B so the server can split it into access units with SPS/PPS before every IDR.
 */
export async function generateClip(ffmpeg: string, dir: string, spec: ClipSpec = CLIP_1080P_4M): Promise<{ file: string; bitrate: number; seconds: number }> {
  const file = path.join(dir, `clip_${spec.height}p.h264`);
  const args = [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps}`,
    '-t', String(spec.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    '-g', String(spec.gop), '-keyint_min', String(spec.gop), '-sc_threshold', '0',
    '-b:v', String(spec.bitrate), '-maxrate', String(spec.bitrate), '-bufsize', String(spec.bitrate * 2),
    '-f', 'h264', file,
  ];
  const r = await run(ffmpeg, args);
  if (r.code !== 0) throw new Error(`clip encode failed: ${r.stderr.slice(-500)}`);
  const bytes = (await stat(file)).size;
  return { file, bitrate: (bytes * 8) / spec.seconds, seconds: spec.seconds };
}

export interface ClipServer {
  readonly url: string;
  readonly pid: number;
  /** The server's own STATS lines (frames pushed, loops, worst lateness per 5 s). */
  readonly stats: () => string[];
  stop(): Promise<void>;
}

/** Starts clip-server.py on a kernel-picked loopback port and waits for READY. */
export async function startClipServer(clip: string, fps = 25): Promise<ClipServer> {
  const child: ChildProcess = track(
    spawn(SYSTEM_PYTHON, [SERVER_SCRIPT, '--clip', clip, '--port', '0', '--fps', String(fps)], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let stderr = '';
  const stats: string[] = [];
  child.stderr?.on('data', (b: Buffer) => {
    const text = b.toString();
    stderr += text;
    for (const line of text.split('\n')) if (line.startsWith('STATS ')) stats.push(line);
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`clip-server not READY in 20 s: ${stderr.slice(-1000)}`)), 20_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^READY (rtsp:\/\/\S+)/m.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`clip-server exited (${code}): ${stderr.slice(-1000)}`));
    });
  });
  child.stdout?.resume();
  return {
    url,
    pid: child.pid ?? 0,
    stats: () => [...stats],
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await waitExit(child, 5000);
    },
  };
}

/** CPU seconds the server has used so far (to show the cameras are not the bottleneck). */
export function serverCpuSeconds(server: ClipServer): number {
  return (cpuTicks(server.pid)?.own ?? 0) / 100;
}

export interface SegmentCheck {
  readonly file: string;
  readonly ok: boolean;
  readonly durationSeconds: number;
  readonly packets: number;
  readonly bytes: number;
  readonly error: string | null;
}

/**
 * A finished segment plays when ffprobe reads a duration and every packet (`-count_packets`), and a full
 * demux + remux to null (`-c copy -f null`) prints no error. packets / duration shows dropped frames.
 */
export async function checkSegment(ffmpeg: string, ffprobe: string, file: string): Promise<SegmentCheck> {
  const bytes = (await stat(file).catch(() => null))?.size ?? 0;
  const probe = await run(ffprobe, ['-v', 'error', '-count_packets', '-show_entries', 'stream=nb_read_packets:format=duration', '-of', 'json', file], 60_000);
  let durationSeconds = 0;
  let packets = 0;
  let error: string | null = null;
  if (probe.code !== 0 || probe.stderr.trim() !== '') error = `ffprobe: ${probe.stderr.trim().split('\n')[0] ?? `exit ${probe.code}`}`;
  try {
    const j = JSON.parse(probe.stdout) as { streams?: Array<{ nb_read_packets?: string }>; format?: { duration?: string } };
    durationSeconds = Number(j.format?.duration ?? 0);
    packets = Number(j.streams?.[0]?.nb_read_packets ?? 0);
  } catch {
    error ??= 'ffprobe printed no JSON';
  }
  if (!(durationSeconds > 0)) error ??= 'no duration';
  const copy = await run(ffmpeg, ['-v', 'error', '-i', file, '-c', 'copy', '-f', 'null', '-'], 60_000);
  if (copy.code !== 0 || copy.stderr.trim() !== '') error ??= `ffmpeg copy: ${copy.stderr.trim().split('\n')[0] ?? `exit ${copy.code}`}`;
  return { file, ok: error === null, durationSeconds, packets, bytes, error };
}

export interface Pacer {
  /** Stream seconds vs wall seconds since its first media, the stream seconds so far and when (performance.now() s) they were reported. */
  measure(): { speed: number; streamSeconds: number; wallSeconds: number; wallAt: number };
  stop(): Promise<void>;
}

/**
 * One plain client (`ffmpeg -c copy -f null`) kept on the camera for the whole bench: it keeps the shared
 * pipeline running between phases, so each phase joins a live stream at a random point of the GOP as with a
 * real camera, and its `-progress` shows that the stream plays at 1.0x and goes on past the clip's end.
 */
export async function startPacer(ffmpeg: string, url: string): Promise<Pacer> {
  const child = track(
    spawn(ffmpeg, ['-hide_banner', '-nostats', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url, '-map', '0', '-c', 'copy', '-f', 'null', '-', '-progress', 'pipe:1', '-stats_period', '1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  child.stdin?.on('error', () => undefined);
  child.stderr?.resume();
  let first: { us: number; at: number } | null = null;
  let last: { us: number; at: number } | null = null;
  let buffered = '';
  child.stdout?.on('data', (b: Buffer) => {
    const lines = (buffered + b.toString()).split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('out_time_us=')) continue;
      const us = Number(line.slice(12));
      if (!Number.isFinite(us) || us <= 0) continue;
      last = { us, at: performance.now() };
      first ??= last;
    }
  });
  const deadline = Date.now() + 20_000;
  while (first === null && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  if (first === null) throw new Error('pacer client got no media from the camera in 20 s');
  return {
    measure() {
      const f = first as { us: number; at: number } | null;
      const l = last as { us: number; at: number } | null;
      if (!f || !l || l.at <= f.at) return { speed: NaN, streamSeconds: 0, wallSeconds: 0, wallAt: NaN };
      const wallSeconds = (l.at - f.at) / 1000;
      const streamSeconds = (l.us - f.us) / 1e6;
      return { speed: streamSeconds / wallSeconds, streamSeconds: l.us / 1e6, wallSeconds, wallAt: l.at / 1000 };
    },
    async stop() {
      child.stdin?.end('q\n');
      await waitExit(child, 5000);
    },
  };
}
