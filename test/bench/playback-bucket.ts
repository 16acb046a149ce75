// Benchmark, not a test: playback from the archive's bucket (issue 25) against playback from the volume, in one run,
// on loopback, to one real S3 server (versitygw, test/support/s3-server.ts).
//
//   npm run bench -- playback-bucket        (or: npm run build && node dist/test/bench/playback-bucket.js)
//
// A volume of BENCH_BUCKET_DAYS days of five-minute segments (720p25 H.264 + AAC, 1 Mbit/s, fragmented MP4 as the
// recorder writes it; every segment a hard link to one real recording, test/support/year-volume.ts) and the same
// footage in the bucket as the archive writes it: the day files by the archive's own addToDayFiles, and the objects
// of the segments the clips read by its own upload (with their sha256). Two servers of this build: one on the
// volume, one on the bucket alone. Interleaved, a run each side per day (each day read cold by both):
// - the first byte of a 10 s clip from the middle of a segment;
// - a day's /api/timeline (288 segments): cold (the first ask of that day), then warm (the day file cached).
// The ratio is bucket / volume, per measure, medians of the runs.
// Knobs: BENCH_BUCKET_DAYS=7 (runs: one per day).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { addToDayFiles } from '../../functions/archive/day-files.js';
import { Bucket } from '../../functions/archive/bucket.js';
import { DEFAULT_PART_MIB } from '../../functions/archive/index.js';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import { segmentObjectKey, type Segment } from '../../functions/contracts/index.js';
import { segmentOf, writeYearVolume, type YearVolumeOptions } from '../support/year-volume.js';
import { startS3Server } from '../support/s3-server.js';
import { CLI } from './support/processes.js';
import { fmt, percentile, track, waitExit, whenRunDirectly } from './support/util.js';

const run = promisify(execFile);
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const DAYS = Math.max(1, Number(process.env.BENCH_BUCKET_DAYS ?? 7));
const PER_DAY = 288;
const DEVICE = 'cam';
const T0 = Date.parse('2026-11-01T00:00:00Z');
const PREFIX = 'site1/';

const note = (message: string): void => void process.stderr.write(`[bench:playback-bucket ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/** Five minutes of 720p25 H.264 + AAC as a fragmented MP4, made fast: 60 s encoded, looped with -c copy. */
async function recording(dir: string): Promise<string> {
  const short = path.join(dir, 'short.mp4');
  await run(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1000k', '-g', '50', '-c:a', 'aac', '-b:a', '64k', short]);
  const media = path.join(dir, 'media.mp4');
  await run(FFMPEG, ['-v', 'error', '-y', '-stream_loop', '4', '-i', short, '-map', '0', '-c', 'copy', '-t', '300', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', media]);
  return media;
}

interface Server {
  readonly base: string;
  readonly child: ChildProcess;
}

async function startPlayback(args: readonly string[], env: Record<string, string>): Promise<Server> {
  const port = await freeLoopbackPort();
  const child = track(spawn(process.execPath, [CLI, 'playback', ...args, '--listen', `127.0.0.1:${port}`], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit'] }));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${base}/api/devices`).then((r) => r.ok, () => false);
    if (ok) return { base, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`playback ${args.join(' ')} did not answer /api/devices`);
}

/** Milliseconds to the first byte of the body, then the rest is read and dropped. */
async function firstByte(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const reader = res.body.getReader();
  await reader.read();
  const ms = performance.now() - started;
  while (!(await reader.read()).done);
  return ms;
}

/** Milliseconds to the whole answer. */
async function whole(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  const body = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body}`);
  return performance.now() - started;
}

export async function run_(): Promise<ReadonlyArray<Record<string, string | number>>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-bucket-'));
  const s3 = await startS3Server();
  const servers: Server[] = [];
  try {
    note(`making ${DAYS} days of five-minute segments`);
    const media = await recording(dir);
    const root = path.join(dir, 'volume');
    const o: YearVolumeOptions = { devices: [DEVICE], segments: DAYS * PER_DAY, t0: T0, media };
    await writeYearVolume(root, o);
    const { size } = await stat(media);
    const sha = (await run('sha256sum', [media])).stdout.split(' ')[0]!;
    const segment = (n: number): Segment => segmentOf(root, DEVICE, n, o, size, sha);
    // Each day's clip: 10 s from the middle of its 100th segment (08:15 UTC).
    const clipped = Array.from({ length: DAYS }, (_v, d) => segment(d * PER_DAY + 100));

    note('archiving: day files by addToDayFiles, the clipped segments by the archive upload');
    await s3.createBucket('footage');
    const address = { endpoint: s3.endpoint, bucket: 'footage', region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
    const bucket = new Bucket(address);
    const devicePrefix = `${PREFIX}${DEVICE}/`;
    try {
      const all = Array.from({ length: DAYS * PER_DAY }, (_v, i) => segment(i + 1));
      for (let d = 0; d < DAYS; d++) await addToDayFiles(bucket, devicePrefix, all.slice(d * PER_DAY, (d + 1) * PER_DAY));
      for (const s of clipped) await bucket.upload({ key: segmentObjectKey(devicePrefix, s.file), file: path.join(root, s.file), sha256: s.sha256, bytes: s.bytes, contentType: s.mimeType }, { bytesPerSecond: null, partBytes: DEFAULT_PART_MIB * 1024 * 1024 });
    } finally {
      await bucket.close();
    }

    const volume = await startPlayback(['--root', root], {});
    servers.push(volume);
    const fromBucket = await startPlayback([], {
      ...s3.clientEnv, PLAYBACK_S3_ENDPOINT: s3.endpoint, PLAYBACK_S3_BUCKET: 'footage', PLAYBACK_S3_FORCE_PATH_STYLE: 'true', PLAYBACK_S3_PREFIX: PREFIX,
    });
    servers.push(fromBucket);

    const sides = { volume, bucket: fromBucket };
    const times: Record<string, Record<'volume' | 'bucket', number[]>> = { clip: { volume: [], bucket: [] }, cold: { volume: [], bucket: [] }, warm: { volume: [], bucket: [] } };
    for (let d = 0; d < DAYS; d++) {
      const day = new Date(T0 + d * 86_400_000).toISOString().slice(0, 10);
      const start = new Date(Date.parse(clipped[d]!.startTime) + 150_000).toISOString();
      // Alternate which side goes first, so neither always meets a warmer machine.
      const order = d % 2 === 0 ? (['volume', 'bucket'] as const) : (['bucket', 'volume'] as const);
      for (const side of order) {
        const base = sides[side].base;
        times.cold![side].push(await whole(`${base}/api/timeline?device=${DEVICE}&day=${day}`));
        times.warm![side].push(await whole(`${base}/api/timeline?device=${DEVICE}&day=${day}`));
        times.clip![side].push(await firstByte(`${base}/api/clip?device=${DEVICE}&start=${start}&duration=10`));
      }
      note(`day ${d + 1}/${DAYS}: clip ${fmt(times.clip!.volume.at(-1)!, 0)} / ${fmt(times.clip!.bucket.at(-1)!, 0)} ms, timeline ${fmt(times.cold!.volume.at(-1)!, 0)} / ${fmt(times.cold!.bucket.at(-1)!, 0)} ms`);
    }
    const row = (measure: string, key: string): Record<string, string | number> => {
      const v = percentile(times[key]!.volume, 50);
      const b = percentile(times[key]!.bucket, 50);
      return { measure, 'volume (ms, median)': fmt(v, 0), 'bucket (ms, median)': fmt(b, 0), 'bucket / volume': fmt(b / v, 2), runs: times[key]!.volume.length };
    };
    return [
      row('first byte of a 10 s clip (mid-segment)', 'clip'),
      row(`a day's /api/timeline (${PER_DAY} segments), first ask`, 'cold'),
      row("a day's /api/timeline, asked again", 'warm'),
    ];
  } finally {
    for (const s of servers) {
      s.child.kill('SIGTERM');
      await waitExit(s.child, 10_000);
    }
    await s3.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

export { run_ as run };

whenRunDirectly(import.meta.url, async () => {
  console.table(await run_());
});
