import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudEvent } from 'cloudevents';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  eventSource,
  parseAnnouncedEvent,
  recorderStateEvent,
  segmentFinishedEvent,
  toHttpMessage,
  type SegmentFinishedData,
} from '../../functions/events/index.js';
import type { Segment } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';
import { startGstCamera } from './fixtures/camera.js';
import { freePort, startCli } from './support/recorder-process.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FUNCTIONS_FRAMEWORK = path.join(repoRoot, 'node_modules/@google-cloud/functions-framework/build/src/main.js');
const SUBSCRIBER = path.join(repoRoot, 'dist/functions/subscriber/index.js');

let tmp: string;
const cleanups: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'shifu-subscriber-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The sample subscriber as Knative runs it: the functions-framework CLI loading the built module. */
async function startSubscriber(indexFile: string): Promise<{ url: string; output: () => string }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [FUNCTIONS_FRAMEWORK, '--target=segmentIndex', '--signature-type=cloudevent', `--source=${SUBSCRIBER}`, `--port=${port}`],
    { env: { ...process.env, INDEX_FILE: indexFile }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  cleanups.push(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`functions-framework exited:\n${out}`);
    const up = await fetch(url, { method: 'GET' }).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`functions-framework did not listen:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, output: () => out };
}

async function post(url: string, event: CloudEvent<unknown>, mode: 'binary' | 'structured'): Promise<number> {
  const message = toHttpMessage(event, mode);
  const res = await fetch(url, { method: 'POST', headers: message.headers, body: message.body });
  await res.text();
  return res.status;
}

async function indexLines(file: string): Promise<CloudEvent<unknown>[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => new CloudEvent<unknown>(JSON.parse(l) as Record<string, unknown>));
}

/** Segment `sequence` of cam, one a second from 10:00:00 (each its own file), 3 s of H.264 and AAC. */
function segment(sequence: number): Segment {
  return segmentFixture(
    { device: 'cam', start: Date.parse('2026-11-24T10:00:00.000Z') + sequence * 1000, seconds: 3 },
    { sequence, bytes: 4096, sha256: String(sequence).repeat(64).slice(0, 64), audio: { codec: 'aac', transcodedFrom: 'pcm_alaw' } },
  );
}

describe('sample subscriber (functions-framework, target segmentIndex)', () => {
  it('indexes each segment event once, in either mode, ignores state events and refuses broken ones', async () => {
    const indexFile = path.join(tmp, 'one', 'index.jsonl');
    const fn = await startSubscriber(indexFile);
    const source = eventSource('default', 'cam');
    const a = segmentFinishedEvent(segment(1), source);
    const b = segmentFinishedEvent(segment(2), source);
    expect(await post(fn.url, a, 'binary')).toBeLessThan(300);
    expect(await post(fn.url, a, 'structured')).toBeLessThan(300);
    expect(await post(fn.url, b, 'structured')).toBeLessThan(300);
    const state = recorderStateEvent({ device: 'cam', change: 'started', previous: 'connecting', next: 'recording', failure: null, at: new Date() }, source);
    expect(await post(fn.url, state, 'binary')).toBeLessThan(300);
    const broken = a.cloneWith({ id: 'broken', data: { ...segment(3), bytes: -1 } });
    expect(await post(fn.url, broken, 'binary')).toBeGreaterThanOrEqual(400);

    const lines = await indexLines(indexFile);
    expect(lines.map((e) => e.id)).toEqual([a.id, b.id]);
    for (const line of lines) {
      expect(line.validate()).toBe(true);
      expect(parseAnnouncedEvent(line).type).toBe('dev.shifu.rtsp.segment.finished.v1');
    }
    expect(fn.output()).toMatch(/data\.bytes/);
  });

  it('remembers indexed ids across a restart of the function', async () => {
    const indexFile = path.join(tmp, 'two', 'index.jsonl');
    const source = eventSource('default', 'cam');
    const a = segmentFinishedEvent(segment(1), source);
    const first = await startSubscriber(indexFile);
    expect(await post(first.url, a, 'binary')).toBeLessThan(300);
    await cleanups.pop()?.();
    const second = await startSubscriber(indexFile);
    expect(await post(second.url, a, 'binary')).toBeLessThan(300);
    expect((await indexLines(indexFile)).map((e) => e.id)).toEqual([a.id]);
  });

  it('indexes every segment a real recorder finishes when it is the recorder’s sink', async () => {
    const cam = await startGstCamera({ video: 'h264', audio: 'pcma' });
    cleanups.push(() => cam.stop());
    const indexFile = path.join(tmp, 'live', 'index.jsonl');
    const fn = await startSubscriber(indexFile);
    const out = path.join(tmp, 'live-out');
    const rec = await startCli('recorder', ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '3', '--no-align-to-clock', '--sink', fn.url]);
    cleanups.push(() => rec.stop('SIGKILL'));
    await rec.waitFor<{ lastSegment: unknown }>('/record/status', (s) => s.lastSegment !== null, 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await rec.stop('SIGTERM')).toBe(0);
    const files = (await readdir(path.join(out, 'cam'))).filter((n) => !n.startsWith('.')).map((n) => `cam/${n}`).sort();
    const indexed = (await indexLines(indexFile)).map((e) => (e.data as SegmentFinishedData).file).sort();
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(indexed).toEqual(files);
  });
});
