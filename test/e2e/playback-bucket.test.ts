// Playback from the archive's bucket (issue 25) against a real S3 server (versitygw): a real recorder archives real
// segments, then a playback server with no volume lists the device, answers its timeline, serves a Range of a file
// (the bytes awscli's ranged get-object gives, read by a ranged GET) and cuts clips; beside a volume, a segment
// deleted locally (as ARCHIVE_KEEP_LOCAL does) comes from the bucket once; wrong keys are a 503 naming credentials.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendDeletionToJournal, journalPathOf, parseJournal, type Segment } from '../../functions/recorder/index.js';
import type { ArchiveStatus } from '../../functions/archive/index.js';
import { startGstCamera } from './fixtures/camera.js';
import { startCli, type CliProcess } from './support/recorder-process.js';
import { useScratch } from '../support/scratch.js';
import { startS3Server, type S3Server } from '../support/s3-server.js';

const run = promisify(execFile);
const scratch = useScratch('shifu-playback-bucket-');
let s3: S3Server;
let out: string;
let segments: Segment[];

interface Timeline {
  spans: Array<{ segments: Array<{ file: string; sha256: string }> }>;
}

/** A loopback TCP relay to the S3 server that counts the bytes the server sent: a whole-object read shows there. */
async function countingProxy(target: string): Promise<{ endpoint: string; received: () => number; close: () => Promise<void> }> {
  const { hostname, port } = new URL(target);
  let received = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    upstream.on('data', (d: Buffer) => (received += d.length));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function bucketEnv(endpoint: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...s3.clientEnv, PLAYBACK_S3_ENDPOINT: endpoint, PLAYBACK_S3_BUCKET: 'footage', PLAYBACK_S3_FORCE_PATH_STYLE: 'true', PLAYBACK_S3_PREFIX: 'site1/', ...extra };
}

async function playback(args: string[], env: Record<string, string>): Promise<CliProcess> {
  const proc = await startCli('playback', args, env, { httpFlag: 'listen' });
  scratch.defer(() => proc.stop('SIGKILL'));
  return proc;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const timelineFiles = (t: Timeline): string[] => t.spans.flatMap((s) => s.segments.map((g) => g.file));
/** The window of everything recorded, as /api/timeline's start and end. */
const recorded = (): string => `start=${segments[0]!.startTime}&end=${segments.at(-1)!.endTime}`;

async function probeDuration(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

/** The clip as a file, and its headers. */
async function clip(base: string, query: string, name: string): Promise<{ file: string; status: number; headers: Headers }> {
  const res = await fetch(`${base}/api/clip?${query}`);
  const file = path.join(scratch.dir, name);
  await writeFile(file, Buffer.from(await res.arrayBuffer()));
  return { file, status: res.status, headers: res.headers };
}

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket('footage');
  out = path.join(scratch.dir, 'volume');
  // Noise at 1 Mbit/s: segments of about 500 KB, much more than the range read from one.
  const cam = await startGstCamera({ gop: 10, fps: 10, pattern: 'snow', bitrate: 1000 });
  scratch.defer(() => cam.stop());
  const archiveEnv = { ...s3.clientEnv, ARCHIVE_S3_ENDPOINT: s3.endpoint, ARCHIVE_S3_BUCKET: 'footage', ARCHIVE_S3_FORCE_PATH_STYLE: 'true', ARCHIVE_S3_PREFIX: 'site1/' };
  const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '4', '--no-align-to-clock'];
  const rec = await startCli('recorder', args, archiveEnv);
  scratch.defer(() => rec.stop('SIGKILL'));
  await rec.waitFor<{ archive?: ArchiveStatus }>('/record/status', (s) => (s.archive?.counters.archived ?? 0) >= 4, 90_000);
  await rec.stop();
  // What the stop left (the last segment) is archived by the next start, as in production.
  const idle = await startCli('recorder', [...args, '--idle'], archiveEnv);
  scratch.defer(() => idle.stop('SIGKILL'));
  await idle.waitFor<{ archive?: ArchiveStatus }>('/record/status', (s) => s.archive?.caughtUpAt != null, 60_000);
  await idle.stop();
  segments = parseJournal(await readFile(journalPathOf(out, 'cam'), 'utf8'));
}, 900_000);
afterAll(() => s3?.remove());

describe('playback from the bucket alone', () => {
  it('lists the device, answers its timeline, serves a Range by a ranged GET, cuts clips ffprobe reads, an export zip, HLS and a thumbnail', async () => {
    const proxy = await countingProxy(s3.endpoint);
    scratch.defer(() => proxy.close());
    const server = await playback([], bucketEnv(proxy.endpoint));

    const devices = await server.json<{ devices: Array<{ device: string; stored: string; firstFootage: string; lastFootage: string }> }>('GET', '/api/devices');
    expect(devices.status).toBe(200);
    expect(devices.body.devices).toEqual([expect.objectContaining({ device: 'cam', stored: 'bucket', firstFootage: segments[0]!.startTime, lastFootage: segments.at(-1)!.endTime })]);

    const timeline = await server.json<Timeline>('GET', `/api/timeline?device=cam&${recorded()}`);
    expect(timeline.status).toBe(200);
    expect(timelineFiles(timeline.body)).toEqual(segments.map((s) => path.posix.basename(s.file)));
    // Without a window: the day of the last footage, found from the bucket's last day file.
    const lastDay = await server.json<Timeline>('GET', '/api/timeline?device=cam');
    expect(timelineFiles(lastDay.body)).toContain(path.posix.basename(segments.at(-1)!.file));

    // A Range of a file: the bytes awscli's ranged get-object gives, and far fewer bytes from S3 than the object.
    const big = [...segments].sort((a, b) => b.bytes - a.bytes)[0]!;
    const name = path.posix.basename(big.file);
    const range = `bytes=1000-${1000 + 16 * 1024 - 1}`;
    const before = proxy.received();
    const ranged = await fetch(`${server.baseUrl}/files/cam/${name}`, { headers: { range } });
    const body = Buffer.from(await ranged.arrayBuffer());
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000-${1000 + 16 * 1024 - 1}/${big.bytes}`);
    expect(ranged.headers.get('etag')).toBe(`"${big.sha256}"`);
    const copy = path.join(scratch.dir, 'awscli-range.bin');
    await s3.aws(['s3api', 'get-object', '--bucket', 'footage', '--key', `site1/cam/${name}`, '--range', range, copy]);
    expect(body.equals(await readFile(copy))).toBe(true);
    expect(big.bytes, 'a segment much bigger than the range read').toBeGreaterThan(16 * 16 * 1024);
    expect(proxy.received() - before, 'bytes S3 sent for a 16 KiB range').toBeLessThan(16 * 1024 + 8 * 1024);
    // The whole file is the segment, by its journal sha256.
    const whole = await fetch(`${server.baseUrl}/files/cam/${name}`);
    expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(big.sha256);

    // 10 s from 1.5 s into the first segment, across three segments: the MP4 index read by ranged GETs, ffmpeg through the relay.
    const start = new Date(Date.parse(segments[0]!.startTime) + 1500).toISOString();
    const mp4 = await clip(server.baseUrl, `device=cam&start=${start}&duration=10`, 'bucket.mp4');
    expect(mp4.status).toBe(200);
    expect(Number(mp4.headers.get('x-clip-segments'))).toBeGreaterThanOrEqual(3);
    expect(await probeDuration(mp4.file)).toBeCloseTo(Number(mp4.headers.get('x-clip-duration')), 0);
    expect(Math.abs(Number(mp4.headers.get('x-clip-duration')) - 10)).toBeLessThan(1.6);
    for (const format of ['mkv', 'ts'] as const) {
      const cut = await clip(server.baseUrl, `device=cam&start=${start}&duration=5&format=${format}`, `bucket.${format}`);
      expect(cut.status, format).toBe(200);
      expect(await probeDuration(cut.file), format).toBeGreaterThan(4);
    }
    const h264 = await clip(server.baseUrl, `device=cam&start=${start}&duration=3&video=h264&height=120`, 'bucket-h264.mp4');
    expect(h264.status).toBe(200);
    expect(h264.headers.get('x-clip-video')).toMatch(/^h264 \(re-encoded from h264/);
    expect(await probeDuration(h264.file)).toBeGreaterThan(2);

    // Several cameras' export zip (here one camera's) cuts from the bucket as a clip does.
    const zip = await fetch(`${server.baseUrl}/api/export?devices=cam&start=${start}&duration=5`);
    const zipBytes = Buffer.from(await zip.arrayBuffer());
    expect(zip.status, zipBytes.toString().slice(0, 300)).toBe(200);
    expect(zip.headers.get('x-export-devices')).toBe('cam');
    expect(zipBytes.subarray(0, 2).toString(), 'a zip').toBe('PK');

    // HLS of the recording: its byte ranges of the bucket's files, and pieces cut through the relay (video=h264).
    const window = `start=${segments[0]!.startTime}&end=${segments.at(-1)!.endTime}`;
    const playlist = await fetch(`${server.baseUrl}/api/hls/cam.m3u8?${window}`);
    const text = await playlist.text();
    expect(playlist.status, text).toBe(200);
    expect(text).toMatch(/#EXT-X-BYTERANGE:\d+@\d+\n\/files\/cam\//);
    const transcoded = await (await fetch(`${server.baseUrl}/api/hls/cam.m3u8?${window}&video=h264&height=120`)).text();
    const pieceUri = transcoded.split('\n').find((l) => l.startsWith('/api/hls/cam/piece.ts'))!;
    const piece = await fetch(`${server.baseUrl}${pieceUri}`);
    const pieceBytes = Buffer.from(await piece.arrayBuffer());
    expect(piece.status, pieceBytes.toString().slice(0, 300)).toBe(200);
    expect(pieceBytes[0], 'an MPEG-TS sync byte').toBe(0x47);
    // A thumbnail from the middle of the second segment.
    const at = new Date(Date.parse(segments[1]!.startTime) + 2500).toISOString();
    const thumbnail = await fetch(`${server.baseUrl}/api/thumbnail?device=cam&time=${at}&width=160`);
    const jpeg = Buffer.from(await thumbnail.arrayBuffer());
    expect(thumbnail.status, jpeg.toString().slice(0, 300)).toBe(200);
    expect(jpeg.subarray(0, 2).toString('hex'), 'a JPEG').toBe('ffd8');
    expect(server.output()).not.toContain(s3.secretAccessKey);
    // Its reads of the bucket, counted: segment bytes, day files, and day files answered from the cache.
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
    const count = (labels: string): number => Number(new RegExp(`^${labels.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('shifu_rtsp_playback_bucket_requests_total{kind="object",outcome="ok"}')).toBeGreaterThan(5);
    expect(count('shifu_rtsp_playback_bucket_requests_total{kind="day_file",outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect(count('shifu_rtsp_playback_cache_lookups_total{cache="bucket_day_file",result="hit"}')).toBeGreaterThan(0);
  });
});

describe('playback from a volume and the bucket', () => {
  it('serves a segment deleted from the volume from the bucket, the rest from the volume, and lists each once', async () => {
    const gone = segments[1]!;
    // As ARCHIVE_KEEP_LOCAL does: the file removed, then a deletion journaled.
    await rm(path.join(out, gone.file));
    await appendDeletionToJournal(journalPathOf(out, 'cam'), { device: 'cam', deleted: gone.file, bytes: gone.bytes, reason: 'keep-local', at: new Date().toISOString() });
    const server = await playback(['--root', out], bucketEnv(s3.endpoint));

    const devices = await server.json<{ devices: Array<{ device: string; stored: string; segments: number }> }>('GET', '/api/devices');
    expect(devices.body.devices).toEqual([expect.objectContaining({ device: 'cam', stored: 'both', segments: segments.length - 1 })]);
    const timeline = await server.json<Timeline>('GET', `/api/timeline?device=cam&${recorded()}`);
    expect(timeline.status).toBe(200);
    expect(timelineFiles(timeline.body)).toEqual(segments.map((s) => path.posix.basename(s.file)));

    const fromBucket = await fetch(`${server.baseUrl}/files/cam/${path.posix.basename(gone.file)}`);
    expect(fromBucket.status).toBe(200);
    expect(sha256(Buffer.from(await fromBucket.arrayBuffer()))).toBe(gone.sha256);
    // A clip across the deleted segment and its neighbours on the volume.
    const start = new Date(Date.parse(segments[0]!.startTime) + 1000).toISOString();
    const mixed = await clip(server.baseUrl, `device=cam&start=${start}&duration=10`, 'mixed.mp4');
    expect(mixed.status).toBe(200);
    expect(await probeDuration(mixed.file)).toBeGreaterThan(8.5);

    // The volume's copy needs no bucket: with S3 stopped, a file on the volume is still served.
    const local = segments[2]!;
    await s3.stop();
    try {
      const fromVolume = await fetch(`${server.baseUrl}/files/cam/${path.posix.basename(local.file)}`);
      expect(fromVolume.status).toBe(200);
      expect(sha256(Buffer.from(await fromVolume.arrayBuffer()))).toBe(local.sha256);
    } finally {
      await s3.start();
    }
  });
});

describe('a bucket that refuses', () => {
  it('wrong credentials: a 503 naming credentials and the device, no key in any answer or log', async () => {
    const secret = 'not-the-secret-0123456789abcdef';
    const server = await playback([], bucketEnv(s3.endpoint, { AWS_SECRET_ACCESS_KEY: secret }));
    const devices = await fetch(`${server.baseUrl}/api/devices`);
    const devicesText = await devices.text();
    expect(devices.status).toBe(503);
    expect(devicesText).toMatch(/credentials/);
    const timeline = await fetch(`${server.baseUrl}/api/timeline?device=cam&${recorded()}`);
    const timelineText = await timeline.text();
    expect(timeline.status).toBe(503);
    expect(timelineText).toMatch(/cam.*credentials/);
    const file = await fetch(`${server.baseUrl}/files/cam/${path.posix.basename(segments[0]!.file)}`);
    expect(file.status).toBe(503);
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^shifu_rtsp_playback_bucket_requests_total\{kind="devices",outcome="credentials"\} [1-9]/m);
    await server.stop();
    for (const shown of [devicesText, timelineText, metrics, server.output()]) {
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(s3.accessKeyId);
    }
  });
});
