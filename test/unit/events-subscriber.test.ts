import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventSource, segmentFinishedEvent } from '../../functions/events/index.js';
import type { Segment } from '../../functions/recorder/index.js';
import { SegmentIndex, indexSegmentEvent } from '../../functions/subscriber/index.js';
import { segmentFixture } from '../support/segment.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-index-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const segment = (sequence: number): Segment =>
  segmentFixture({ device: 'cam', start: Date.UTC(2026, 10, 24, 10) + sequence * 3000, seconds: 3 }, { sequence, bytes: 10, sha256: 'f'.repeat(64) });
const source = eventSource('default', 'cam');

async function ids(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

describe('segment index', () => {
  it('appends each event id once, even when two replicas share the file', async () => {
    const file = path.join(dir, 'nested', 'index.jsonl');
    const one = new SegmentIndex(file);
    const two = new SegmentIndex(file);
    const a = segmentFinishedEvent(segment(1), source);
    const b = segmentFinishedEvent(segment(2), source);
    expect(await one.add(a)).toBe(true);
    expect(await two.add(a)).toBe(false);
    expect(await two.add(b)).toBe(true);
    expect(await one.add(b)).toBe(false);
    expect(await ids(file)).toEqual([a.id, b.id]);
  });

  it('takes the plain event object functions-framework passes (binary mode: no datacontenttype)', async () => {
    const file = path.join(dir, 'index.jsonl');
    const event = segmentFinishedEvent(segment(3), source);
    const plain = { specversion: '1.0', id: event.id, type: event.type, source: event.source, subject: event.subject, time: event.time, data: event.data };
    expect(await indexSegmentEvent(plain, file)).toBe('indexed');
    expect(await indexSegmentEvent(plain, file)).toBe('duplicate');
    const other = { ...plain, id: 'x', type: 'dev.shifu.rtsp.recorder.state.v1', data: { device: 'cam', change: 'started', state: 'recording', at: '2026-11-24T10:00:00.000Z' } };
    expect(await indexSegmentEvent(other, file)).toBe('ignored');
    await expect(indexSegmentEvent({ ...plain, id: 'y', data: { ...plain.data, sha256: 'short' } }, file)).rejects.toThrow(/data\.sha256/);
    expect(await ids(file)).toEqual([event.id]);
  });
});
