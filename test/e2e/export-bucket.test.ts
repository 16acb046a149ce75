// `shifu-rtsp export --s3-bucket` (issue 25): footage copied out of the bucket the recorder archives to, against a
// real S3 server (versitygw) holding segments the archive's own code uploaded and listed in its day files. Each copy
// is checked against the journal's sha256 and against awscli's download; a partial copy resumes with a ranged GET;
// a corrupted object (its bytes replaced, its metadata kept) is reported by name and never kept; wrong keys are
// named `credentials` and never shown.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Bucket } from '../../functions/archive/bucket.js';
import { addToDayFiles } from '../../functions/archive/day-files.js';
import { DEFAULT_PART_MIB } from '../../functions/archive/index.js';
import { segmentObjectKey, type Segment } from '../../functions/contracts/index.js';
import { requireTool } from './fixtures/camera.js';
import { decodeCheck, FFMPEG, probeFile } from './fixtures/player.js';
import { runCli } from '../support/cli.js';
import { segmentFixture } from '../support/segment.js';
import { useScratch } from '../support/scratch.js';
import { TEST_PREFIX, useS3Server } from '../support/s3-server.js';

const run = promisify(execFile);
const scratch = useScratch('shifu-export-bucket-');
const s3 = useS3Server();

const DEVICE = 'cam';
/** Three 4 s segments, the middle one across midnight UTC: it is in both days' files, and copied once. */
const STARTS = ['2026-11-24T23:59:54Z', '2026-11-24T23:59:58Z', '2026-11-25T00:00:02Z'];

const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

interface Report {
  files: Array<{ name: string; outcome: string; detail?: string }>;
  failed: number;
}

/** Records three segments (H.264 + AAC, a keyframe a second, fragmented MP4 like the recorder's) and archives them to `bucket` with the archive's own upload and day files. */
async function archived(bucket: string): Promise<Array<{ segment: Segment; file: string }>> {
  requireTool('ffmpeg');
  const dir = path.join(scratch.dir, `recorded-${bucket}`);
  await mkdir(dir, { recursive: true });
  const recorded = await Promise.all(
    STARTS.map(async (start, i) => {
      const file = path.join(dir, `${i}.mp4`);
      await run(FFMPEG, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', `sine=frequency=${440 + 110 * i}`,
        '-t', '4', '-c:v', 'libx264', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', file]);
      const bytes = (await readFile(file)).length;
      const segment = segmentFixture({ device: DEVICE, start, seconds: 4 }, { sequence: i + 1, bytes, sha256: await sha256(file), audio: { codec: 'aac' }, video: { codec: 'h264', width: 320, height: 240, fps: 25 } });
      return { segment, file };
    }),
  );
  await s3.createBucket(bucket);
  const archive = new Bucket(s3.address(bucket));
  try {
    for (const { segment, file } of recorded) await archive.upload({ key: segmentObjectKey(`${TEST_PREFIX}${DEVICE}/`, segment.file), file, sha256: segment.sha256, bytes: segment.bytes, contentType: 'video/mp4' }, { bytesPerSecond: null, partBytes: DEFAULT_PART_MIB * 1024 * 1024 });
    await addToDayFiles(archive, `${TEST_PREFIX}${DEVICE}/`, recorded.map((r) => r.segment));
  } finally {
    await archive.close();
  }
  return recorded;
}

/** `shifu-rtsp export` from `bucket` (of DEVICE unless `args` name devices), the keys only in the environment. */
function exportFrom(bucket: string, to: string, args: string[] = [], env: NodeJS.ProcessEnv = s3.clientEnv): ReturnType<typeof runCli> {
  return runCli(
    ['export', '--s3-bucket', bucket, '--s3-endpoint', s3.endpoint, '--s3-force-path-style', '--s3-prefix', TEST_PREFIX, ...(args.includes('--device') ? [] : ['--device', DEVICE]), '--to', to, '--no-progress', ...args],
    env,
  );
}

const nameOf = (s: Segment): string => path.posix.basename(s.file);

describe('export from the bucket', () => {
  it('copies the archived segments, each matching the journal and awscli, resumes a partial copy, selects by time and cuts a clip', async () => {
    const recorded = await archived('footage');
    const to = path.join(scratch.dir, 'all');
    const first = await exportFrom('footage', to);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as Report;
    expect(report.files.map((f) => [f.name, f.outcome])).toEqual(recorded.map((r) => [nameOf(r.segment), 'copied']));
    // awscli, a second client, downloads the same objects.
    const byAwscli = path.join(scratch.dir, 'awscli');
    await s3.aws(['s3', 'cp', '--recursive', '--exclude', 'timeline/*', `s3://footage/${TEST_PREFIX}${DEVICE}/`, byAwscli]);
    for (const { segment } of recorded) {
      const copy = path.join(to, DEVICE, nameOf(segment));
      expect(await sha256(copy), nameOf(segment)).toBe(segment.sha256);
      expect(await sha256(path.join(byAwscli, nameOf(segment))), nameOf(segment)).toBe(segment.sha256);
    }

    // An interrupted copy continues from its last byte (a ranged GET); the others are known and skipped.
    const last = path.join(to, DEVICE, nameOf(recorded[2]!.segment));
    await rename(last, `${last}.partial`);
    await truncate(`${last}.partial`, Math.floor(recorded[2]!.segment.bytes / 2));
    const again = await exportFrom('footage', to);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as Report).files.map((f) => f.outcome)).toEqual(['skipped', 'skipped', 'resumed']);
    expect(await sha256(last)).toBe(recorded[2]!.segment.sha256);

    // --since/--until: only the segment across midnight overlaps the two seconds around it.
    const window = await exportFrom('footage', path.join(scratch.dir, 'window'), ['--since', '2026-11-24T23:59:59Z', '--until', '2026-11-25T00:00:01Z']);
    expect(window.code, window.stderr).toBe(0);
    expect((JSON.parse(window.stdout) as Report).files.map((f) => [f.name, f.outcome])).toEqual([[nameOf(recorded[1]!.segment), 'copied']]);

    // A clip across all three, cut here from the copied and checked segments; nothing else is left behind.
    const clipTo = path.join(scratch.dir, 'clip');
    const clip = await exportFrom('footage', clipTo, ['--clip', '2026-11-24T23:59:56Z..2026-11-25T00:00:04Z', '--format', 'mkv']);
    expect(clip.code, clip.stderr).toBe(0);
    const cut = JSON.parse(clip.stdout) as { file: string; segments: number; start: string; durationSeconds: number };
    // From the keyframe at or before the start (a keyframe a second), to the end: the server's rule and name.
    expect(cut.segments).toBe(3);
    expect(Date.parse(cut.start)).toBeLessThanOrEqual(Date.parse('2026-11-24T23:59:56Z'));
    expect(Date.parse(cut.start)).toBeGreaterThanOrEqual(Date.parse('2026-11-24T23:59:54Z'));
    const name = `cam_${cut.start.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}_${Math.round(cut.durationSeconds)}s.mkv`;
    expect(cut.file).toBe(path.join(clipTo, DEVICE, name));
    expect(await readdir(clipTo, { recursive: true })).toEqual([DEVICE, path.join(DEVICE, name)]);
    const probe = await probeFile(cut.file);
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(probe.durationSeconds).toBeGreaterThanOrEqual(7.8);
    expect(probe.durationSeconds).toBeLessThanOrEqual(10.2);
    const check = await decodeCheck(cut.file);
    expect(check.ok, check.errors.join('\n')).toBe(true);

    // Several devices: a clip each, the same cut; one without footage is missing, by name.
    const both = await exportFrom('footage', path.join(scratch.dir, 'both'), ['--clip', '2026-11-24T23:59:56Z..2026-11-25T00:00:04Z', '--format', 'mkv', '--device', `${DEVICE},ghost`]);
    expect(both.code, both.stderr).toBe(0);
    const clips = JSON.parse(both.stdout) as { clips: Array<{ device: string; sha256: string; bytes: number }>; missing: Array<{ device: string; reason: string }> };
    expect(clips.clips.map((c) => c.device)).toEqual([DEVICE]);
    expect(clips.clips[0]!.sha256).toBe(await sha256(path.join(scratch.dir, 'both', DEVICE, name)));
    expect(clips.missing).toEqual([{ device: 'ghost', reason: expect.stringContaining('no timeline of ghost') }]);
  });

  it('an object whose bytes no longer match its sha256 is an error naming it, and is never kept', async () => {
    const recorded = await archived('corrupt');
    const victim = recorded[1]!.segment;
    // Same size, other bytes, the archive's metadata kept: only the bytes themselves can tell.
    const bad = path.join(scratch.dir, 'bad.mp4');
    const bytes = await readFile(recorded[1]!.file);
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    await writeFile(bad, bytes);
    await s3.aws(['s3', 'cp', bad, `s3://corrupt/${segmentObjectKey(`${TEST_PREFIX}${DEVICE}/`, victim.file)}`, '--metadata', `sha256=${victim.sha256}`]);

    const to = path.join(scratch.dir, 'corrupt');
    const r = await exportFrom('corrupt', to);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.failed).toBe(1);
    expect(report.files.find((f) => f.name === nameOf(victim))).toMatchObject({ outcome: 'failed', detail: expect.stringMatching(/^sha256 [0-9a-f]{12}… differs from the journal's /) });
    expect(r.stderr).toContain(`failed: ${nameOf(victim)}: sha256 `);
    expect((await readdir(path.join(to, DEVICE))).sort()).toEqual(['.shifu-rtsp-export.json', nameOf(recorded[0]!.segment), nameOf(recorded[2]!.segment)].sort());
  });

  it('wrong or half-given keys are named, and no key is ever shown', async () => {
    await s3.createBucket('refused');
    const wrong = 'not-the-secret-0123456789abcdef';
    const refused = await exportFrom('refused', path.join(scratch.dir, 'refused'), [], { ...s3.clientEnv, AWS_SECRET_ACCESS_KEY: wrong });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused the credentials for bucket refused \(SignatureDoesNotMatch, 403\): check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY/);
    const half = await exportFrom('refused', path.join(scratch.dir, 'half'), [], { ...s3.clientEnv, AWS_SECRET_ACCESS_KEY: '' });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/invalid AWS_SECRET_ACCESS_KEY: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    for (const shown of [refused.stdout, refused.stderr, half.stdout, half.stderr]) {
      for (const key of [wrong, s3.secretAccessKey, s3.accessKeyId]) expect(shown).not.toContain(key);
    }
  });
});
