import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startGstCamera, type GstCamera } from './fixtures/camera.js';
import { decodeCheck } from './fixtures/player.js';
import { startCli, type CliProcess } from './support/recorder-process.js';

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
  volume = await mkdtemp(path.join(os.tmpdir(), 'shifu-vol-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', volume]);
  // Noise at a high bit rate fills 64 MB in seconds, as a busy 1080p camera would fill a real disk.
  cam = await startGstCamera({ video: 'h264', audio: 'none', pattern: 'snow', bitrate: 6000, gop: 25 });
});

afterEach(async () => {
  await rec?.stop('SIGKILL');
  rec = undefined;
  await cam.stop();
  execFileSync('umount', ['-l', volume]);
  await rm(volume, { recursive: true, force: true });
});

async function freePercent(): Promise<number> {
  const s = await statfs(volume);
  return (s.bavail / s.blocks) * 100;
}

/** Writes zeros until the volume holds only `leaveBytes` more (0: completely full). */
async function fill(file: string, leaveBytes: number): Promise<void> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) {
      const s = await statfs(volume);
      const free = s.bavail * s.bsize - leaveBytes;
      if (free <= 0) break;
      await handle.write(chunk, 0, Math.min(chunk.length, free));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
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
