// The playback server reads only what a recorder wrote under each device folder: a symlink on the volume
// (to a file, or a device folder that is one) is not footage, so no route serves or cuts what it points at;
// a clip format named like an Object.prototype member is a 400, not a 500.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../functions/lib/index.js';
import { Library, serveFile, startPlaybackServer, type Footage } from '../../functions/playback/index.js';
import { appendToJournal, journalPathOf, type Segment } from '../../functions/recorder/index.js';
import { useScratch } from '../support/scratch.js';
import { segmentFixture } from '../support/segment.js';

const scratch = useScratch('shifu-playback-volume-');
const SECRET = 'the contents of a file outside the device folder';

/** A 10 s segment of `device` at `hour`:00 on 2026-11-24 (`<device>_20261124T<hour>0000Z.mp4`). */
function segment(device: string, hour: number): Segment {
  return segmentFixture({ device, start: `2026-11-24T${String(hour).padStart(2, '0')}:00:00.000Z`, seconds: 10 }, { sequence: hour });
}

async function journal(root: string, device: string, entries: Segment[]): Promise<void> {
  await mkdir(path.dirname(journalPathOf(root, device)), { recursive: true });
  for (const entry of entries) await appendToJournal(journalPathOf(root, device), entry);
}

/** A volume with a real segment of cam1, a link of cam1 to a file outside, and cam2 a link to a folder outside. */
async function volume(): Promise<{ root: string; base: string }> {
  const root = path.join(scratch.dir, `root-${Math.random().toString(36).slice(2)}`);
  const outside = path.join(scratch.dir, `outside-${Math.random().toString(36).slice(2)}`);
  await mkdir(path.join(root, 'cam1'), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(outside, 'secret.txt'), SECRET);
  await writeFile(path.join(root, 'cam1', 'cam1_20261124T100000Z.mp4'), 'x'.repeat(100));
  await symlink(path.join(outside, 'secret.txt'), path.join(root, 'cam1', 'cam1_20261124T110000Z.mp4'));
  await journal(root, 'cam1', [segment('cam1', 10), segment('cam1', 11)]);
  // cam2's folder is a link to a folder outside the root, holding a "segment" that is the secret.
  await mkdir(path.join(outside, 'cam2'));
  await writeFile(path.join(outside, 'cam2', 'cam2_20261124T100000Z.mp4'), SECRET);
  await symlink(path.join(outside, 'cam2'), path.join(root, 'cam2'));
  await journal(root, 'cam2', [segment('cam2', 10)]);

  const server = await startPlaybackServer(
    { root, listen: { host: '127.0.0.1', port: 0 }, token: undefined, maxClipSeconds: 3600, ffmpeg: '/nonexistent/ffmpeg', ffprobe: '/nonexistent/ffprobe' },
    pino({ level: 'silent' }),
  );
  scratch.defer(() => server.close());
  return { root, base: `http://127.0.0.1:${server.port}` };
}

/** A library that vouches for any journaled name: as if a link was put in place after the journal was read. */
class SwappedLibrary extends Library {
  override async file(device: string, name: string): Promise<Footage> {
    const hour = Number(name.slice(device.length + 10, device.length + 12));
    const s = segment(device, hour);
    return { segment: s, name, path: path.join(this.root, device, name), startMs: Date.parse(s.startTime), endMs: Date.parse(s.endTime) };
  }
}

describe('playback on a volume with symlinks', () => {
  it('serves the real segment and never what a symlinked file or device folder points at', async () => {
    const { base } = await volume();
    const real = await fetch(`${base}/files/cam1/cam1_20261124T100000Z.mp4`);
    expect(real.status).toBe(200);
    expect(await real.text()).toBe('x'.repeat(100));
    // Ranges still work on the file as opened (by its fd).
    const part = await fetch(`${base}/files/cam1/cam1_20261124T100000Z.mp4`, { headers: { range: 'bytes=10-19' } });
    expect([part.status, part.headers.get('content-range'), (await part.text()).length]).toEqual([206, 'bytes 10-19/100', 10]);

    for (const file of ['cam1/cam1_20261124T110000Z.mp4', 'cam2/cam2_20261124T100000Z.mp4']) {
      const res = await fetch(`${base}/files/${file}`);
      const text = await res.text();
      expect(text, file).not.toContain(SECRET);
      expect(res.status, file).toBe(404);
    }
  });

  it('does not follow a link put in place of a segment or its device folder after the journal was read', async () => {
    const { root } = await volume();
    const library = new SwappedLibrary(root);
    const server = http.createServer((req, res) => {
      serveFile(library, req, res, new URL(req.url ?? '/', 'http://localhost')).catch((err: unknown) => {
        res.writeHead(err instanceof HttpError ? err.statusCode : 500).end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    scratch.defer(() => new Promise((resolve) => server.close(resolve)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/files/cam1/cam1_20261124T100000Z.mp4`)).status).toBe(200);
    for (const file of ['cam1/cam1_20261124T110000Z.mp4', 'cam2/cam2_20261124T100000Z.mp4']) {
      const res = await fetch(`${base}/files/${file}`);
      expect(await res.text(), file).not.toContain(SECRET);
      expect(res.status, file).toBe(404);
    }
  });

  it('lists no footage behind a link: the timeline and the device list leave it out, a clip of it is a 404', async () => {
    const { base } = await volume();
    const timeline = (await (await fetch(`${base}/api/timeline?device=cam1&start=2026-11-24T00:00:00Z&end=2026-11-25T00:00:00Z`)).json()) as {
      spans: Array<{ segments: Array<{ file: string }> }>;
    };
    expect(timeline.spans.flatMap((s) => s.segments.map((g) => g.file))).toEqual(['cam1_20261124T100000Z.mp4']);
    const devices = (await (await fetch(`${base}/api/devices`)).json()) as { devices: Array<{ device: string; segments: number }> };
    expect(Object.fromEntries(devices.devices.map((d) => [d.device, d.segments]))).toEqual({ cam1: 1, cam2: 0 });
    // With ffmpeg missing, a clip that reached the cut would be a 500: the linked hour has no footage.
    const clip = await fetch(`${base}/api/clip?device=cam1&start=2026-11-24T11:00:00Z&duration=5`);
    expect(clip.status).toBe(404);
    expect((await fetch(`${base}/api/clip?device=cam2&start=2026-11-24T10:00:00Z&duration=5`)).status).toBe(404);
  });

  it('answers a clip format named like a prototype member with 400 naming format', async () => {
    const { base } = await volume();
    for (const format of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const res = await fetch(`${base}/api/clip?device=cam1&start=2026-11-24T10:00:00Z&duration=5&format=${format}`);
      expect(res.status, format).toBe(400);
      expect(await res.json(), format).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/^format: /) });
    }
  });
});

describe('a journal that cannot be read', () => {
  it('is a 503 naming the device, never a device without footage', async () => {
    const root = path.join(scratch.dir, `unreadable-${Math.random().toString(36).slice(2)}`);
    await mkdir(path.join(root, 'cam1'), { recursive: true });
    // The journal's path holds something that is not a file: reading it fails (as an I/O error would).
    await mkdir(journalPathOf(root, 'cam1'), { recursive: true });
    const library = new Library(root);
    const err = await library.footage('cam1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).statusCode).toBe(503);
    expect((err as HttpError).message).toMatch(/journal of cam1 cannot be read/);
    expect((err as HttpError).headers['retry-after']).toBe('30');
  });
});
