// Bench support: a `shifu-rtsp recorder` process with its HTTP API, and a bare ffmpeg running the recorder's
// exact arguments (for the overhead comparison).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ffmpegArguments, type RunOptions } from '../../../functions/recorder/ffmpeg-run.js';
import type { RecorderStatus } from '../../../functions/recorder/index.js';
import { childrenNamed } from './procfs.js';
import { track, waitExit } from './util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The built CLI: dist/test/bench/support -> dist/functions/cli.js. */
export const CLI = path.resolve(here, '../../../functions/cli.js');

/** Extra node flags for the recorder processes (BENCH_RECORDER_NODE_FLAGS), to compare V8 settings. */
const NODE_FLAGS = (process.env.BENCH_RECORDER_NODE_FLAGS ?? '').split(' ').filter(Boolean);

export interface RecorderSpec {
  readonly url: string;
  readonly out: string;
  readonly device: string;
  readonly segmentSeconds: number;
  readonly idle?: boolean;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  readonly extraArgs?: readonly string[];
  /** What node runs before the flags; default: the CLI's `recorder` command. */
  readonly entry?: readonly string[];
  /** Node flags for this process; default BENCH_RECORDER_NODE_FLAGS. */
  readonly nodeFlags?: readonly string[];
  /** Variables added to the bench's environment (e.g. the archive's ARCHIVE_S3_* and AWS keys). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface RecorderProcess {
  readonly device: string;
  readonly pid: number;
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Log lines kept (warn and above, plus the last 50 of any level) for failure reports. */
  readonly logTail: () => string[];
  /** The recorder's ffmpeg child right now (null between runs). */
  ffmpegPid(): number | null;
  status(): Promise<RecorderStatus>;
  post(route: '/record/on' | '/record/off'): Promise<{ status: number; body: RecorderStatus; ms: number }>;
  /** SIGTERM (stops like /record/off), then waits; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<boolean>;
}

/**
 * Starts the real CLI with `--http-listen 127.0.0.1:0` and learns the port from its 'http api listening'
 * log line (no free-port race with 100 processes starting at once). LOG_LEVEL=info: the production default.
 */
export async function startRecorder(spec: RecorderSpec, readyTimeoutMs = 30_000): Promise<RecorderProcess> {
  const args = [
    ...(spec.entry ?? [CLI, 'recorder']),
    '--url', spec.url,
    '--out', spec.out,
    '--device', spec.device,
    '--segment-seconds', String(spec.segmentSeconds),
    '--http-listen', '127.0.0.1:0',
    ...(spec.idle ? ['--idle'] : []),
    ...(spec.extraArgs ?? []),
  ];
  const child = track(
    spawn(process.execPath, [...(spec.nodeFlags ?? NODE_FLAGS), ...args], {
      env: { ...process.env, ...spec.env, LOG_LEVEL: 'info', FFMPEG_PATH: spec.ffmpeg, FFPROBE_PATH: spec.ffprobe },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const tail: string[] = [];
  const important: string[] = [];
  let port = 0;
  let onPort: (p: number) => void = () => undefined;
  const portKnown = new Promise<number>((r) => (onPort = r));
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 50) tail.shift();
    if (/"level":"(warn|error|fatal)"/.test(line) && important.length < 200) important.push(line);
    if (port === 0 && line.includes('http api listening')) {
      const m = /"port":(\d+)/.exec(line);
      if (m) {
        port = Number(m[1]);
        onPort(port);
      }
    }
  };
  createInterface({ input: child.stdout as Readable }).on('line', keep);
  createInterface({ input: child.stderr as Readable }).on('line', keep);
  const failed = new Promise<never>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`recorder ${spec.device} exited (${code}) before listening:\n${tail.slice(-10).join('\n')}`)));
  });
  failed.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`recorder ${spec.device} not listening in ${readyTimeoutMs} ms`)), readyTimeoutMs);
  });
  try {
    await Promise.race([portKnown, failed, timeout]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const pid = child.pid ?? 0;
  return {
    device: spec.device,
    pid,
    baseUrl,
    child,
    logTail: () => [...important, ...tail],
    ffmpegPid: () => childrenNamed(pid, 'ffmpeg')[0] ?? null,
    async status() {
      const res = await fetch(`${baseUrl}/record/status`);
      return (await res.json()) as RecorderStatus;
    },
    async post(route) {
      const t0 = performance.now();
      const res = await fetch(`${baseUrl}${route}`, { method: 'POST' });
      const body = (await res.json()) as RecorderStatus;
      return { status: res.status, body, ms: performance.now() - t0 };
    },
    async stop(timeoutMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return waitExit(child, timeoutMs);
    },
  };
}

export interface BareFfmpeg {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Latest out_time from `-progress pipe:4`, in seconds (-1 before the first report). */
  outTimeSeconds(): number;
  /** Segments ffmpeg reported closed on `-segment_list pipe:3`. */
  segments(): string[];
  stderr(): string;
  /** `q` on stdin, as the recorder stops its runs; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<boolean>;
}

/** ffmpeg with exactly `ffmpegArguments(options)`, the recorder's stdio layout and TZ=UTC, and nothing else. */
export async function startBareFfmpeg(options: RunOptions): Promise<BareFfmpeg> {
  await mkdir(options.workDir, { recursive: true });
  const child = track(
    spawn(options.ffmpeg, ffmpegArguments(options), {
      stdio: ['pipe', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, TZ: 'UTC' },
    }),
  );
  child.stdin?.on('error', () => undefined);
  const [, , stderr, list, progress] = child.stdio as [unknown, null, Readable, Readable, Readable];
  let outUs = -1;
  let err = '';
  const segments: string[] = [];
  stderr.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-4000);
  });
  createInterface({ input: list }).on('line', (line) => segments.push(line));
  createInterface({ input: progress }).on('line', (line) => {
    if (line.startsWith('out_time_us=')) {
      const us = Number(line.slice(12));
      if (Number.isFinite(us) && us > outUs) outUs = us;
    }
  });
  return {
    pid: child.pid ?? 0,
    child,
    outTimeSeconds: () => (outUs < 0 ? -1 : outUs / 1e6),
    segments: () => [...segments],
    stderr: () => err,
    async stop(timeoutMs = 10_000) {
      child.stdin?.end('q\n');
      return waitExit(child, timeoutMs);
    },
  };
}
