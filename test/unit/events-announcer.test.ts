import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  attachEvents,
  segmentEventId,
  startLocalSink,
  type AnnouncedEvent,
  type Announcer,
  type EventConfig,
} from '../../functions/events/index.js';
import { createLogger, diskFs, type DurableFs } from '../../functions/lib/index.js';
import { Recorder, parseCameraAddress, type Segment } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';

const log = createLogger('test', 'silent');
let out: string;
const cleanups: Array<() => Promise<unknown>> = [];
beforeEach(async () => {
  out = await mkdtemp(path.join(os.tmpdir(), 'shifu-announcer-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await rm(out, { recursive: true, force: true });
});

function recorder(device = 'cam1'): Recorder {
  return new Recorder(
    {
      device,
      camera: parseCameraAddress('rtsp://127.0.0.1:9/stream'),
      out,
      segmentSeconds: 3,
      format: 'mp4',
      audio: 'auto',
      transport: 'tcp',
      alignToClock: false,
      watchdogSeconds: 10,
      retention: { retainHours: 0, retainBytes: 0, minFreePercent: 0 },
      ffmpeg: 'ffmpeg',
      ffprobe: 'ffprobe',
    },
    log,
  );
}

function segment(sequence: number, extra: Partial<Segment> = {}): Segment {
  const start = `2026-11-24T10:00:${String(sequence).padStart(2, '0')}.000Z`;
  return segmentFixture({ device: 'cam1', start, seconds: 3, root: out }, { sequence, bytes: 1000 + sequence, sha256: String(sequence % 10).repeat(64), ...extra });
}

async function sink() {
  const received: AnnouncedEvent[] = [];
  const s = await startLocalSink({ port: 0, onEvent: (e) => void received.push(e) });
  cleanups.push(() => s.close());
  return {
    url: s.url,
    received,
    async waitFor(n: number): Promise<void> {
      const deadline = Date.now() + 8000;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`sink got ${received.length} of ${n} events`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

function config(sinkUrl: string | undefined, extra: Partial<EventConfig> = {}): EventConfig {
  return { sink: sinkUrl, eventMode: 'binary', namespace: 'video', ceOverrides: undefined, eventFlushSeconds: 2, outboxRescanSeconds: 0, ...extra };
}

async function attach(rec: Recorder, cfg: EventConfig): Promise<Announcer> {
  const announcer = await attachEvents(rec, cfg, log, { backoff: { baseMs: 20, maxMs: 50 } });
  cleanups.push(() => announcer.close());
  return announcer;
}

/** A journal and segment files as the recorder's store leaves them. */
async function journaled(segments: Segment[], present = (_s: Segment) => true): Promise<void> {
  const stateDir = path.join(out, '.shifu-rtsp', 'cam1');
  await mkdir(stateDir, { recursive: true });
  await mkdir(path.join(out, 'cam1'), { recursive: true });
  await writeFile(path.join(stateDir, 'segments.jsonl'), segments.map((s) => `${JSON.stringify(s)}\n`).join(''));
  for (const s of segments) if (present(s)) await writeFile(path.join(out, s.file), 'media');
}

/**
 * What the recorder's store does before the recorder signals a segment: the journal's line (fsynced there), then
 * the file under its final name. The announcer reads the segment from the journal; the signal only says when.
 */
function finish(rec: Recorder, s: Segment): void {
  mkdirSync(path.join(out, '.shifu-rtsp', 'cam1'), { recursive: true });
  mkdirSync(path.join(out, 'cam1'), { recursive: true });
  appendFileSync(path.join(out, '.shifu-rtsp', 'cam1', 'segments.jsonl'), `${JSON.stringify(s)}\n`);
  writeFileSync(path.join(out, s.file), 'media');
  rec.events.emit('segment', s);
}

describe('announcer: what the recorder does becomes CloudEvents at the sink', () => {
  it('announces a finished segment with overrides, in structured mode, and counts it in the metrics', async () => {
    const s = await sink();
    const rec = recorder();
    const announcer = await attach(rec, config(s.url, { eventMode: 'structured', ceOverrides: { team: 'video' } }));
    const registry = new Registry();
    announcer.metrics(registry);
    finish(rec, segment(1));
    await s.waitFor(1);
    const [first] = s.received;
    expect(first?.type).toBe('dev.shifu.rtsp.segment.finished.v1');
    expect(first?.event.id).toBe(segmentEventId(segment(1)));
    expect(first?.event.source).toBe('/shifu-rtsp/namespaces/video/devices/cam1');
    expect(first?.event.team).toBe('video');
    expect(first?.data).toMatchObject({ file: segment(1).file, bytes: 1001, sequence: 1 });
    await announcer.close();
    const text = await registry.metrics();
    expect(text).toContain('shifu_rtsp_events_delivered_total{device="cam1"} 1');
    expect(text).toContain('shifu_rtsp_events_pending{device="cam1"} 0');
  });

  it('announces started, interrupted and stopped in order with the segments between', async () => {
    const s = await sink();
    const rec = recorder();
    const announcer = await attach(rec, config(s.url));
    rec.events.emit('state', 'connecting', null);
    rec.events.emit('state', 'recording', null);
    finish(rec, segment(1));
    rec.events.emit('state', 'reconnecting', { kind: 'unreachable', message: 'Connection refused' });
    rec.events.emit('state', 'recording', null);
    finish(rec, segment(2, { gapBeforeSeconds: 4 }));
    rec.events.emit('state', 'idle', null);
    await announcer.close();
    const seen = s.received.map((e) => (e.type === 'dev.shifu.rtsp.recorder.state.v1' ? `${e.data.change}:${e.data.state}` : e.type === 'dev.shifu.rtsp.segment.finished.v1' ? `segment ${e.data.sequence}` : e.type));
    expect(seen).toEqual(['started:recording', 'segment 1', 'interrupted:reconnecting', 'started:recording', 'segment 2', 'stopped:idle']);
    const interrupted = s.received[2];
    expect(interrupted?.data).toMatchObject({ previousState: 'recording', reason: 'unreachable', message: 'Connection refused' });
  });

  it('queues journaled segments that never got an event (a crash between journal and outbox), skipping deleted files', async () => {
    const s = await sink();
    // First start with a sink: the cursor is set at the journal's end.
    await journaled([segment(1)]);
    await (await attach(recorder(), config(s.url))).close();
    expect(s.received).toHaveLength(0);
    // Segments 2-4 were journaled by a run that died before queueing their events; 3 was deleted by retention.
    await journaled([segment(1), segment(2), segment(3), segment(4)], (seg) => seg.sequence !== 3);
    const rec = recorder();
    await attach(rec, config(s.url));
    await s.waitFor(2);
    finish(rec, segment(5));
    await s.waitFor(3);
    expect(s.received.map((e) => (e.type === 'dev.shifu.rtsp.segment.finished.v1' ? e.data.sequence : -1))).toEqual([2, 4, 5]);
  });

  it('does not announce the same journaled segment twice when the recorder emits it after the replay', async () => {
    const s = await sink();
    await journaled([]);
    await (await attach(recorder(), config(s.url))).close();
    await journaled([segment(1)]);
    const rec = recorder();
    const announcer = await attach(rec, config(s.url));
    rec.events.emit('segment', segment(1));
    finish(rec, segment(2));
    await announcer.close();
    expect(s.received.map((e) => e.event.id)).toEqual([segmentEventId(segment(1)), segmentEventId(segment(2))]);
  });

  it('announces the last segment even when close follows its emit at once', async () => {
    const s = await sink();
    const rec = recorder();
    const announcer = await attach(rec, config(s.url));
    finish(rec, segment(7));
    rec.events.emit('state', 'idle', null);
    await announcer.close();
    expect(s.received.map((e) => e.type)).toEqual(['dev.shifu.rtsp.segment.finished.v1']);
  });

  it('queues a segment whose event could not be written at the next segment, in order, without a restart', async () => {
    const s = await sink();
    // The outbox's first write fails (a full or read-only volume for a moment); the ones after it work.
    let failures = 1;
    const flaky: DurableFs = {
      ...diskFs,
      writeSynced: async (file, data) => {
        if (file.includes(`${path.sep}outbox${path.sep}`) && !file.endsWith('journal-cursor.json.tmp') && failures-- > 0) throw new Error('EIO: the volume refused the write');
        return diskFs.writeSynced(file, data);
      },
    };
    const rec = recorder();
    const announcer = await attachEvents(rec, config(s.url), log, { backoff: { baseMs: 20, maxMs: 50 }, fs: flaky });
    cleanups.push(() => announcer.close());
    finish(rec, segment(1));
    finish(rec, segment(2));
    await s.waitFor(2);
    expect(s.received.map((e) => (e.type === 'dev.shifu.rtsp.segment.finished.v1' ? e.data.sequence : -1))).toEqual([1, 2]);
  });

  it('without a sink queues nothing and creates no outbox', async () => {
    const rec = recorder();
    const announcer = await attach(rec, config(undefined));
    expect(announcer.sink).toBeNull();
    rec.events.emit('segment', segment(1));
    await announcer.close();
    expect(existsSync(path.join(out, '.shifu-rtsp', 'cam1', 'outbox'))).toBe(false);
    expect(await readdir(out)).toEqual([]);
  });
});
