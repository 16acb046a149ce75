// Tiered retention (issue 25): while archiving is on, the recorder's limits delete only segments that are in the
// bucket (ARCHIVE_KEEP_LOCAL frees them from the volume once archived), and a segment not archived yet goes only
// when free space falls below the hard floor, counted as lost. Against a real S3 server (versitygw), awscli
// checking the bucket, and a real 64 MB tmpfs for the floor.
import { existsSync } from 'node:fs';
import { readdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../functions/recorder/index.js';
import type { ArchiveStatus } from '../../functions/archive/index.js';
import { startGstCamera } from './fixtures/camera.js';
import { startCli, type CliProcess } from './support/recorder-process.js';
import { fillVolume, mountTmpfs, unmountTmpfs } from './support/volume.js';
import { journalRecordsOf } from '../support/journal.js';
import { useScratch } from '../support/scratch.js';
import { useS3Server } from '../support/s3-server.js';

interface Status {
  state: string;
  counters: { segmentsFinished: number; retentionDeletions: number; segmentsLost: number };
  archive?: ArchiveStatus;
}

const scratch = useScratch('shifu-tiered-');
const s3 = useS3Server();

async function recorder(url: string, out: string, env: Record<string, string>, extra: string[]): Promise<CliProcess> {
  const proc = await startCli('recorder', ['--url', url, '--out', out, '--device', 'cam', '--no-align-to-clock', ...extra], env);
  scratch.defer(() => proc.stop('SIGKILL'));
  return proc;
}

const records = (out: string): Promise<JournalRecord[]> => journalRecordsOf(out, 'cam');

async function finishedFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
}

describe('tiered retention while archiving', () => {
  it('deletes nothing the bucket lacks, then frees each segment from the volume once it is archived (ARCHIVE_KEEP_LOCAL)', async () => {
    const cam = await startGstCamera({ gop: 10, fps: 10 });
    scratch.defer(() => cam.stop());
    const out = path.join(scratch.dir, 'tiered');
    // A second on the volume: without the bucket nothing may go. (No free-space floor and no hard floor: this test
    // is about the archive, whatever the machine's disk holds. Either floor, when this device's footage cannot make
    // it up, only keeps room for two segments, which a disk with gigabytes free never lacks; off, neither can act.)
    const rec = await recorder(cam.url, out, s3.archiveEnv('tiered', { ARCHIVE_KEEP_LOCAL: '1s', ARCHIVE_HARD_MIN_FREE_PERCENT: '0' }), ['--segment-seconds', '2', '--min-free-percent', '0']);
    const held = await rec.waitFor<Status>('/record/status', (s) => s.archive?.state === 'archive-error' && s.counters.segmentsFinished >= 3, 60_000);
    expect(held.counters.retentionDeletions).toBe(0);
    const journaled = (await records(out)).flatMap((r) => (r.kind === 'segment' ? [r.segment.file] : []));
    expect(journaled.length).toBeGreaterThanOrEqual(3);
    for (const file of journaled) expect(existsSync(path.join(out, file)), file).toBe(true);

    await s3.createBucket('tiered');
    const freed = await rec.waitFor<Status>('/record/status', (s) => s.counters.retentionDeletions >= 3, 60_000);
    expect(freed.counters.segmentsLost).toBe(0);
    await rec.stop();
    // Each deleted file was archived before it was deleted (its archive record comes first in the journal), and
    // its object is in the bucket.
    const archivedSoFar = new Set<string>();
    const deleted: Array<[string, string]> = [];
    const journal = await records(out);
    // Seen once in CI (a cold run beside other work) and not since in six runs under three busy loops: the journal in
    // order, and the recorder's log, say which rule deleted it and when, should it fail again.
    const told = (): string =>
      `\njournal:\n${journal.map((r) => (r.kind === 'segment' ? `segment ${r.segment.file}` : r.kind === 'archive' ? `archive ${r.archive.archived} at ${r.archive.at}` : `deletion ${r.deletion.deleted} (${r.deletion.reason}) at ${r.deletion.at}`)).join('\n')}\nlog:\n${rec.output().slice(-6000)}`;
    for (const r of journal) {
      if (r.kind === 'archive') archivedSoFar.add(r.archive.archived);
      if (r.kind === 'deletion') {
        expect(archivedSoFar.has(r.deletion.deleted), `${r.deletion.deleted} deleted before it was archived${told()}`).toBe(true);
        deleted.push([r.deletion.deleted, r.deletion.reason]);
      }
    }
    expect(deleted.length).toBeGreaterThanOrEqual(3);
    expect(new Set(deleted.map(([, reason]) => reason))).toEqual(new Set(['keep-local']));
    const inBucket = new Set((await s3.objects('tiered')).map((o) => o.key));
    for (const [file] of deleted) {
      expect(inBucket.has(`site1/cam/${path.posix.basename(file)}`), file).toBe(true);
      expect(existsSync(path.join(out, file)), file).toBe(false);
    }
  });

  it('below the hard floor the oldest segment goes though it is not archived, logged and counted as lost', async () => {
    const volume = await mountTmpfs('shifu-tiered-vol-');
    scratch.defer(() => unmountTmpfs(volume));
    const cam = await startGstCamera({ video: 'h264', audio: 'none', pattern: 'snow', bitrate: 6000, gop: 25 });
    scratch.defer(() => cam.stop());
    // Footage first, with no archive and no limit.
    const first = await recorder(cam.url, volume, {}, ['--segment-seconds', '2', '--min-free-percent', '0']);
    await first.waitFor<Status>('/record/status', (s) => s.counters.segmentsFinished >= 4, 60_000);
    await first.json('POST', '/record/off');
    await first.stop();
    const camDir = path.join(volume, 'cam');
    const segments = await finishedFiles(camDir);
    const bytes = await Promise.all(segments.map(async (n) => (await stat(path.join(camDir, n))).size));

    // Other data leaves free space 1.5 segments below a 40 % hard floor: covering it takes the
    // two oldest. The bucket does not exist, so nothing is archived.
    const s = await statfs(volume);
    const wanted = bytes[0]! + Math.floor(bytes[1]! / 2);
    await fillVolume(path.join(volume, 'filler'), Math.floor(0.4 * s.blocks * s.bsize) - wanted);

    // RETAIN_BYTES at a byte and a 45 % floor would delete everything; unarchived, only the hard floor may.
    const rec = await recorder(cam.url, volume, s3.archiveEnv('no-such-bucket', { ARCHIVE_HARD_MIN_FREE_PERCENT: '40' }), ['--idle', '--min-free-percent', '45', '--retain-bytes', '1']);
    const status = (await rec.json<Status>('GET', '/record/status')).body;
    const metrics = await (await fetch(`${rec.baseUrl}/metrics`)).text();
    await rec.stop();
    expect(status.counters.segmentsLost).toBe(2);
    expect(metrics).toMatch(/shifu_rtsp_segments_lost_total\{device="cam"\} 2/);
    expect(rec.output().match(/retention deleted a segment that was not archived yet: free space is below the hard floor/g)).toHaveLength(2);
    const deletions = (await records(volume)).flatMap((r) => (r.kind === 'deletion' ? [[r.deletion.deleted, r.deletion.reason]] : []));
    expect(deletions).toEqual(segments.slice(0, 2).map((n) => [`cam/${n}`, 'hard-floor']));
    // Nothing else goes: the rest is not archived, and neither the byte limit nor the 45 % floor touches it.
    expect(await finishedFiles(camDir)).toEqual(segments.slice(2));
  });
});
