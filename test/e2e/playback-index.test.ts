// The playback server answers from its footage index: each journal read once and followed as it grows, a
// journal that cannot be read a 503 naming its device, retention's deletions gone from the timeline, a year of
// five-minute segments answered, and the index kept across a restart in PLAYBACK_INDEX_DIR. Synthetic volumes
// (journal lines and small files, as the recorder leaves them): no media is decoded here.
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendDeletionToJournal, appendToJournal, journalPathOf } from '../../functions/recorder/index.js';
import { useScratch } from '../support/scratch.js';
import { segmentOf, writeStandIn, writeYearVolume, YEAR_OF_FIVE_MINUTE_SEGMENTS, type YearVolumeOptions } from '../support/year-volume.js';
import { startCli, type CliProcess } from './support/recorder-process.js';

const scratch = useScratch('shifu-playback-index-e2e-');
const T0 = Date.parse('2025-12-01T00:00:00Z');

interface Devices {
  devices: Array<{ device: string; segments: number; bytes: number; firstFootage: string | null; lastFootage: string | null }>;
}
interface Timeline {
  spans: Array<{ segments: Array<{ file: string; sha256: string }> }>;
}
const files = (t: Timeline): string[] => t.spans.flatMap((s) => s.segments.map((g) => g.file));

async function volume(name: string, devices: readonly string[], segments: number): Promise<{ root: string; o: YearVolumeOptions; sizes: Map<string, number> }> {
  const root = path.join(scratch.dir, name);
  await mkdir(root, { recursive: true });
  const media = path.join(scratch.dir, `${name}.bin`);
  writeStandIn(media);
  const o: YearVolumeOptions = { devices, segments, t0: T0, media };
  return { root, o, sizes: await writeYearVolume(root, o) };
}

async function playback(root: string, env: Record<string, string> = {}): Promise<CliProcess> {
  const server = await startCli('playback', ['--root', root], env, { httpFlag: 'listen' });
  scratch.defer(() => server.stop('SIGKILL'));
  return server;
}

/** Answers until the index has read the journals (503 with Retry-After before: never an empty list). */
async function answered<T>(server: CliProcess, route: string): Promise<T> {
  for (;;) {
    const res = await fetch(`${server.baseUrl}${route}`);
    if (res.status === 200) return (await res.json()) as T;
    expect(res.status, route).toBe(503);
    expect(res.headers.get('retry-after')).not.toBeNull();
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function metric(server: CliProcess, name: string, device: string): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{device="${device}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const DAY = `start=${new Date(T0).toISOString()}&end=${new Date(T0 + 86_400_000).toISOString()}`;

describe('playback index', () => {
  it('serves a segment journaled after start-up, on the next request', async () => {
    const { root, o } = await volume('follow', ['cam1'], 3);
    const server = await playback(root);
    expect(files(await answered<Timeline>(server, `/api/timeline?device=cam1&${DAY}`))).toHaveLength(3);
    // As the recorder finishes one: the journal line first, then the file under its final name.
    const next = segmentOf(root, 'cam1', 4, o, 4096, 'd'.repeat(64));
    await appendToJournal(journalPathOf(root, 'cam1'), next);
    writeStandIn(path.join(root, next.file));
    const timeline = await answered<Timeline>(server, `/api/timeline?device=cam1&${DAY}`);
    expect(files(timeline).at(-1)).toBe(path.posix.basename(next.file));
    const file = await fetch(`${server.baseUrl}/files/${next.file}`, { headers: { range: 'bytes=0-99' } });
    expect([file.status, file.headers.get('etag'), (await file.arrayBuffer()).byteLength]).toEqual([206, `"${'d'.repeat(64)}"`, 100]);
    expect((await answered<Devices>(server, '/api/devices')).devices[0]?.segments).toBe(4);
  });

  it('answers 503 naming the device whose journal cannot be read, and counts it; other devices still answer', async () => {
    const { root } = await volume('unreadable', ['cam1'], 2);
    await mkdir(path.join(root, 'cam2'), { recursive: true });
    // Something that is not a file where cam2's journal should be: reading it fails, as an I/O error would.
    await mkdir(journalPathOf(root, 'cam2'), { recursive: true });
    const server = await playback(root);
    expect(files(await answered<Timeline>(server, `/api/timeline?device=cam1&${DAY}`))).toHaveLength(2);
    for (const route of ['/api/devices', `/api/timeline?device=cam2&${DAY}`]) {
      const res = await fetch(`${server.baseUrl}${route}`);
      const body = (await res.json()) as { error: string; message: string };
      expect([res.status, res.headers.get('retry-after'), body.error], route).toEqual([503, '30', 'journal_unreadable']);
      expect(body.message, route).toMatch(/journal of cam2 cannot be read/);
    }
    expect(await metric(server, 'shifu_rtsp_playback_journal_read_errors_total', 'cam2')).toBeGreaterThan(0);
  });

  it('takes the files retention deleted off the timeline, the device list and /files', async () => {
    const { root, o } = await volume('retention', ['cam1'], 4);
    const server = await playback(root);
    expect((await answered<Devices>(server, '/api/devices')).devices[0]?.segments).toBe(4);
    // What the recorder's retention does: delete the oldest file, then journal the deletion.
    const oldest = segmentOf(root, 'cam1', 1, o, 4096, '');
    await rm(path.join(root, oldest.file));
    await appendDeletionToJournal(journalPathOf(root, 'cam1'), { device: 'cam1', deleted: oldest.file, bytes: 4096, reason: 'age', at: new Date().toISOString() });
    const timeline = await answered<Timeline>(server, `/api/timeline?device=cam1&${DAY}`);
    expect(files(timeline)).not.toContain(path.posix.basename(oldest.file));
    expect(files(timeline)).toHaveLength(3);
    const devices = await answered<Devices>(server, '/api/devices');
    expect([devices.devices[0]?.segments, devices.devices[0]?.firstFootage]).toEqual([3, segmentOf(root, 'cam1', 2, o, 0, '').startTime]);
    expect((await fetch(`${server.baseUrl}/files/${oldest.file}`)).status).toBe(404);
    // A file deleted without a record (by hand) leaves the index when a request finds it gone.
    const second = segmentOf(root, 'cam1', 2, o, 4096, '');
    await rm(path.join(root, second.file));
    expect((await fetch(`${server.baseUrl}/files/${second.file}`)).status).toBe(404);
    expect((await answered<Devices>(server, '/api/devices')).devices[0]?.segments).toBe(2);
  });

  it('answers a year of five-minute segments, reading the journal once; after a restart from PLAYBACK_INDEX_DIR only what was appended', async () => {
    const { root, o, sizes } = await volume('year', ['cam1'], YEAR_OF_FIVE_MINUTE_SEGMENTS);
    const indexDir = path.join(scratch.dir, 'index-dir');
    let server = await playback(root, { PLAYBACK_INDEX_DIR: indexDir });
    const devices = await answered<Devices>(server, '/api/devices');
    expect(devices.devices).toEqual([
      expect.objectContaining({ device: 'cam1', segments: YEAR_OF_FIVE_MINUTE_SEGMENTS, firstFootage: new Date(T0).toISOString(), lastFootage: new Date(T0 + YEAR_OF_FIVE_MINUTE_SEGMENTS * 300_000).toISOString() }),
    ]);
    const lastDay = new Date(T0 + 364 * 86_400_000).toISOString();
    const day = await answered<Timeline>(server, `/api/timeline?device=cam1&start=${lastDay}&end=${new Date(T0 + 365 * 86_400_000).toISOString()}`);
    expect(files(day)).toHaveLength(288);
    const last = segmentOf(root, 'cam1', YEAR_OF_FIVE_MINUTE_SEGMENTS, o, 0, '');
    const range = await fetch(`${server.baseUrl}/files/${last.file}`, { headers: { range: 'bytes=0-1023' } });
    expect([range.status, (await range.arrayBuffer()).byteLength]).toEqual([206, 1024]);
    // Read once, whatever was asked: the bytes read are the journal's size.
    expect(await metric(server, 'shifu_rtsp_playback_journal_bytes_read_total', 'cam1')).toBe(sizes.get('cam1'));
    expect(await server.stop('SIGTERM')).toBe(0);

    // A segment finished while the server was down; the restart reads only its line.
    const next = segmentOf(root, 'cam1', YEAR_OF_FIVE_MINUTE_SEGMENTS + 1, o, 4096, 'e'.repeat(64));
    const line = `${JSON.stringify(next)}\n`;
    await appendFile(journalPathOf(root, 'cam1'), line);
    await writeFile(path.join(root, next.file), Buffer.alloc(4096));
    server = await playback(root, { PLAYBACK_INDEX_DIR: indexDir });
    expect((await answered<Devices>(server, '/api/devices')).devices[0]?.segments).toBe(YEAR_OF_FIVE_MINUTE_SEGMENTS + 1);
    expect(await metric(server, 'shifu_rtsp_playback_journal_bytes_read_total', 'cam1')).toBe(Buffer.byteLength(line));
    expect(files(await answered<Timeline>(server, `/api/timeline?device=cam1&start=${last.startTime}&end=${next.endTime}`))).toEqual([
      path.posix.basename(last.file),
      path.posix.basename(next.file),
    ]);
  });
});
