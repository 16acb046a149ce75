// The archive through a bucket outage (issue 25): the S3 server stopped for 60 s mid-recording. Recording goes on,
// uploads queue in the journal, and once the server is back they drain: every segment ends in the bucket once,
// with its sha256. A watch (a minute of waiting), so it runs in the e2e-watch project.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ArchiveStatus } from '../../functions/archive/index.js';
import { startGstCamera } from './fixtures/camera.js';
import { startCli } from './support/recorder-process.js';
import { journalRecordsOf } from '../support/journal.js';
import { useScratch } from '../support/scratch.js';
import { TEST_PREFIX, useS3Server } from '../support/s3-server.js';

interface Status {
  state: string;
  counters: { segmentsFinished: number };
  archive: ArchiveStatus;
}

const OUTAGE_MS = 60_000;
const scratch = useScratch('shifu-archive-outage-');
const s3 = useS3Server();

describe('archive through a bucket outage', () => {
  it('records through 60 s without the S3 server, then uploads every segment once, with its sha256', async () => {
    await s3.createBucket('footage');
    const out = path.join(scratch.dir, 'rec');
    const cam = await startGstCamera({ gop: 10, fps: 10 });
    scratch.defer(() => cam.stop());
    const env = s3.archiveEnv('footage');
    const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '2', '--no-align-to-clock'];
    const rec = await startCli('recorder', args, env);
    scratch.defer(() => rec.stop('SIGKILL'));
    await rec.waitFor<Status>('/record/status', (s) => s.archive.counters.archived >= 2, 60_000);

    await s3.stop();
    const down = await rec.waitFor<Status>('/record/status', (s) => s.archive.state === 'archive-error', 30_000);
    expect(down.archive.lastError).toMatchObject({ kind: 'unreachable', message: expect.stringContaining(`cannot reach the S3 server ${s3.endpoint}`) });
    const finishedAtOutage = down.counters.segmentsFinished;
    // The outage is the scenario: the recorder is watched all through it, and never stops recording.
    const until = Date.now() + OUTAGE_MS;
    while (Date.now() < until) {
      const { body } = await rec.json<Status>('GET', '/record/status');
      expect(body.state).toBe('recording');
      await new Promise((r) => setTimeout(r, 1000));
    }
    const before = (await rec.json<Status>('GET', '/record/status')).body;
    expect(before.counters.segmentsFinished).toBeGreaterThanOrEqual(finishedAtOutage + 20);
    expect(before.archive.pending).toBeGreaterThanOrEqual(20);

    await s3.start();
    // Backoff is at most 30 s: the queue drains once it retries.
    const drained = await rec.waitFor<Status>('/record/status', (s) => s.archive.state === 'archiving' && s.archive.counters.archived >= before.counters.segmentsFinished, 90_000);
    // Caught up, the archive writes the day files and journals its records at most once a minute: the next two
    // segments are uploaded and wait for that. A graceful stop journals them too, leaving the next start nothing to
    // find in the bucket again.
    const uploaded = await rec.waitFor<Status>('/record/status', (s) => s.archive.counters.archived >= drained.archive.counters.archived + 2, 30_000);
    await rec.stop();
    const atStop = await journalRecordsOf(out, 'cam');
    expect(atStop.filter((r) => r.kind === 'archive').length).toBeGreaterThanOrEqual(uploaded.archive.counters.archived);
    // The segment the stop closed is archived by the next start.
    const again = await startCli('recorder', [...args, '--idle'], env);
    scratch.defer(() => again.stop('SIGKILL'));
    await again.waitFor<Status>('/record/status', (s) => s.archive.caughtUpAt !== null, 60_000);
    await again.stop();

    const records = await journalRecordsOf(out, 'cam');
    const segments = records.flatMap((r) => (r.kind === 'segment' ? [r.segment] : []));
    const archived = records.flatMap((r) => (r.kind === 'archive' ? [r.archive.archived] : []));
    // Once each: one archive record per segment, and the bucket holds exactly the journaled segments.
    expect(archived.sort()).toEqual(segments.map((s) => s.file).sort());
    // Beside the segments, the timeline's day files (test/e2e/archive-timeline.test.ts checks what they hold).
    const footage = (await s3.objects('footage')).filter((o) => !o.key.startsWith(`${TEST_PREFIX}cam/timeline/`));
    expect(footage.map((o) => o.key).sort()).toEqual(segments.map((s) => `${TEST_PREFIX}cam/${path.posix.basename(s.file)}`).sort());
    expect(footage.map((o) => o.size).reduce((a, b) => a + b, 0)).toBe(segments.reduce((a, s) => a + s.bytes, 0));
    // An object uploaded after the outage carries its sha256.
    const queued = segments.find((s) => Date.parse(s.endTime) > Date.parse(down.archive.lastError!.at) + 10_000)!;
    const head = JSON.parse(await s3.aws(['s3api', 'head-object', '--bucket', 'footage', '--key', `${TEST_PREFIX}cam/${path.posix.basename(queued.file)}`])) as { Metadata: Record<string, string> };
    expect(head.Metadata.sha256).toBe(queued.sha256);
  });
});
