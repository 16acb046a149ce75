// Benchmark, not a test: the archive (issue 25) against its peers in one run, on loopback, to one real S3 server
// (versitygw, test/support/s3-server.ts).
//
//   npm run bench -- archive          (or: npm run build && node dist/test/bench/archive.js)
//
// - throughput: the same files (random bytes, like video: nothing to compress) uploaded by the archive's own path
//   (functions/archive/bucket.ts: a new segment's upload, no HEAD; one PUT carrying its sha256 up to
//   ARCHIVE_PART_MIB, else parts one at a time with SHA-256 part checksums) and by `aws s3 cp --recursive` (Debian's awscli, its defaults: 10 requests at
//   once, 8 MiB parts), rounds alternating which goes first; the ratio is ours / awscli's MB/s, per round.
//   (A 24 MiB file is one PUT, under ARCHIVE_PART_MIB's default.)
// - memory and CPU: two recorders of one camera (support/clip-server.py, 1080p25 4 Mbit/s) in the same window,
//   one without a bucket and one archiving every segment to the server; RSS and PSS of each node process from
//   /proc/<pid>/smaps_rollup (mean of samples every 2 s), CPU from /proc/<pid>/stat over the window: the Node
//   process alone, and Node with its ffmpeg and the ffprobe runs it reaped; and the S3 requests each archiving
//   recorder sent per segment archived (the server's access log), for its segments' objects and its day files.
// - latency: BENCH_ARCHIVE_CAMERAS recorders (10) of the same camera, each archiving every segment; from each
//   journal, a segment's close (its endTime, the cut) to its object complete (its archive record's `at`): p50,
//   p99 and the longest, over the segments closed after the warm-up and at least 30 s before the journals are
//   read (the recorders still running; an older one not archived is counted).
// Knobs: BENCH_ARCHIVE_FILES=6  BENCH_ARCHIVE_MIB=24 (per file)  BENCH_ARCHIVE_ROUNDS=3
// BENCH_ARCHIVE_SEGMENT_S=15  BENCH_ARCHIVE_WINDOW_S=45  BENCH_ARCHIVE_CAMERAS=10  BENCH_ARCHIVE_LATENCY_S=150
// - peak: one long segment's upload (BENCH_ARCHIVE_PEAK_MIB, 300: 10 minutes of a 4 Mbit/s camera; an hour is
//   1.7 GiB) through the archive's own path in a Node with the recorder's V8 flags and one malloc arena, its PSS
//   sampled every 25 ms (support/upload-peak.ts): before, at most and on average while it uploads, and its CPU;
//   BENCH_ARCHIVE_PEAK_ROUNDS (3) rounds, alternating with the compared build when there is one. What a recorder
//   needs above its steady state while it archives a segment, so what its memory limit must leave room for.
// BENCH_ARCHIVE_PARTS=throughput,memory,latency (peak: asked for by name)
// BENCH_ARCHIVE_COMPARE=<another build's dist/functions/cli.js, e.g. main's>: a third recorder, of that build,
// archiving in the same window, so a change to the archive is judged against the code before it in one run.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { sha256OfFile, locateFfmpeg, locateFfprobe } from '../../functions/lib/index.js';
import { Bucket } from '../../functions/archive/bucket.js';
import { DEFAULT_PART_MIB } from '../../functions/archive/index.js';
import { LEAN_ENV, LEAN_V8_FLAGS } from '../../functions/commands/lean.js';
import { ARCHIVING_V8_FLAGS } from '../../functions/commands/recorder.js';
import { journalRecordsOf } from '../support/journal.js';
import { startS3Server, type S3Server } from '../support/s3-server.js';
import { CLIP_1080P_4M, generateClip, startClipServer, type ClipServer } from './support/media.js';
import { loadAverage, samplePairs } from './support/procfs.js';
import { startRecorder, type RecorderProcess } from './support/processes.js';
import { envNumber, fmt, markdownTable, note, percentile, releaseAll, sleep, whenRunDirectly } from './support/util.js';

const env = process.env;
const CONFIG = {
  parts: new Set((env.BENCH_ARCHIVE_PARTS ?? 'throughput,memory,latency').split(',').map((s) => s.trim())),
  cameras: envNumber('BENCH_ARCHIVE_CAMERAS', 10),
  latencySeconds: envNumber('BENCH_ARCHIVE_LATENCY_S', 150),
  files: envNumber('BENCH_ARCHIVE_FILES', 6),
  mib: envNumber('BENCH_ARCHIVE_MIB', 24),
  rounds: envNumber('BENCH_ARCHIVE_ROUNDS', 3),
  segmentSeconds: envNumber('BENCH_ARCHIVE_SEGMENT_S', 15),
  windowSeconds: envNumber('BENCH_ARCHIVE_WINDOW_S', 45),
  compare: env.BENCH_ARCHIVE_COMPARE,
  peakMib: envNumber('BENCH_ARCHIVE_PEAK_MIB', 300),
  peakRounds: envNumber('BENCH_ARCHIVE_PEAK_ROUNDS', 3),
};
const TARGET = { throughputRatio: 1.0, memoryMiB: 10, cpuIncrease: 0.3 };
const WARMUP_MS = 12_000;

const print = (line: string): void => void process.stdout.write(`${line}\n`);
const execFileAsync = promisify(execFile);

interface ThroughputRound {
  readonly ours: number;
  readonly awscli: number;
}

async function throughput(s3: S3Server, dir: string): Promise<ThroughputRound[]> {
  const files = path.join(dir, 'files');
  await mkdir(files, { recursive: true });
  note(`writing ${CONFIG.files} files of ${CONFIG.mib} MiB`);
  const sums: Array<{ file: string; sha256: string; bytes: number }> = [];
  for (let i = 0; i < CONFIG.files; i++) {
    const file = path.join(files, `seg${i}.mp4`);
    await writeFile(file, randomBytes(CONFIG.mib * 1024 * 1024));
    // The recorder hashed each segment when it journaled it: the archive reads the sha256 from there.
    sums.push({ file, sha256: (await sha256OfFile(file)).digest('hex'), bytes: CONFIG.mib * 1024 * 1024 });
  }
  const megabytes = (CONFIG.files * CONFIG.mib * 1024 * 1024) / 1e6;
  await s3.createBucket('bench');
  const bucket = new Bucket(s3.address('bench'));
  const rounds: ThroughputRound[] = [];
  try {
    for (let r = 0; r < CONFIG.rounds; r++) {
      const ours = async (): Promise<number> => {
        const t0 = performance.now();
        for (const { file, sha256, bytes } of sums) {
          const key = `ours${r}/${path.basename(file)}`;
          await bucket.upload({ key, file, sha256, bytes, contentType: 'video/mp4' }, { bytesPerSecond: null, partBytes: DEFAULT_PART_MIB * 1024 * 1024 });
        }
        return megabytes / ((performance.now() - t0) / 1000);
      };
      const awscli = async (): Promise<number> => {
        const t0 = performance.now();
        await s3.aws(['s3', 'cp', '--recursive', '--only-show-errors', files, `s3://bench/aws${r}/`]);
        return megabytes / ((performance.now() - t0) / 1000);
      };
      // Alternate who goes first: the server's folder and the page cache warm up over a round.
      let round: ThroughputRound;
      if (r % 2 === 0) {
        const first = await ours();
        round = { ours: first, awscli: await awscli() };
      } else {
        const first = await awscli();
        round = { ours: await ours(), awscli: first };
      }
      note(`round ${r + 1}: ours ${fmt(round.ours)} MB/s, awscli ${fmt(round.awscli)} MB/s`);
      rounds.push(round);
    }
  } finally {
    await bucket.close();
  }
  // Both wrote every file: the comparison is of complete uploads.
  const stored = await readdir(path.join(s3.dir, 'bench'), { recursive: true });
  const count = stored.filter((f) => f.endsWith('.mp4') && !f.includes('.sgwtmp')).length;
  if (count !== CONFIG.files * CONFIG.rounds * 2) throw new Error(`expected ${CONFIG.files * CONFIG.rounds * 2} objects in the bucket, found ${count}`);
  return rounds;
}

interface MemoryRow {
  readonly label: string;
  readonly rss: number;
  readonly pss: number;
  /** The recorder's Node process alone (with the ffprobe runs it reaped in the window). */
  readonly cpu: number;
  /** Node and its ffmpeg: what the recorder costs the machine. */
  readonly cpuWithFfmpeg: number;
  readonly archived: number;
  /** S3 requests on its segments' objects and on its day files since it started (the server's access log). */
  readonly segmentRequests: number;
  readonly dayFileRequests: number;
}

async function memory(s3: S3Server, dir: string): Promise<MemoryRow[]> {
  const ffmpeg = locateFfmpeg();
  const ffprobe = locateFfprobe();
  let server: ClipServer | null = null;
  const recorders: RecorderProcess[] = [];
  try {
    note('encoding the 1080p clip');
    const clip = await generateClip(ffmpeg, dir);
    server = await startClipServer(clip.file);
    await s3.createBucket('footage');
    const archiveEnv = s3.archiveEnv('footage');
    const common = { url: server.url, out: path.join(dir, 'rec'), segmentSeconds: CONFIG.segmentSeconds, idle: true, ffmpeg, ffprobe };
    recorders.push(await startRecorder({ ...common, device: 'off' }, 60_000));
    recorders.push(await startRecorder({ ...common, device: 'on', env: archiveEnv }, 60_000));
    if (CONFIG.compare) recorders.push(await startRecorder({ ...common, device: 'before', env: archiveEnv, entry: [CONFIG.compare, 'recorder'] }, 60_000));
    for (const r of recorders) await r.post('/record/on');
    await sleep(WARMUP_MS);
    const { stats, problems } = await samplePairs(recorders.map((r) => ({ node: r.pid, ffmpeg: () => r.ffmpegPid() })), CONFIG.windowSeconds);
    // Printed with the figures: a recorder without its ffmpeg all through the window has its CPU understated.
    for (const problem of problems) print(`problem in the window: ${problem}`);
    const statuses = await Promise.all(recorders.map((r) => r.status()));
    const requests = await s3.requests();
    const devices = ['off', 'on', 'before'];
    return recorders.map((r, i) => {
      const archive = (statuses[i] as { archive?: { counters: { archived: number } } }).archive;
      const own = requests.filter((q) => q.key?.startsWith(`site1/${devices[i]}/`));
      return {
        label: ['recorder, no bucket', 'recorder, archiving every segment', `the compared build, archiving (${CONFIG.compare})`][i]!,
        rss: stats[i]!.nodeRss,
        pss: stats[i]!.nodePss,
        cpu: stats[i]!.nodeCpu,
        // NaN (printed n/a) when its ffmpeg was missing from the window: the problem line above says which.
        cpuWithFfmpeg: stats[i]!.nodeCpu + stats[i]!.ffmpegCpu,
        archived: archive?.counters.archived ?? 0,
        segmentRequests: own.filter((q) => !q.key!.includes('/timeline/')).length,
        dayFileRequests: own.filter((q) => q.key!.includes('/timeline/')).length,
      };
    });
  } finally {
    await Promise.all(recorders.map((r) => r.stop(20_000)));
    await server?.stop();
  }
}

interface Latency {
  readonly segments: number;
  readonly notArchived: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** N recorders archiving at once: each segment's close to its object complete, from the journals alone. */
async function latency(s3: S3Server, dir: string): Promise<Latency> {
  const ffmpeg = locateFfmpeg();
  const ffprobe = locateFfprobe();
  const out = path.join(dir, 'latency');
  let server: ClipServer | null = null;
  const recorders: RecorderProcess[] = [];
  try {
    const clip = await generateClip(ffmpeg, dir);
    server = await startClipServer(clip.file);
    await s3.createBucket('many');
    const common = { url: server.url, out, segmentSeconds: CONFIG.segmentSeconds, idle: true, ffmpeg, ffprobe, env: s3.archiveEnv('many') };
    note(`latency: ${CONFIG.cameras} recorders archiving ${CONFIG.segmentSeconds} s segments for ${CONFIG.latencySeconds} s`);
    for (let i = 0; i < CONFIG.cameras; i++) recorders.push(await startRecorder({ ...common, device: `cam${i}` }, 60_000));
    for (const r of recorders) await r.post('/record/on');
    const measuredFrom = Date.now() + WARMUP_MS;
    await sleep(WARMUP_MS + CONFIG.latencySeconds * 1000);
    // Read while they run: a segment closed in the last 30 s may still be uploading (a stop would cut its upload,
    // the next start's to do), so those are left out; one older and not archived is counted as such.
    const until = Date.now() - 30_000;
    const ms: number[] = [];
    let segments = 0;
    for (let i = 0; i < CONFIG.cameras; i++) {
      const records = await journalRecordsOf(out, `cam${i}`);
      const archivedAt = new Map(records.flatMap((r) => (r.kind === 'archive' ? [[r.archive.archived, Date.parse(r.archive.at)] as const] : [])));
      for (const r of records) {
        if (r.kind !== 'segment' || Date.parse(r.segment.endTime) < measuredFrom || Date.parse(r.segment.endTime) >= until) continue;
        segments += 1;
        const at = archivedAt.get(r.segment.file);
        if (at !== undefined) ms.push(at - Date.parse(r.segment.endTime));
      }
    }
    return { segments, notArchived: segments - ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: percentile(ms, 100) };
  } finally {
    await Promise.all(recorders.map((r) => r.stop(20_000)));
    await server?.stop();
  }
}

interface PeakRow {
  readonly build: string;
  readonly before: number;
  readonly max: number;
  readonly mean: number;
  readonly cpuMs: number;
}

/** The peak part (see the head of this file): each build's upload of one long segment, rounds alternating. */
async function peak(s3: S3Server, dir: string): Promise<PeakRow[]> {
  const file = path.join(dir, 'long-segment.mp4');
  note(`writing a ${CONFIG.peakMib} MiB segment`);
  const handle = await open(file, 'w');
  for (let i = 0; i < CONFIG.peakMib; i++) await handle.write(randomBytes(1024 * 1024));
  await handle.close();
  const sha256 = (await sha256OfFile(file)).digest('hex');
  await s3.createBucket('peak');
  const address = JSON.stringify(s3.address('peak'));
  const here = fileURLToPath(new URL('../../', import.meta.url));
  const builds: Array<[string, string]> = [['this build', here]];
  if (CONFIG.compare) builds.push([`compared (${CONFIG.compare})`, path.resolve(path.dirname(CONFIG.compare), '..')]);
  const child = fileURLToPath(new URL('./support/upload-peak.js', import.meta.url));
  const rows: PeakRow[] = [];
  for (let r = 0; r < CONFIG.peakRounds; r++) {
    for (const [build, dist] of r % 2 === 0 ? builds : [...builds].reverse()) {
      const { stdout } = await execFileAsync(process.execPath, [...LEAN_V8_FLAGS, ...ARCHIVING_V8_FLAGS, child, dist, address, file, sha256], {
        env: { ...process.env, ...LEAN_ENV },
        maxBuffer: 1 << 20,
      });
      const figures = JSON.parse(stdout.trim().split('\n').at(-1)!) as Omit<PeakRow, 'build'>;
      note(`round ${r + 1}, ${build}: PSS ${fmt(figures.before)} -> at most ${fmt(figures.max)} MiB, CPU ${fmt(figures.cpuMs, 0)} ms`);
      rows.push({ build, ...figures });
    }
  }
  return rows;
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-archive-'));
  print(`## Archive: throughput against awscli, recorder memory and CPU with and without it\n`);
  print(`Machine: ${os.cpus().length} cores; node ${process.version}; load avg at start ${loadAverage()}.`);
  const s3 = await startS3Server();
  try {
    const verdicts: Array<[string, string, string]> = [];
    /** The recorder without a bucket, Node + its ffmpeg, % of a core (the memory part's), for the peak part's hour. */
    let baselineCpu: number | null = null;
    if (CONFIG.parts.has('throughput')) {
      const rounds = await throughput(s3, dir);
      print('');
      print(markdownTable(['round', 'archive MB/s', 'aws s3 cp MB/s', 'ratio'], rounds.map((r, i) => [i + 1, fmt(r.ours), fmt(r.awscli), fmt(r.ours / r.awscli, 2)])));
      const ratios = rounds.map((r) => r.ours / r.awscli).sort((a, b) => a - b);
      const median = ratios[Math.floor(ratios.length / 2)]!;
      verdicts.push([`throughput >= ${TARGET.throughputRatio}x aws s3 cp (${CONFIG.files} x ${CONFIG.mib} MiB, median of ${CONFIG.rounds})`, `${fmt(median, 2)}x`, median >= TARGET.throughputRatio ? 'PASS' : 'FAIL']);
    }
    if (CONFIG.parts.has('memory')) {
      const rows = await memory(s3, dir);
      const [off, on] = rows;
      baselineCpu = off!.cpuWithFfmpeg;
      print('');
      print(
        markdownTable(
          ['recorder', 'RSS MiB', 'PSS MiB', 'CPU % of a core: Node (+ ffprobe)', 'Node + ffmpeg', 'segments archived in the run', 'S3 requests a segment (its object; day files)'],
          rows.map((m) => [m.label, fmt(m.rss), fmt(m.pss), fmt(m.cpu, 2), fmt(m.cpuWithFfmpeg, 2), m.archived, m.archived ? `${fmt(m.segmentRequests / m.archived, 2)}; ${fmt(m.dayFileRequests / m.archived, 2)}` : '-']),
        ),
      );
      const rssMore = on!.rss - off!.rss;
      const pssMore = on!.pss - off!.pss;
      verdicts.push([`memory <= +${TARGET.memoryMiB} MiB with archiving (${CONFIG.segmentSeconds} s segments)`, `RSS +${fmt(rssMore)} MiB, PSS +${fmt(pssMore)} MiB`, pssMore <= TARGET.memoryMiB ? 'PASS' : 'FAIL']);
      // Both ways: the recorder's Node (where the archive runs), and the recorder as the machine pays for it.
      for (const [what, off1, on1] of [['Node (+ the ffprobe runs it reaps)', off!.cpu, on!.cpu], ['Node + its ffmpeg', off!.cpuWithFfmpeg, on!.cpuWithFfmpeg]] as const) {
        const cpuMore = on1 / off1 - 1;
        verdicts.push([`CPU <= +${TARGET.cpuIncrease * 100} % with archiving (${what})`, `${fmt(off1, 2)} -> ${fmt(on1, 2)} % of a core (+${fmt(cpuMore * 100, 0)} %)`, cpuMore <= TARGET.cpuIncrease ? 'PASS' : 'FAIL']);
      }
    }
    if (CONFIG.parts.has('peak')) {
      const rows = await peak(s3, dir);
      print('');
      print(
        markdownTable(
          ['round', 'build', 'PSS before MiB', 'at most', 'mean while uploading', 'above before, at most', 'CPU ms'],
          rows.map((p, i) => [Math.floor(i / (CONFIG.compare ? 2 : 1)) + 1, p.build, fmt(p.before), fmt(p.max), fmt(p.mean), `+${fmt(p.max - p.before)}`, fmt(p.cpuMs, 0)]),
        ),
      );
      const ownRows = rows.filter((p) => p.build === 'this build');
      const own = ownRows.map((p) => p.max - p.before);
      verdicts.push([`PSS above steady state while uploading a ${CONFIG.peakMib} MiB segment`, `+${fmt(Math.min(...own))} to +${fmt(Math.max(...own))} MiB`, 'measured']);
      // With the memory part in the same run: the recorder's default, one segment an hour. At the bench camera's
      // 4 Mbit/s an hour is about 1700 MiB (BENCH_ARCHIVE_PEAK_MIB=1700): its upload's CPU spread over that hour,
      // against the recorder without a bucket. (What else a segment costs, its day-file write, journal record and
      // event, is a few milliseconds an hour.)
      if (baselineCpu !== null) {
        const perHour = percentile(ownRows.map((p) => p.cpuMs), 50);
        const hourSeconds = (CONFIG.peakMib * 1024 * 1024 * 8) / CLIP_1080P_4M.bitrate;
        const added = (perHour / 1000 / hourSeconds) * 100;
        verdicts.push([
          `CPU <= +${TARGET.cpuIncrease * 100} % with archiving, one segment of ${fmt(hourSeconds / 60, 0)} min at 4 Mbit/s (Node + its ffmpeg; the default segment is an hour)`,
          `${fmt(baselineCpu, 2)} + ${fmt(added, 3)} % of a core (+${fmt((added / baselineCpu) * 100, 0)} %; the upload's ${fmt(perHour, 0)} ms of CPU, median, over ${fmt(hourSeconds / 60, 0)} min)`,
          added / baselineCpu <= TARGET.cpuIncrease ? 'PASS' : 'FAIL',
        ]);
      }
    }
    if (CONFIG.parts.has('latency')) {
      const l = await latency(s3, dir);
      print('');
      print(markdownTable(['recorders', 'segments closed', 'not archived', 'close -> object p50 ms', 'p99 ms', 'longest ms'], [[CONFIG.cameras, l.segments, l.notArchived, fmt(l.p50, 0), fmt(l.p99, 0), fmt(l.max, 0)]]));
      verdicts.push([`segment close -> object complete at ${CONFIG.cameras} cameras (${CONFIG.segmentSeconds} s segments)`, `p99 ${fmt(l.p99 / 1000, 2)} s, p50 ${fmt(l.p50 / 1000, 2)} s, ${l.notArchived} of ${l.segments} not archived`, 'measured']);
    }
    print('');
    print(markdownTable(['target', 'measured', 'verdict'], verdicts));
  } finally {
    await s3.remove();
    releaseAll();
    await rm(dir, { recursive: true, force: true });
  }
}

whenRunDirectly(import.meta.url, async () => {
  await run();
  process.exit(0);
});
