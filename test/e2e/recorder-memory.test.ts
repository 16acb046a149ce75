// The recorder's own memory per camera (issue 24 section 2): one recorder process runs per camera, so what
// its Node costs over a bare Node multiplies. Private dirty memory (smaps_rollup) is what the process holds
// alone; a bare `node -e` started beside it is the floor, so the bound does not depend on the machine.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool, startGstCamera } from './fixtures/camera.js';
import { startCli } from './support/recorder-process.js';
import { useScratch } from '../support/scratch.js';
import { useS3Server } from '../support/s3-server.js';

const scratch = useScratch('shifu-rec-mem-');
const s3 = useS3Server();

/**
 * Over a bare Node's, in MiB. Measured: 17.0 at main before the V8 memory flags; 14.3 after them until the memory
 * reducer runs (a few seconds into recording), then 11.5-11.8; 9.3-9.5 since the recorder runs from its bundle
 * (functions/bundle.ts), 13.8 before its reducer; 7.6-7.9 with one malloc arena (LEAN_ENV, functions/commands/lean.ts).
 */
const OVER_BARE_NODE_MIB = 8.5;

/**
 * A recorder archiving every 2 s segment to a bucket (issue 25: archiving may add at most 10 MiB), over a bare
 * Node's, in MiB. Measured 2026-12-07 (the recorder without a bucket 7.0 in the same runs): 15.9-16.4 while its
 * bundle took AWS's SDK as CommonJS, the whole S3 client in one piece; 13.9-14.3 with its ES modules, tree-shaken
 * (functions/bundle.ts).
 */
const ARCHIVING_OVER_BARE_NODE_MIB = 15;

function privateDirtyMiB(pid: number): number {
  const m = /^Private_Dirty:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  if (!m) throw new Error(`no Private_Dirty for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/**
 * Waits, bounded, for the recorder to settle within `bound` MiB of private memory over the bare Node: V8 gives memory
 * back some seconds after start-up (and after each upload), when its memory reducer runs.
 */
async function expectSettlesWithin(pid: number, barePid: number, bound: number): Promise<void> {
  const seen: string[] = [];
  const deadline = Date.now() + 45_000;
  let over = Infinity;
  while (Date.now() < deadline) {
    over = privateDirtyMiB(pid) - privateDirtyMiB(barePid);
    seen.push(over.toFixed(1));
    if (over <= bound) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(over, `MiB over a bare node, each second while recording: ${seen.join(' ')}`).toBeLessThanOrEqual(bound);
}

beforeAll(() => {
  requireTool('ffmpeg');
  requireTool('gst-camera');
});

describe('recorder: memory per camera', () => {
  it(`a recording recorder settles within ${OVER_BARE_NODE_MIB} MiB of private memory over a bare node -e`, async () => {
    const cam = await startGstCamera({ video: 'h264', audio: 'none', gop: 25, fps: 25 });
    scratch.defer(() => cam.stop());
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    scratch.defer(async () => bare.kill('SIGKILL'));
    const rec = await startCli('recorder', ['--url', cam.url, '--out', path.join(scratch.dir, 'out'), '--device', 'cam'], { LOG_LEVEL: 'info' });
    scratch.defer(() => rec.stop('SIGKILL'));
    await rec.waitFor<{ state: string; lastWriteAt: string | null }>('/record/status', (s) => s.state === 'recording' && s.lastWriteAt !== null, 60_000);
    const pid = rec.child.pid ?? 0;
    const barePid = bare.pid ?? 0;
    await expectSettlesWithin(pid, barePid, OVER_BARE_NODE_MIB);
  });

  it(`a recorder archiving every segment to a bucket settles within ${ARCHIVING_OVER_BARE_NODE_MIB} MiB over a bare node -e`, async () => {
    const cam = await startGstCamera({ video: 'h264', audio: 'none', gop: 25, fps: 25 });
    scratch.defer(() => cam.stop());
    await s3.createBucket('memory');
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    scratch.defer(async () => bare.kill('SIGKILL'));
    const args = ['--url', cam.url, '--out', path.join(scratch.dir, 'archiving'), '--device', 'cam', '--segment-seconds', '2', '--no-align-to-clock'];
    const rec = await startCli('recorder', args, { LOG_LEVEL: 'info', ...s3.archiveEnv('memory') });
    scratch.defer(() => rec.stop('SIGKILL'));
    // Past the first uploads, so the SDK, its client and a request's path are all in memory.
    await rec.waitFor<{ archive: { lastArchived: unknown } | null }>('/record/status', (s) => s.archive?.lastArchived != null, 60_000);
    await new Promise((r) => setTimeout(r, 6000));
    expect((await s3.objects('memory')).filter((o) => o.key.endsWith('.mp4')).length, 'segments archived').toBeGreaterThanOrEqual(3);
    await expectSettlesWithin(rec.child.pid ?? 0, bare.pid ?? 0, ARCHIVING_OVER_BARE_NODE_MIB);
  });
});
