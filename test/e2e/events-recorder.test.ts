import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { HTTP, type CloudEvent } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { parseAnnouncedEvent, type AnnouncedEvent, type SegmentFinishedData } from '../../functions/events/index.js';
import { startGstCamera, type GstCamera } from './fixtures/camera.js';
import { type CliProcess } from './support/recorder-process.js';
import { useScratch } from '../support/scratch.js';
import { scopedTo } from './support/scoped.js';
import type { Segment } from '../../functions/recorder/index.js';
import { journalOf } from '../support/journal.js';

interface Status {
  state: string;
  lastSegment: { sequence: number; file: string } | null;
}
interface Delivery {
  status: number;
  contentType: string;
  announced: AnnouncedEvent;
}

const scratch = useScratch('shifu-events-');
const { recorder } = scopedTo(scratch);

/**
 * A real HTTP sink: every request is read back with the SDK receiver (HTTP.toEvent + validate) and our
 * schemas, then answered with the status `answer` picks. Unparseable requests fail the test.
 */
async function sink(answer: (a: AnnouncedEvent) => number) {
  const deliveries: Delivery[] = [];
  const problems: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const event = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }) as CloudEvent<unknown>;
        event.validate();
        const announced = parseAnnouncedEvent(event);
        const status = answer(announced);
        deliveries.push({ status, contentType: req.headers['content-type'] ?? '', announced });
        res.writeHead(status).end();
      } catch (err) {
        problems.push((err as Error).message);
        res.writeHead(400).end();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  scratch.defer(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  const accepted = (): AnnouncedEvent[] => deliveries.filter((d) => d.status < 300).map((d) => d.announced);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    deliveries,
    problems,
    accepted,
    /** Segment events the sink took (2xx), first arrival of each id, in arrival order. */
    segments: (): SegmentFinishedData[] => {
      const seen = new Set<string>();
      const out: SegmentFinishedData[] = [];
      for (const a of accepted()) {
        if (a.type !== 'dev.shifu.rtsp.segment.finished.v1' || seen.has(a.event.id)) continue;
        seen.add(a.event.id);
        out.push(a.data);
      }
      return out;
    },
  };
}

async function camera(): Promise<GstCamera> {
  const cam = await startGstCamera({ video: 'h264', audio: 'pcma' });
  scratch.defer(() => cam.stop());
  return cam;
}

async function pendingEvents(out: string): Promise<string[]> {
  const names = await readdir(path.join(out, '.shifu-rtsp', 'cam', 'outbox')).catch(() => [] as string[]);
  return names.filter((n) => /^\d{12}-\d{13}\.json$/.test(n));
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function until(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGKILL of the recorder and its ffmpeg together: nothing gets to flush, close or journal. */
async function killHard(proc: CliProcess): Promise<void> {
  const pid = proc.child.pid!;
  try {
    execFileSync('pkill', ['-KILL', '-P', String(pid)]);
  } catch {
    // no children left
  }
  process.kill(pid, 'SIGKILL');
  await proc.exited;
}

const recordArgs = (url: string, out: string, seconds: number): string[] => [
  '--url',
  url,
  '--out',
  out,
  '--device',
  'cam',
  '--segment-seconds',
  String(seconds),
  '--no-align-to-clock',
];

describe('events: every finished segment announced, at least once', () => {
  it('announces every file exactly once, with its size and hash, though the sink answers 503 for the first 10 s', async () => {
    const cam = await camera();
    const out = path.join(scratch.dir, 'outage');
    // The outage starts with the first event that reaches the sink, not with the test: on a loaded machine the
    // recorder's start can take 10 s by itself, and an outage over by then would be none.
    let firstAt: number | null = null;
    const s = await sink(() => {
      firstAt ??= Date.now();
      return Date.now() - firstAt < 10_000 ? 503 : 202;
    });
    const rec = await recorder([...recordArgs(cam.url, out, 3), '--sink', s.url, '--event-mode', 'binary'], {
      K_CE_OVERRIDES: '{"extensions":{"team":"video","site":"plant7"}}',
      POD_NAMESPACE: 'e2e',
    });
    await rec.waitFor<Status>('/record/status', (st) => st.state === 'recording', 30_000);
    await new Promise((r) => setTimeout(r, 12_000));
    expect(await rec.stop('SIGTERM')).toBe(0);

    const files = (await readdir(path.join(out, 'cam'))).filter((n) => !n.startsWith('.')).sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(s.deliveries.some((d) => d.status === 503)).toBe(true);
    expect(s.problems).toEqual([]);
    const accepted = s.accepted();
    for (const name of files) {
      const file = `cam/${name}`;
      const events = accepted.flatMap((a) => (a.type === 'dev.shifu.rtsp.segment.finished.v1' && a.data.file === file ? [a] : []));
      expect(new Set(events.map((e) => e.event.id)).size, file).toBe(1);
      const first = events[0]!;
      expect(first.data.bytes, file).toBe((await stat(path.join(out, file))).size);
      expect(first.data.sha256, file).toBe(await sha256(path.join(out, file)));
      expect(first.event.subject).toBe(file);
      expect(first.event.source).toBe('/shifu-rtsp/namespaces/e2e/devices/cam');
      expect(first.event.team).toBe('video');
      expect(first.event.site).toBe('plant7');
    }
    // No event for a file that is not there.
    expect(new Set(s.segments().map((d) => d.file))).toEqual(new Set(files.map((n) => `cam/${n}`)));
    expect(s.deliveries.every((d) => d.contentType.startsWith('application/json'))).toBe(true);
    const changes = accepted.flatMap((a) => (a.type === 'dev.shifu.rtsp.recorder.state.v1' ? [a.data.change] : []));
    expect(changes[0]).toBe('started');
    expect(changes.at(-1)).toBe('stopped');
    expect(await pendingEvents(out)).toEqual([]);
  });

  it('delivers, in order, every event pending at a SIGKILL after the restart, and announces the cut segment as recovered', async () => {
    const cam = await camera();
    const out = path.join(scratch.dir, 'sigkill');
    let healthy = false;
    const s = await sink(() => (healthy ? 202 : 503));
    const args = [...recordArgs(cam.url, out, 3), '--sink', s.url, '--event-mode', 'structured'];
    const first = await recorder(args);
    await until('two journaled segments with pending events', async () => (await journalOf(out, 'cam')).length >= 2 && (await pendingEvents(out)).length >= 2);
    // Kill mid-segment, with a second of fragments written (1 s fragments), away from any segment cut.
    const journaledSoFar = (await journalOf(out, 'cam')).length;
    await until('the next segment to finish', async () => (await journalOf(out, 'cam')).length > journaledSoFar);
    await new Promise((r) => setTimeout(r, 1800));
    await killHard(first);
    const before = await journalOf(out, 'cam');
    expect(s.accepted()).toEqual([]);
    const cut = (await readdir(path.join(out, 'cam', '.recording'))).filter((n) => !n.endsWith('.remuxing'));
    expect(cut).toHaveLength(1);

    healthy = true;
    const second = await recorder(args);
    await until('events for every journaled segment', async () => {
      const sequences = new Set(s.segments().map((d) => d.sequence));
      const all = await journalOf(out, 'cam');
      return all.length > before.length + 1 && all.every((j) => sequences.has(j.sequence));
    });
    expect(await second.stop('SIGTERM')).toBe(0);

    const entries = await journalOf(out, 'cam');
    const announced = s.segments();
    expect(announced.map((d) => d.sequence)).toEqual(entries.map((j) => j.sequence));
    // Order per device: the sink saw sequences rising, pending ones from before the crash first.
    const arrival = announced.map((d) => d.sequence);
    expect(arrival).toEqual([...arrival].sort((a, b) => a - b));
    const recovered = announced.filter((d) => d.recovered);
    expect(recovered).toHaveLength(1);
    const recoveredEntry = entries.find((j) => j.recovered);
    expect(recovered[0]?.sequence).toBe(recoveredEntry?.sequence);
    expect(recovered[0]?.sequence).toBe(before.length + 1);
    expect(recovered[0]?.sha256).toBe(await sha256(path.join(out, recovered[0]!.file)));
    expect(s.problems).toEqual([]);
    expect(s.deliveries.every((d) => d.contentType.startsWith('application/cloudevents+json'))).toBe(true);
    expect(await pendingEvents(out)).toEqual([]);
  });

  it('dead-letters the event a sink answers 400 to and delivers the events behind it', async () => {
    const cam = await camera();
    const out = path.join(scratch.dir, 'refused');
    let refusedId: string | null = null;
    const s = await sink((a) => {
      if (a.type !== 'dev.shifu.rtsp.segment.finished.v1') return 202;
      refusedId ??= a.event.id;
      return a.event.id === refusedId ? 400 : 202;
    });
    const rec = await recorder([...recordArgs(cam.url, out, 2), '--sink', s.url]);
    await until('two segments delivered after the refused one', () => s.segments().length >= 2);
    const metrics = await (await fetch(`${rec.baseUrl}/metrics`)).text();
    expect(await rec.stop('SIGTERM')).toBe(0);

    expect(metrics).toContain('shifu_rtsp_events_dead_lettered_total{device="cam"} 1');
    const deadLetterDir = path.join(out, '.shifu-rtsp', 'cam', 'dead-letter');
    const deadLetters = (await readdir(deadLetterDir)).sort();
    expect(deadLetters).toHaveLength(2);
    const stored = JSON.parse(await readFile(path.join(deadLetterDir, deadLetters[0]!), 'utf8')) as { id: string; data: SegmentFinishedData };
    expect(stored.id).toBe(refusedId);
    expect(stored.data.sequence).toBe(1);
    const reason = JSON.parse(await readFile(path.join(deadLetterDir, deadLetters[1]!), 'utf8')) as { status: number };
    expect(reason.status).toBe(400);
    const delivered = s.segments().map((d) => d.sequence);
    expect(delivered[0]).toBe(2);
    expect(delivered).toEqual([...delivered].sort((a, b) => a - b));
    expect(rec.output()).toMatch(/dead-lettered/);
  });
});
