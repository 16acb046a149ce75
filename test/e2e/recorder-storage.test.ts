import { link, mkdir, readdir, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startGstCamera, type GstCamera } from './fixtures/camera.js';
import { decodeCheck } from './fixtures/player.js';
import { startCli, type CliProcess } from './support/recorder-process.js';
import { fillVolume as fill, mountTmpfs, unmountTmpfs } from './support/volume.js';

interface Status {
  state: string;
  lastError: { kind: string; message: string } | null;
  lastWriteAt: string | null;
  counters: Record<string, number>;
}

// A real, small file system: retention and ENOSPC are only honest on a volume that really fills up.
let volume: string;
let cam: GstCamera;
let rec: CliProcess | undefined;

beforeEach(async () => {
  volume = await mountTmpfs('shifu-vol-');
  // Noise at a high bit rate fills 64 MB in seconds, as a busy 1080p camera would fill a real disk.
  cam = await startGstCamera({ video: 'h264', audio: 'none', pattern: 'snow', bitrate: 6000, gop: 25 });
});

afterEach(async () => {
  await rec?.stop('SIGKILL');
  rec = undefined;
  await cam.stop();
  await unmountTmpfs(volume);
});

async function freePercent(): Promise<number> {
  const s = await statfs(volume);
  return (s.bavail / s.blocks) * 100;
}

/** Bytes to free to get back to `minFreePercent` free, worked out as the recorder does. */
async function deficit(minFreePercent: number): Promise<number> {
  const s = await statfs(volume);
  return Math.max(0, Math.ceil(((minFreePercent / 100) * s.blocks - s.bavail) * s.bsize));
}

/** The recorder's JSON log lines with message `msg` (other output, if any, is skipped). */
function logged<T>(output: string, msg: string): T[] {
  const lines: T[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string };
    if (entry.msg === msg) lines.push(entry as T);
  }
  return lines;
}

async function playableFinishedFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.'));
  for (const n of names) {
    const check = await decodeCheck(path.join(dir, n));
    expect(check.ok, `${n}: ${check.errors.join('\n')}`).toBe(true);
  }
  return names;
}

describe('recorder on a volume that fills up', () => {
  it('keeps recording on a full 64 MB tmpfs by deleting the oldest segments', async () => {
    await mkdir(path.join(volume, 'other'));
    await fill(path.join(volume, 'other', 'filler'), 20 << 20);
    rec = await startCli('recorder', [
      '--url', cam.url, '--out', volume, '--device', 'cam', '--segment-seconds', '2', '--min-free-percent', '15',
    ]);
    const status = await rec.waitFor<Status>('/record/status', (s) => s.counters.retentionDeletions! >= 3, 90_000);
    expect(status.state).toBe('recording');
    expect(status.counters.segmentsFinished).toBeGreaterThan(status.counters.retentionDeletions!);
    expect(rec.output()).toContain('retention deleted a segment');
    // Deletion keeps the volume near the floor instead of letting ffmpeg hit ENOSPC.
    expect(await freePercent()).toBeGreaterThan(5);
    expect(status.lastError?.kind ?? 'none').not.toBe('disk');
    await rec.json('POST', '/record/off');
    expect((await playableFinishedFiles(path.join(volume, 'cam'))).length).toBeGreaterThan(0);
  });

  it('deletes only the free-space deficit when deleting frees nothing yet (a snapshot holds the files)', async () => {
    rec = await startCli('recorder', [
      '--url', cam.url, '--out', volume, '--device', 'cam', '--segment-seconds', '2', '--min-free-percent', '0',
    ]);
    await rec.waitFor<Status>('/record/status', (s) => (s.counters.segmentsFinished ?? 0) >= 5, 60_000);
    await rec.json('POST', '/record/off');
    await rec.stop();
    const camDir = path.join(volume, 'cam');
    const segments = (await readdir(camDir)).filter((n) => !n.startsWith('.')).sort();
    expect(segments.length).toBeGreaterThanOrEqual(5);
    const bytes = await Promise.all(segments.map(async (n) => (await stat(path.join(camDir, n))).size));

    // A second name for every segment, as a snapshot or a backup holds them: unlinking the recorder's name
    // frees nothing, so statfs does not move, as on storage that frees space lazily (copy-on-write, thin
    // pools, network storage). A rule that deletes until statfs agrees would delete every segment.
    const snapshot = path.join(volume, 'snapshot');
    await mkdir(snapshot);
    for (const n of segments) await link(path.join(camDir, n), path.join(snapshot, n));
    // Below the floor by the oldest segment and half the next: covering it takes exactly those two.
    const wanted = bytes[0]! + Math.floor(bytes[1]! / 2);
    const s = await statfs(volume);
    await fill(path.join(volume, 'filler'), Math.floor(0.15 * s.blocks * s.bsize) - wanted);
    const before = await deficit(15);
    expect(before).toBeGreaterThan(bytes[0]!);
    expect(before).toBeLessThan(bytes[0]! + bytes[1]!);

    // Idle: no new segment changes the sums; the sweep at open runs before the API answers.
    rec = await startCli('recorder', [
      '--url', cam.url, '--out', volume, '--device', 'cam', '--idle', '--min-free-percent', '15',
    ]);
    // The snapshot goes (the space shows up late), so a later sweep finds no deficit left.
    await rm(snapshot, { recursive: true });
    const status = await rec.json<Status>('GET', '/record/status');
    await rec.stop();
    expect(status.body.counters.retentionDeletions).toBe(2);
    const deleted = logged<{ file: string; bytes: number; reason: string }>(rec.output(), 'retention deleted a segment');
    expect(deleted).toEqual([
      { ...deleted[0], file: `cam/${segments[0]}`, bytes: bytes[0], reason: 'free-space' },
      { ...deleted[1], file: `cam/${segments[1]}`, bytes: bytes[1], reason: 'free-space' },
    ]);
    // The history is kept: every newer segment is still there and plays.
    expect(await playableFinishedFiles(camDir)).toEqual(segments.slice(2));
    expect(await deficit(15)).toBe(0);
  });

  it('keeps its footage when other data holds the volume below the floor, making room only for the next segments', async () => {
    rec = await startCli('recorder', [
      '--url', cam.url, '--out', volume, '--device', 'cam', '--segment-seconds', '2', '--min-free-percent', '0',
    ]);
    await rec.waitFor<Status>('/record/status', (s) => (s.counters.segmentsFinished ?? 0) >= 5, 60_000);
    await rec.json('POST', '/record/off');
    await rec.stop();
    const camDir = path.join(volume, 'cam');
    const segments = (await readdir(camDir)).filter((n) => !n.startsWith('.')).sort();
    const bytes = await Promise.all(segments.map(async (n) => (await stat(path.join(camDir, n))).size));
    const largest = Math.max(...bytes);

    // Another team's data leaves room for four of our segments: far below a 50% floor that all of our footage
    // could not restore, yet enough for the next two segments. Nothing is deleted, and the status says why.
    await mkdir(path.join(volume, 'other'));
    await fill(path.join(volume, 'other', 'filler'), 4 * largest);
    expect(await deficit(50)).toBeGreaterThan(bytes.reduce((a, b) => a + b, 0));
    const idle = ['--url', cam.url, '--out', volume, '--device', 'cam', '--idle', '--min-free-percent', '50'];
    rec = await startCli('recorder', idle);
    const kept = (await rec.json<Status & { volume: { floorPercent: number; warning: string | null } }>('GET', '/record/status')).body;
    await rec.stop();
    expect(kept.counters.retentionDeletions).toBe(0);
    expect(kept.volume.floorPercent).toBe(50);
    expect(kept.volume.warning).toMatch(/below the 50% floor.*other data fills the volume/);
    expect(logged(rec.output(), 'free-space floor not restored: other data fills the volume')).toHaveLength(1);
    expect((await readdir(camDir)).filter((n) => !n.startsWith('.')).sort()).toEqual(segments);

    // Now the other data leaves less than two segments' room: the oldest go, only until the next two fit.
    await fill(path.join(volume, 'other', 'more'), Math.floor(largest / 2));
    rec = await startCli('recorder', idle);
    const made = (await rec.json<Status>('GET', '/record/status')).body;
    await rec.stop();
    const deleted = logged<{ file: string; reason: string }>(rec.output(), 'retention deleted a segment');
    expect(deleted.length).toBe(made.counters.retentionDeletions);
    expect(deleted.length).toBeGreaterThan(0);
    expect(deleted.length).toBeLessThan(segments.length);
    expect(deleted.map((d) => [d.file, d.reason])).toEqual(segments.slice(0, deleted.length).map((n) => [`cam/${n}`, 'free-space']));
    expect(await playableFinishedFiles(camDir)).toEqual(segments.slice(deleted.length));
  });

  it('starts on a volume that is already full, holding the device folder lease though it cannot name itself in it', async () => {
    await fill(path.join(volume, 'filler'), 0);
    const args = ['--url', cam.url, '--out', volume, '--device', 'cam', '--idle', '--min-free-percent', '0'];
    rec = await startCli('recorder', args);
    await rec.waitFor<Status>('/record/status', (s) => s.state === 'idle', 30_000);
    expect(logged<{ code: string }>(rec.output(), 'took the device folder lease, but the volume is full: it does not name this recorder')).toEqual([
      expect.objectContaining({ code: 'ENOSPC' }),
    ]);
    // Still exclusive: a second recorder is refused while the first renews the lease.
    await expect(startCli('recorder', args)).rejects.toThrow(/held by a recorder \(its lease file is unreadable\)/);
  });

  it('survives ENOSPC: finished files stay playable, state is error, and recording resumes when space returns', async () => {
    rec = await startCli('recorder', [
      '--url', cam.url, '--out', volume, '--device', 'cam', '--segment-seconds', '2', '--min-free-percent', '0',
    ]);
    await rec.waitFor<Status>('/record/status', (s) => (s.counters.segmentsFinished ?? 0) >= 2, 60_000);
    const filler = path.join(volume, 'filler');
    await fill(filler, 0);
    const failed = await rec.waitFor<Status>('/record/status', (s) => s.state === 'error', 60_000);
    expect(failed.lastError?.kind).toBe('disk');
    expect(failed.lastError?.message).toMatch(/No space left/i);
    const finished = await playableFinishedFiles(path.join(volume, 'cam'));
    expect(finished.length).toBeGreaterThanOrEqual(2);

    await rm(filler);
    const resumedAfter = Date.now();
    const resumed = await rec.waitFor<Status>(
      '/record/status',
      (s) => s.state === 'recording' && s.lastWriteAt !== null && Date.parse(s.lastWriteAt) > resumedAfter,
      60_000,
    );
    expect(resumed.state).toBe('recording');
    await rec.json('POST', '/record/off');
    const after = await playableFinishedFiles(path.join(volume, 'cam'));
    expect(after.length).toBeGreaterThan(finished.length);
    for (const name of finished) expect(after).toContain(name);
  });
});
