import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CloudEvent } from 'cloudevents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Dispatcher,
  Outbox,
  Sink,
  classifyResponse,
  fromHttpMessage,
  parseRetryAfter,
} from '../../functions/events/index.js';
import { createLogger, diskFs, type DurableFs } from '../../functions/lib/index.js';

const log = createLogger('test', 'silent');
/** So long that a test passes only if the sink's Retry-After, not our backoff, set the wait. */
const GLACIAL = { baseMs: 600_000, maxMs: 600_000 };
const QUICK = { baseMs: 20, maxMs: 50 };

interface Answer {
  status: number;
  headers?: Record<string, string>;
}
interface Received {
  id: string;
  event: CloudEvent<unknown>;
}

/** A real HTTP sink whose answers a test scripts, recording every request it got. */
async function scriptedSink(answer: (n: number, req: Received) => Answer) {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const event = fromHttpMessage(req.headers, Buffer.concat(chunks).toString('utf8'));
      const received = { id: event.id, event };
      requests.push(received);
      const a = answer(requests.length, received);
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.status >= 400 ? `status ${a.status}` : '');
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    requests,
    ids: () => requests.map((r) => r.id),
    async waitFor(n: number, timeoutMs = 8000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < n) {
        if (Date.now() > deadline) throw new Error(`sink got ${requests.length} of ${n} requests`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A sink address where nothing listens: connections are refused. */
async function refusedUrl(): Promise<string> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/`;
}

function event(id: string): CloudEvent<unknown> {
  return new CloudEvent({ id, type: 'dev.shifu.rtsp.segment.finished.v1', source: '/shifu-rtsp/namespaces/default/devices/cam1', datacontenttype: 'application/json', data: { n: id } });
}

let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-outbox-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function setup(sinkUrl: string, options: { fs?: DurableFs; backoff?: typeof QUICK } = {}) {
  const outbox = await Outbox.open({ dir: path.join(dir, 'outbox'), deadLetterDir: path.join(dir, 'dead-letter'), ...(options.fs ? { fs: options.fs } : {}) });
  const dispatcher = new Dispatcher({ outbox, sink: new Sink({ url: sinkUrl, mode: 'binary', extensions: {} }), log, backoff: options.backoff ?? QUICK });
  cleanups.push(() => dispatcher.close(100));
  return { outbox, dispatcher };
}

async function until(predicate: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('outbox: durable before delivery', () => {
  it('writes and fsyncs the event file, renames it in place and fsyncs the folder before the sink sees it', async () => {
    const ops: string[] = [];
    const recording: DurableFs = {
      writeSynced: async (f, d) => {
        await diskFs.writeSynced(f, d);
        ops.push(`write+fsync ${path.basename(f)}`);
      },
      rename: async (a, b) => {
        await diskFs.rename(a, b);
        ops.push(`rename ${path.basename(a)} -> ${path.basename(b)}`);
      },
      syncDir: async (d) => {
        await diskFs.syncDir(d);
        ops.push(`fsync dir ${path.basename(d)}`);
      },
      unlink: async (f) => {
        await diskFs.unlink(f);
        ops.push(`unlink ${path.basename(f)}`);
      },
    };
    let onDiskWhenSent = false;
    const sink = await scriptedSink(() => {
      ops.push('sink received');
      onDiskWhenSent = existsSync(path.join(dir, 'outbox', outbox.head()?.name ?? 'none'));
      return { status: 202 };
    });
    cleanups.push(sink.close);
    const { outbox, dispatcher } = await setup(sink.url, { fs: recording });
    dispatcher.start();
    const entry = await outbox.enqueue(event('a'));
    dispatcher.wake();
    await sink.waitFor(1);
    await until(() => outbox.size === 0);
    expect(ops).toEqual([
      `write+fsync ${entry.name}.tmp`,
      `rename ${entry.name}.tmp -> ${entry.name}`,
      'fsync dir outbox',
      'sink received',
      `unlink ${entry.name}`,
    ]);
    expect(onDiskWhenSent).toBe(true);
    expect(await readdir(path.join(dir, 'outbox'))).toEqual([]);
  });

  it('names files so that they sort in enqueue order, also after a restart, and drops half-written ones', async () => {
    const first = await setup(await refusedUrl());
    const a = await first.outbox.enqueue(event('a'));
    const b = await first.outbox.enqueue(event('b'));
    await writeFile(path.join(dir, 'outbox', '000000000099-0000000000000.json.tmp'), '{"torn');
    const again = await Outbox.open({ dir: path.join(dir, 'outbox'), deadLetterDir: path.join(dir, 'dead-letter') });
    expect(again.size).toBe(2);
    expect(again.head()?.name).toBe(a.name);
    const c = await again.enqueue(event('c'));
    const names = (await readdir(path.join(dir, 'outbox'))).sort();
    expect(names).toEqual([a.name, b.name, c.name]);
    expect((await again.read(c)).id).toBe('c');
  });
});

describe('delivery: order, retries, refusals', () => {
  it('delivers a device’s events oldest first, one at a time, retrying a 5xx before moving on', async () => {
    const sink = await scriptedSink((n) => ({ status: n <= 2 ? 500 : 202 }));
    cleanups.push(sink.close);
    const { outbox, dispatcher } = await setup(sink.url);
    for (const id of ['a', 'b', 'c']) await outbox.enqueue(event(id));
    dispatcher.start();
    await sink.waitFor(5);
    await until(() => outbox.size === 0);
    expect(sink.ids()).toEqual(['a', 'a', 'a', 'b', 'c']);
    expect(dispatcher.counters).toEqual({ delivered: 3, retried: 2, refused: 0, deadLettered: 0 });
  });

  it('keeps the event and retries while the sink refuses connections', async () => {
    const { outbox, dispatcher } = await setup(await refusedUrl());
    await outbox.enqueue(event('a'));
    dispatcher.start();
    await until(() => dispatcher.counters.retried >= 2);
    expect(outbox.size).toBe(1);
    expect(dispatcher.counters).toMatchObject({ delivered: 0, deadLettered: 0 });
  });

  it.each([
    [503, '1'],
    [429, 'HTTP date'],
  ])('waits as long as Retry-After says on %i (%s), not its own backoff', async (status, form) => {
    const retryAfter = form === 'HTTP date' ? new Date(Date.now() + 2000).toUTCString() : form;
    const sink = await scriptedSink((n) => (n === 1 ? { status, headers: { 'retry-after': retryAfter } } : { status: 202 }));
    cleanups.push(sink.close);
    // With a 10-minute backoff the event arrives within the test only if Retry-After was used.
    const { outbox, dispatcher } = await setup(sink.url, { backoff: GLACIAL });
    await outbox.enqueue(event('a'));
    dispatcher.start();
    await sink.waitFor(2);
    await until(() => outbox.size === 0);
    expect(sink.ids()).toEqual(['a', 'a']);
  });

  it('dead-letters an event the sink refuses with 400, with the reason beside it, and delivers the ones behind it', async () => {
    const sink = await scriptedSink((_n, r) => ({ status: r.id === 'a' ? 400 : 202 }));
    cleanups.push(sink.close);
    const { outbox, dispatcher } = await setup(sink.url, { backoff: GLACIAL });
    const a = await outbox.enqueue(event('a'));
    await outbox.enqueue(event('b'));
    await outbox.enqueue(event('c'));
    dispatcher.start();
    await sink.waitFor(3);
    await until(() => outbox.size === 0);
    expect(sink.ids()).toEqual(['a', 'b', 'c']);
    const deadLetters = (await readdir(path.join(dir, 'dead-letter'))).sort();
    expect(deadLetters).toEqual([a.name, a.name.replace(/\.json$/, '.reason.json')]);
    const stored = JSON.parse(await readFile(path.join(dir, 'dead-letter', a.name), 'utf8')) as { id: string };
    expect(stored.id).toBe('a');
    const reason = JSON.parse(await readFile(path.join(dir, 'dead-letter', deadLetters[1] ?? ''), 'utf8')) as { status: number; detail: string; sink: string };
    expect(reason).toMatchObject({ status: 400, sink: sink.url });
    expect(reason.detail).toContain('400');
    expect(dispatcher.counters).toEqual({ delivered: 2, retried: 0, refused: 0, deadLettered: 1 });
  });

  it('moves an unreadable event file aside instead of blocking the queue', async () => {
    const sink = await scriptedSink(() => ({ status: 202 }));
    cleanups.push(sink.close);
    const first = await setup(sink.url);
    const broken = await first.outbox.enqueue(event('a'));
    await first.outbox.enqueue(event('b'));
    await writeFile(path.join(dir, 'outbox', broken.name), 'not json');
    const { outbox, dispatcher } = await setup(sink.url);
    dispatcher.start();
    await sink.waitFor(1);
    await until(() => outbox.size === 0);
    expect(sink.ids()).toEqual(['b']);
    expect(await readdir(path.join(dir, 'dead-letter'))).toContain(broken.name);
  });

  it('stops sending after 410 Gone and keeps every event on disk', async () => {
    const sink = await scriptedSink(() => ({ status: 410 }));
    cleanups.push(sink.close);
    const { outbox, dispatcher } = await setup(sink.url);
    await outbox.enqueue(event('a'));
    dispatcher.start();
    await sink.waitFor(1);
    await until(() => dispatcher.sinkGone);
    await outbox.enqueue(event('b'));
    dispatcher.wake();
    await dispatcher.close(1000);
    expect(sink.ids()).toEqual(['a']);
    expect(outbox.size).toBe(2);
    expect((await readdir(path.join(dir, 'outbox'))).filter((n) => n.endsWith('.json'))).toHaveLength(2);
    expect(dispatcher.counters.deadLettered).toBe(0);
  });

  it('delivers what was pending before a restart, oldest first, then new events', async () => {
    const down = await setup(await refusedUrl());
    await down.outbox.enqueue(event('a'));
    await down.outbox.enqueue(event('b'));
    down.dispatcher.start();
    await until(() => down.dispatcher.counters.retried >= 1);
    await down.dispatcher.close(200);
    const sink = await scriptedSink(() => ({ status: 200 }));
    cleanups.push(sink.close);
    const { outbox, dispatcher } = await setup(sink.url);
    expect(outbox.size).toBe(2);
    await outbox.enqueue(event('c'));
    dispatcher.start();
    await sink.waitFor(3);
    await until(() => outbox.size === 0);
    expect(sink.ids()).toEqual(['a', 'b', 'c']);
  });

  it('on close, tries each pending event once more without waiting out the backoff, and keeps what fails', async () => {
    let healthy = false;
    const sink = await scriptedSink(() => ({ status: healthy ? 202 : 503 }));
    cleanups.push(sink.close);
    const { outbox, dispatcher } = await setup(sink.url, { backoff: GLACIAL });
    await outbox.enqueue(event('a'));
    await outbox.enqueue(event('b'));
    dispatcher.start();
    await sink.waitFor(1);
    // The dispatcher now sleeps for 5-10 minutes; close must not.
    healthy = true;
    // The deadline only bounds a stuck close: it returns as soon as both are delivered, whatever the machine's load.
    await dispatcher.close(60_000);
    expect(sink.ids()).toEqual(['a', 'a', 'b']);
    expect(outbox.size).toBe(0);

    healthy = false;
    const next = await setup(sink.url, { backoff: GLACIAL });
    await next.outbox.enqueue(event('c'));
    next.dispatcher.start();
    await sink.waitFor(4);
    await next.dispatcher.close(60_000);
    expect(next.outbox.size).toBe(1);
  }, 120_000);
});

describe('Retry-After and status classification', () => {
  const now = Date.parse('2026-11-24T10:00:00Z');
  it.each([
    ['120', 120_000],
    ['0', 0],
    ['Tue, 24 Nov 2026 10:00:30 GMT', 30_000],
    ['Tue, 24 Nov 2026 09:00:00 GMT', 0],
    ['999999999', 3_600_000],
    ['soon', null],
    ['-5', null],
    ['1.5', null],
    ['', null],
    [null, null],
  ])('Retry-After %j waits %j ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each([
    [200, 'delivered'],
    [202, 'delivered'],
    [204, 'delivered'],
    [400, 'rejected'],
    [401, 'retry'],
    [403, 'retry'],
    [404, 'retry'],
    [413, 'rejected'],
    [408, 'retry'],
    [429, 'retry'],
    [410, 'gone'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [304, 'retry'],
  ])('HTTP %i means %s', (status, kind) => {
    expect(classifyResponse(status, null, '', now).kind).toBe(kind);
  });

  it('reads Retry-After only on 429 and 503', () => {
    expect(classifyResponse(503, '7', '', now)).toMatchObject({ kind: 'retry', retryAfterMs: 7000 });
    expect(classifyResponse(429, '7', '', now)).toMatchObject({ kind: 'retry', retryAfterMs: 7000 });
    expect(classifyResponse(500, '7', '', now)).toMatchObject({ kind: 'retry', retryAfterMs: null });
  });
});

describe('Sink: one POST per event', () => {
  it.each(['binary', 'structured'] as const)('sends the event in %s mode so the receiver reads it back whole', async (mode) => {
    const sink = await scriptedSink(() => ({ status: 202 }));
    cleanups.push(sink.close);
    const outcome = await new Sink({ url: sink.url, mode, extensions: { deviceowner: 'ops' } }).send(event('m1'));
    expect(outcome).toEqual({ kind: 'delivered', status: 202 });
    const got = sink.requests[0]?.event;
    expect(got?.id).toBe('m1');
    expect(got?.data).toEqual({ n: 'm1' });
    expect(got?.['deviceowner']).toBe('ops');
  });

  it("puts the sink's own words in the detail of a refusal", async () => {
    const sink = await scriptedSink(() => ({ status: 422 }));
    cleanups.push(sink.close);
    const outcome = await new Sink({ url: sink.url, mode: 'binary', extensions: {} }).send(event('r1'));
    expect(outcome).toEqual({ kind: 'rejected', status: 422, detail: 'HTTP 422: status 422' });
  });

  it('says why when nothing listens, and when the sink never answers', async () => {
    const refused = await new Sink({ url: await refusedUrl(), mode: 'binary', extensions: {} }).send(event('x'));
    expect(refused).toEqual({ kind: 'retry', status: null, retryAfterMs: null, detail: 'ECONNREFUSED' });
    // Reads the request, then never answers.
    const silent = http.createServer((req) => req.resume());
    silent.listen(0, '127.0.0.1');
    await new Promise((r) => silent.once('listening', r));
    cleanups.push(() => new Promise<void>((r) => { silent.closeAllConnections(); silent.close(() => r()); }));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    const hung = await new Sink({ url, mode: 'binary', extensions: {}, timeoutMs: 300 }).send(event('y'));
    expect(hung).toEqual({ kind: 'retry', status: null, retryAfterMs: null, detail: 'timed out' });
    const stop = new AbortController();
    const pending = new Sink({ url, mode: 'binary', extensions: {} }).send(event('z'), stop.signal);
    setTimeout(() => stop.abort(), 100);
    expect(await pending).toEqual({ kind: 'retry', status: null, retryAfterMs: null, detail: 'aborted' });
  });
});
