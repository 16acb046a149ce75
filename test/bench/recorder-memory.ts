// Benchmark, not a test: what one camera costs in memory (PSS, so shared libraries are split among the
// processes that map them) and CPU, Node plus ffmpeg, against the floor of a bare `node -e` plus a bare
// ffmpeg with the recorder's exact arguments (issue 24 section 2).
//
//   npm run bench -- recorder-memory          (or: npm run build && node dist/test/bench/recorder-memory.js)
//
// One camera server (support/clip-server.py, 1080p25 4 Mbit/s H.264, looped at real time) for every phase:
// - alone:   1 recorder recording, beside 1 bare `node -e` and 1 bare ffmpeg, in the same window;
// - floor:   N bare `node -e` + N bare ffmpeg (what N cameras cannot cost less than with two processes each);
// - cameras: N recorders recording a camera without a login (ffmpeg reads the camera direct);
// - login:   N recorders given a user, so ffmpeg reads through the camera relay (media passes Node).
// Each phase runs alone on the machine (no phase shares its window with another), for WINDOW_S seconds after
// a warm-up; PSS (and RSS, beside it) is the mean of samples every 2 s, CPU is from /proc/<pid>/stat over the window.
// Knobs: BENCH_MEMORY_PARTS=alone,floor,cameras,login  BENCH_MEMORY_CAMERAS=10  BENCH_MEMORY_WINDOW_S=20
// BENCH_MEMORY_ENTRY=<a recorder entry .js> (default: this build's dist/functions/cli.js, run as `recorder`)
// BENCH_MEMORY_COMPARE=<another build's recorder entry .js, e.g. main's dist/functions/cli.js>: N recorders of
// it and N of this build record side by side in one window (same load for both: the CPU ratio is judged
// there), so a change is judged against the code before it in one run.
// BENCH_RECORDER_NODE_FLAGS (extra node flags for the recorders under test, to compare V8 settings)
// BENCH_MEMORY_COMPARE_FLAGS (node flags for the compared build's recorders; none by default).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { locateFfmpeg, locateFfprobe } from '../../functions/lib/index.js';
import { parseCameraAddress, planRecording, type RecordingPlan } from '../../functions/recorder/index.js';
import { probeStream } from '../../functions/recorder/probe.js';
import { compactUtc } from '../../functions/contracts/index.js';
import { generateClip, startClipServer, type ClipServer } from './support/media.js';
import { loadAverage, samplePairs, type PairStats, type ProcessPair } from './support/procfs.js';
import { CLI, startBareFfmpeg, startRecorder, type BareFfmpeg, type RecorderProcess } from './support/processes.js';
import { envNumber, fmt, mapLimit, markdownTable, mean, note, releaseAll, sleep, track, waitExit, whenRunDirectly } from './support/util.js';

const env = process.env;
const CONFIG = {
  parts: new Set((env.BENCH_MEMORY_PARTS ?? 'alone,floor,cameras,login').split(',').map((s) => s.trim())),
  cameras: envNumber('BENCH_MEMORY_CAMERAS', 10),
  windowSeconds: envNumber('BENCH_MEMORY_WINDOW_S', 20),
  entry: env.BENCH_MEMORY_ENTRY ?? CLI,
  compare: env.BENCH_MEMORY_COMPARE,
  compareFlags: (env.BENCH_MEMORY_COMPARE_FLAGS ?? '').split(' ').filter(Boolean),
};
const TARGET = { perCameraMiB: 20, aloneOverFloorMiB: 10 };
// Long enough for V8's memory reducer, which runs some seconds into recording (the steady state is what is judged).
const WARMUP_MS = 12_000;

/** The argv before the flags: a CLI needs its command name, an entry that runs the recorder alone does not. */
const entryArgv = (entry: string): string[] => (path.basename(entry) === 'cli.js' ? [entry, 'recorder'] : [entry]);

/** A window's figures per camera (or per pair): the means of its pairs' PairStats (RSS counts shared pages whole). */
interface Row extends PairStats {
  readonly label: string;
  readonly processes: number;
  readonly load: string;
  readonly problems: string[];
}

interface Ctx {
  readonly dir: string;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  readonly server: ClipServer;
  readonly plan: RecordingPlan;
}

/**
 * After a warm-up, samples the memory of every pair's processes over one window and measures their CPU (node with
 * the children it reaped, e.g. the stream probe).
 */
async function measurePairs(pairs: readonly ProcessPair[], problems: string[]): Promise<{ stats: PairStats[]; load: string }> {
  await sleep(WARMUP_MS);
  const load0 = loadAverage();
  const sampled = await samplePairs(pairs, CONFIG.windowSeconds);
  problems.push(...sampled.problems);
  return { stats: sampled.stats, load: `${load0} → ${loadAverage()}` };
}

/** The per-camera means of some pairs of one window. */
function rowOf(label: string, stats: readonly PairStats[], load: string, problems: string[]): Row {
  return {
    label,
    processes: stats.length,
    nodePss: mean(stats.map((s) => s.nodePss)),
    ffmpegPss: mean(stats.map((s) => s.ffmpegPss)),
    nodeRss: mean(stats.map((s) => s.nodeRss)),
    ffmpegRss: mean(stats.map((s) => s.ffmpegRss)),
    nodeCpu: mean(stats.map((s) => s.nodeCpu)),
    ffmpegCpu: mean(stats.map((s) => s.ffmpegCpu)),
    load,
    problems,
  };
}

async function measure(label: string, pairs: readonly ProcessPair[], problems: string[]): Promise<Row> {
  const { stats, load } = await measurePairs(pairs, problems);
  return rowOf(label, stats, load, problems);
}

async function bareFfmpeg(ctx: Ctx, name: string): Promise<BareFfmpeg> {
  return startBareFfmpeg({
    ffmpeg: ctx.ffmpeg,
    inputUrl: ctx.server.url,
    transport: 'tcp',
    plan: ctx.plan,
    segmentSeconds: 3600,
    alignToClock: true,
    workDir: path.join(ctx.dir, name, '.recording'),
    stem: `${name}_${compactUtc(new Date())}`,
    watchdogSeconds: 10,
  });
}

/** `node -e` that only waits: the least a Node process costs. */
function bareNode(): { pid: number; stop: () => Promise<boolean> } {
  const child = track(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' }));
  return { pid: child.pid ?? 0, stop: () => (child.kill('SIGTERM'), waitExit(child, 5000)) };
}

async function recorders(ctx: Ctx, n: number, entry: string, prefix: string, login: boolean, nodeFlags?: readonly string[]): Promise<{ list: RecorderProcess[]; problems: string[] }> {
  const problems: string[] = [];
  const url = login ? ctx.server.url.replace('rtsp://', 'rtsp://bench:bench@') : ctx.server.url;
  const started = await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    4,
    (i) =>
      startRecorder(
        { url, out: path.join(ctx.dir, prefix), device: `${prefix}${i}`, segmentSeconds: 3600, idle: true, ffmpeg: ctx.ffmpeg, ffprobe: ctx.ffprobe, entry: entryArgv(entry), ...(nodeFlags ? { nodeFlags } : {}) },
        60_000,
      ).catch((err: unknown) => {
        problems.push((err as Error).message.split('\n')[0] ?? 'start failed');
        return null;
      }),
  );
  const list = started.filter((r): r is RecorderProcess => r !== null);
  await mapLimit(list, n, (r) => r.post('/record/on'));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const states = await mapLimit(list, n, (r) => r.status().then((s) => s.state, () => 'no answer'));
    if (states.every((s) => s === 'recording') && list.every((r) => r.ffmpegPid() !== null)) return { list, problems };
    await sleep(500);
  }
  problems.push('not all recording 30 s after /record/on');
  return { list, problems };
}

async function camerasPhase(ctx: Ctx, label: string, entry: string, prefix: string, login: boolean, nodeFlags?: readonly string[]): Promise<Row> {
  note(`${label}: starting ${CONFIG.cameras} recorders (${entry})`);
  const { list, problems } = await recorders(ctx, CONFIG.cameras, entry, prefix, login, nodeFlags);
  try {
    return await measure(label, list.map((r) => ({ node: r.pid, ffmpeg: () => r.ffmpegPid() })), problems);
  } finally {
    await Promise.all(list.map((r) => r.stop(20_000)));
    await rm(path.join(ctx.dir, prefix), { recursive: true, force: true });
  }
}

/** N recorders of this build and N of the compared one in one window: CPU under the same load for both. */
async function comparePhase(ctx: Ctx, compare: string): Promise<{ now: Row; before: Row }> {
  const n = CONFIG.cameras;
  note(`compare: ${n} recorders of this build beside ${n} of ${compare}`);
  const a = await recorders(ctx, n, CONFIG.entry, 'now', false);
  const b = await recorders(ctx, n, compare, 'cmp', false, CONFIG.compareFlags);
  try {
    const pairs = [...a.list, ...b.list].map((r): ProcessPair => ({ node: r.pid, ffmpeg: () => r.ffmpegPid() }));
    const problems = [...a.problems, ...b.problems];
    const { stats, load } = await measurePairs(pairs, problems);
    return {
      now: rowOf(`same window: ${a.list.length} recorders of this build`, stats.slice(0, a.list.length), load, problems),
      before: rowOf(`same window: ${b.list.length} recorders of ${compare}${CONFIG.compareFlags.length ? ` (${CONFIG.compareFlags.join(' ')})` : ''}`, stats.slice(a.list.length), load, []),
    };
  } finally {
    await Promise.all([...a.list, ...b.list].map((r) => r.stop(20_000)));
  }
}

async function floorPhase(ctx: Ctx, n: number, label: string): Promise<Row> {
  note(label);
  const nodes = Array.from({ length: n }, () => bareNode());
  const runs: BareFfmpeg[] = [];
  for (let i = 0; i < n; i++) runs.push(await bareFfmpeg(ctx, `floor${i}`));
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && runs.some((r) => r.outTimeSeconds() <= 0)) await sleep(250);
    const problems = runs.some((r) => r.outTimeSeconds() <= 0) ? ['a bare ffmpeg got no media in 30 s'] : [];
    return await measure(label, nodes.map((node, i) => ({ node: node.pid, ffmpeg: () => (runs[i]?.child.exitCode === null ? (runs[i]?.pid ?? null) : null) })), problems);
  } finally {
    await Promise.all([...nodes.map((p) => p.stop()), ...runs.map((r) => r.stop())]);
  }
}

/** One recorder and one bare pair in the same window: the same libraries, the same sharing, the same camera. */
async function alonePhase(ctx: Ctx): Promise<{ recorder: Row; floor: Row }> {
  note('alone: 1 recorder beside 1 bare node -e + 1 bare ffmpeg');
  const { list, problems } = await recorders(ctx, 1, CONFIG.entry, 'alone', false);
  const node = bareNode();
  const run = await bareFfmpeg(ctx, 'alone-bare');
  try {
    const rec = list[0];
    if (!rec) throw new Error(`the recorder did not start: ${problems.join('; ')}`);
    const recPair: ProcessPair = { node: rec.pid, ffmpeg: () => rec.ffmpegPid() };
    const barePair: ProcessPair = { node: node.pid, ffmpeg: () => (run.child.exitCode === null ? run.pid : null) };
    // One window for both, reported apart.
    const { stats, load } = await measurePairs([recPair, barePair], problems);
    return {
      recorder: rowOf('1 recorder (node + its ffmpeg)', stats.slice(0, 1), load, problems),
      floor: rowOf('1 bare node -e + 1 bare ffmpeg, same window', stats.slice(1), load, []),
    };
  } finally {
    await Promise.all([...list.map((r) => r.stop(20_000)), node.stop(), run.stop()]);
  }
}

const total = (r: Row): number => r.nodePss + r.ffmpegPss;

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function printRows(rows: readonly Row[]): void {
  print(
    markdownTable(
      ['setup', 'processes', 'PSS MiB per camera: node + ffmpeg = total', 'RSS MiB per camera: node + ffmpeg', 'CPU % of a core per camera: node (+ reaped children) + ffmpeg = total', 'load avg'],
      rows.map((r) => [
        r.label,
        r.processes,
        `${fmt(r.nodePss, 1)} + ${fmt(r.ffmpegPss, 1)} = ${fmt(total(r), 1)}`,
        `${fmt(r.nodeRss, 1)} + ${fmt(r.ffmpegRss, 1)}`,
        `${fmt(r.nodeCpu, 2)} + ${fmt(r.ffmpegCpu, 2)} = ${fmt(r.nodeCpu + r.ffmpegCpu, 2)}`,
        r.load,
      ]),
    ),
  );
  for (const r of rows) for (const p of r.problems) print(`- problem (${r.label}): ${p}`);
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-memory-'));
  const ffmpeg = locateFfmpeg();
  const ffprobe = locateFfprobe();
  let server: ClipServer | null = null;
  print(`## Recorder memory and CPU per camera\n`);
  print(`Machine: ${os.cpus().length} cores; node ${process.version}; ffmpeg ${ffmpeg}; entry ${CONFIG.entry}; node flags '${env.BENCH_RECORDER_NODE_FLAGS ?? ''}'; load avg at start ${loadAverage()}.`);
  try {
    note('encoding the 1080p clip');
    const clip = await generateClip(ffmpeg, dir);
    server = await startClipServer(clip.file);
    const stream = await probeStream({ ffprobe, camera: parseCameraAddress(server.url), transport: 'tcp' });
    const ctx: Ctx = { dir, ffmpeg, ffprobe, server, plan: planRecording(stream, 'mp4', 'auto') };
    const rows: Row[] = [];
    let alone: { recorder: Row; floor: Row } | null = null;
    if (CONFIG.parts.has('alone')) {
      alone = await alonePhase(ctx);
      rows.push(alone.recorder, alone.floor);
    }
    const n = CONFIG.cameras;
    const floor = CONFIG.parts.has('floor') ? await floorPhase(ctx, n, `floor: ${n} bare node -e + ${n} bare ffmpeg`) : null;
    if (floor) rows.push(floor);
    const cameras = CONFIG.parts.has('cameras') ? await camerasPhase(ctx, `${n} recorders, cameras without a login`, CONFIG.entry, 'cam', false) : null;
    if (cameras) rows.push(cameras);
    const compared = CONFIG.compare ? await comparePhase(ctx, CONFIG.compare) : null;
    if (compared) rows.push(compared.now, compared.before);
    if (CONFIG.parts.has('login')) rows.push(await camerasPhase(ctx, `${n} recorders, cameras with a login (through the camera relay)`, CONFIG.entry, 'login', true));
    print('');
    printRows(rows);
    print('');
    const verdicts: Array<[string, string, string]> = [];
    if (cameras) {
      verdicts.push([`<= ${TARGET.perCameraMiB} MiB PSS per camera at ${n} cameras (node + ffmpeg)`, `${fmt(total(cameras), 1)} MiB (floor of two bare processes: ${floor ? fmt(total(floor), 1) : 'not run'})`, total(cameras) <= TARGET.perCameraMiB ? 'PASS' : 'FAIL']);
    }
    if (compared) {
      const { now, before } = compared;
      const ratio = (now.nodeCpu + now.ffmpegCpu) / (before.nodeCpu + before.ffmpegCpu);
      verdicts.push([
        'CPU per camera (node + ffmpeg) <= 1.0x the compared build, same window',
        `${fmt(ratio, 2)}x (node alone ${fmt(now.nodeCpu / before.nodeCpu, 2)}x; memory: ${fmt(total(before) - total(now), 1)} MiB a camera less)`,
        ratio <= 1 ? 'PASS' : 'FAIL',
      ]);
    }
    if (alone) {
      const over = total(alone.recorder) - total(alone.floor);
      verdicts.push([`one camera alone within ${TARGET.aloneOverFloorMiB} MiB of a bare node -e + bare ffmpeg`, `${fmt(over, 1)} MiB over`, over <= TARGET.aloneOverFloorMiB ? 'PASS' : 'FAIL']);
    }
    if (verdicts.length) print(markdownTable(['target', 'measured', 'verdict'], verdicts));
  } finally {
    await server?.stop();
    releaseAll();
    await rm(dir, { recursive: true, force: true });
  }
}

whenRunDirectly(import.meta.url, async () => {
  await run();
  process.exit(0);
});
