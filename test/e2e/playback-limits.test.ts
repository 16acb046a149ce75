// The playback server in a pod's limits: 256 MiB of memory and one CPU, as cgroup v1 sets them (root). Forty
// 6-hour clips asked at once must not start forty ffmpeg: the server stays alive, nothing is OOM-killed, and
// every answer is a whole clip or a 503 with Retry-After.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { link, mkdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from './fixtures/camera.js';
import { FFMPEG, FFPROBE, probeFile } from './fixtures/player.js';
import { CLI, freePort } from './support/recorder-process.js';
import { useScratch } from '../support/scratch.js';
import { sha256OfFile } from '../../functions/lib/index.js';
import { appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';

const MEMORY_LIMIT = 256 << 20;
const DEVICE = 'cam';
const HOURS = 6;
const T0 = Date.parse('2026-11-24T06:00:00Z');
const SIX_HOURS = `start=${new Date(T0).toISOString()}&duration=6h`;

const scratch = useScratch('shifu-playback-limits-');
let server: { child: ChildProcess; port: number; output: () => string };
let cgroups: { memory: string; cpu: string };

function run(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** This process's cgroup v1 folder of `controller` (from /proc/self/cgroup). */
function ownCgroup(controller: string): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => (f[1] ?? '').split(',').includes(controller));
  if (!line) throw new Error(`e2e prerequisite missing: a cgroup v1 ${controller} controller (this test runs as root on cgroup v1)`);
  return path.join('/sys/fs/cgroup', controller, line[2]!);
}

/** A child cgroup of our own (so the machine's accounting stays above it), removed after the tests. */
async function makeCgroup(controller: string, settings: Record<string, string>): Promise<string> {
  const dir = path.join(ownCgroup(controller), `shifu-playback-${randomBytes(4).toString('hex')}`);
  await mkdir(dir);
  for (const [file, value] of Object.entries(settings)) await writeFile(path.join(dir, file), value);
  return dir;
}

async function removeCgroup(dir: string): Promise<void> {
  // Everything left in it (the server, an ffmpeg of a cut) is killed first: a cgroup with tasks cannot go.
  for (let i = 0; i < 50; i++) {
    const pids = (await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await rmdir(dir);
}

/**
 * Six hour-long segments as the recorder writes them (fragmented MP4, H.264 + AAC, 2 s GOP), made cheaply: one
 * 60 s encode looped with -c copy into an hour, hard-linked under six names, and a journal line each.
 */
async function synthesize(root: string): Promise<void> {
  const dir = path.join(root, DEVICE);
  await mkdir(dir, { recursive: true });
  await mkdir(path.dirname(journalPathOf(root, DEVICE)), { recursive: true });
  const short = path.join(root, 'short.mp4');
  run(FFMPEG, [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000',
    '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '40k', '-g', '20', '-c:a', 'aac', '-b:a', '16k', short,
  ]);
  const hour = path.join(root, 'hour.mp4');
  run(FFMPEG, ['-v', 'error', '-y', '-stream_loop', '59', '-i', short, '-map', '0', '-c', 'copy', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', hour]);
  const duration = Number(run(FFPROBE, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', hour]).trim());
  const bytes = (await stat(hour)).size;
  const sha256 = (await sha256OfFile(hour)).digest('hex');
  for (let h = 0; h < HOURS; h++) {
    const segment = segmentFixture(
      { device: DEVICE, start: T0 + h * 3600_000, seconds: duration, root },
      { sequence: h + 1, bytes, sha256, video: { codec: 'h264', width: 320, height: 180, fps: 10 }, audio: { codec: 'aac' } },
    );
    await link(hour, segment.absolutePath);
    await appendToJournal(journalPathOf(root, DEVICE), segment);
  }
  await rm(short);
}

/** `shifu-rtsp playback`, born inside both cgroups (so its ffmpeg children are too), with no PLAYBACK_MAX_CUTS: the default from its CPU quota. */
async function startServer(root: string): Promise<void> {
  const port = await freePort();
  const env = { ...process.env };
  delete env.PLAYBACK_MAX_CUTS;
  const child = spawn(
    '/bin/sh',
    ['-c', 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" && shift 2 && exec "$@"', 'sh', cgroups.memory, cgroups.cpu, process.execPath, CLI, 'playback', '--root', root, '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  server = { child, port, output: () => out };
  const deadline = Date.now() + 20_000;
  // Up, and its start-up line read: /health can answer before that line has come through the pipe.
  while (!out.includes('"playback listening"') || !(await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`playback did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Answer {
  readonly status: number | 'error';
  readonly retryAfter?: string;
  readonly complete: boolean;
  readonly bytes: number;
  readonly file?: string;
  readonly detail?: string;
}

/** One clip request on its own connection; a 200's body goes to `file`. */
function getClip(query: string, file: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: server.port, path: `/api/clip?device=${DEVICE}&${query}`, agent: false }, (res) => {
      let bytes = 0;
      const chunks: Buffer[] = [];
      const sink = res.statusCode === 200 ? createWriteStream(file) : null;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (sink) sink.write(chunk);
        else chunks.push(chunk);
      });
      res.on('close', () => {
        const done = (): void =>
          resolve({
            status: res.statusCode ?? 0,
            ...(typeof res.headers['retry-after'] === 'string' ? { retryAfter: res.headers['retry-after'] } : {}),
            complete: res.complete,
            bytes,
            ...(sink ? { file } : { detail: Buffer.concat(chunks).toString().slice(0, 300) }),
          });
        if (sink) sink.end(done);
        else done();
      });
    });
    req.on('error', (err) => resolve({ status: 'error', complete: false, bytes: 0, detail: err.message }));
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

function ffmpegChildren(): number {
  try {
    return run('pgrep', ['-P', String(server.child.pid), '-x', 'ffmpeg']).trim().split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function oomKills(): number {
  const text = readFileSync(path.join(cgroups.memory, 'memory.oom_control'), 'utf8');
  return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? NaN);
}

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'ffprobe']) requireTool(tool);
  await synthesize(path.join(scratch.dir, 'volume'));
  // A pod limited to 256Mi and one CPU.
  const memory = await makeCgroup('memory', { 'memory.limit_in_bytes': String(MEMORY_LIMIT) });
  const cpu = await makeCgroup('cpu', { 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '100000' }).catch(async (err: unknown) => {
    await removeCgroup(memory);
    throw err;
  });
  cgroups = { memory, cpu };
  await startServer(path.join(scratch.dir, 'volume'));
}, 120_000);

afterAll(async () => {
  server?.child.kill('SIGKILL');
  if (cgroups) {
    await removeCgroup(cgroups.memory);
    await removeCgroup(cgroups.cpu);
  }
});

describe('playback: ffmpeg work within the pod', () => {
  it('takes its default limit from the CPU quota: 2 cuts per CPU', () => {
    const listening = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; maxCuts?: number }).find((l) => l.msg === 'playback listening');
    expect(listening?.maxCuts).toBe(2);
  });

  it('answers 40 parallel 6-hour clips with whole clips or 503 + Retry-After, in 256 MiB, with no OOM kill', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => getClip(SIX_HOURS, path.join(scratch.dir, `clip-${i}.mp4`))));
    const odd = answers.filter((a) => !((a.status === 200 && a.complete) || (a.status === 503 && a.retryAfter !== undefined)));
    expect(odd, JSON.stringify(odd)).toEqual([]);
    const whole = answers.filter((a) => a.status === 200);
    expect(whole.length).toBeGreaterThanOrEqual(1);
    expect(whole.length).toBeLessThan(40);
    for (const a of answers.filter((x) => x.status === 503)) expect(a.detail).toMatch(/PLAYBACK_MAX_CUTS/);
    // A few of the clips, whole: six hours of video and audio.
    for (const a of whole.slice(0, 2)) {
      const probe = await probeFile(a.file!);
      expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
      expect(probe.durationSeconds).toBeGreaterThan(6 * 3600 - 30);
      await rm(a.file!);
    }
    // Under the limit all along (the footage's page cache was charged to this test, which wrote it), and no OOM kill.
    expect(Number(readFileSync(path.join(cgroups.memory, 'memory.max_usage_in_bytes'), 'utf8'))).toBeLessThan(MEMORY_LIMIT);
    expect(oomKills()).toBe(0);
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${server.port}/health`)).status).toBe(200);
  }, 300_000);

  it('frees the slot of a client that leaves mid-clip at once: the next request gets its clip, not 503', async () => {
    // Both slots taken by 6-hour cuts that are streaming.
    const streams = [0, 1].map(() => {
      let req!: http.ClientRequest;
      const first = new Promise<number>((resolve, reject) => {
        req = http.get({ host: '127.0.0.1', port: server.port, path: `/api/clip?device=${DEVICE}&${SIX_HOURS}`, agent: false }, (res) => {
          res.once('data', () => {
            res.pause();
            resolve(res.statusCode ?? 0);
          });
        });
        req.on('error', reject);
      });
      return { req, first };
    });
    expect(await Promise.all(streams.map((s) => s.first))).toEqual([200, 200]);
    const full = await getClip(SIX_HOURS, path.join(scratch.dir, 'refused.mp4'));
    expect(full.status).toBe(503);
    expect(full.retryAfter).toBe('5');

    streams[0]!.req.destroy();
    await until('the server freed the leaving client\'s slot', async () => (await metric('shifu_rtsp_playback_ffmpeg_slots_busy')) === 1 && ffmpegChildren() === 1);
    const next = await getClip(`start=${new Date(T0 + 3600_000).toISOString()}&duration=10s`, path.join(scratch.dir, 'next.mp4'));
    expect(next.status).toBe(200);
    expect(next.complete).toBe(true);
    const probe = await probeFile(next.file!);
    expect(probe.durationSeconds).toBeGreaterThanOrEqual(9.5);
    streams[1]!.req.destroy();
    await until('every slot is free', async () => (await metric('shifu_rtsp_playback_ffmpeg_slots_busy')) === 0);
    expect(oomKills()).toBe(0);
  }, 120_000);
});
