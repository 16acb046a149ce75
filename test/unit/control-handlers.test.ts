import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createControlHandlers,
  registerControlFunctions,
  specFromRequest,
  type ControlHandlers,
  type ControlRequest,
  type RecorderBackend,
  type RecorderInfo,
  type RecordOffRequest,
  type RecordOnRequest,
} from '../../functions/control/index.js';

const log = pino({ level: 'silent' });

/** Remembers what it was asked; one device `busy` already records. */
class FakeBackend implements RecorderBackend {
  readonly kind = 'local' as const;
  readonly starts: RecordOnRequest[] = [];
  readonly stops: RecordOffRequest[] = [];
  private running = new Set<string>(['busy']);

  private info(device: string): RecorderInfo {
    return { device, backend: 'local', state: 'recording', settings: specFromRequest({ device }, 'rtsp://cam:554/'), since: null, detail: {} };
  }

  async start(request: RecordOnRequest) {
    this.starts.push(request);
    if (request.device === 'conflict') {
      return { ok: false as const, failure: { code: 'recorder_conflict' as const, message: 'conflict already records with other settings: format', details: { running: { format: 'mkv' } } } };
    }
    if (request.device === 'stopping') return { ok: false as const, failure: { code: 'recorder_stopping' as const, message: 'stopping', retryAfterSeconds: 5 } };
    if (request.device === 'nopvc') return { ok: false as const, failure: { code: 'pvc_missing' as const, message: 'PersistentVolumeClaim ns/nopvc-pvc not found: apply storage/' } };
    const created = !this.running.has(request.device);
    this.running.add(request.device);
    return { ok: true as const, value: { created, recorder: this.info(request.device), warnings: [] } };
  }

  async stop(request: RecordOffRequest) {
    this.stops.push(request);
    if (!this.running.delete(request.device)) return { ok: false as const, failure: { code: 'not_recording' as const, message: `no recorder runs for ${request.device}` } };
    return { ok: true as const, value: { device: request.device, deleted: true as const, stopped: request.wait === true, detail: {} } };
  }

  async status(device: string) {
    return this.running.has(device) ? { ok: true as const, value: this.info(device) } : { ok: false as const, failure: { code: 'not_recording' as const, message: 'no' } };
  }

  async list() {
    return { ok: true as const, value: [...this.running].map((d) => this.info(d)) };
  }

  async close(): Promise<void> {}
}

/** A request as a client sends it: every POST says its body is JSON (control refuses one that does not). */
function req(method: string, path: string, body?: unknown, extra: Partial<ControlRequest> = {}): ControlRequest {
  return { method, path, query: {}, headers: method === 'POST' ? { 'content-type': 'application/json' } : {}, body, ...extra };
}

describe('control handlers (framework-neutral)', () => {
  const backend = new FakeBackend();
  const h = createControlHandlers(backend, { log });

  it('answers 201 when it created, 200 when the same recorder runs', async () => {
    expect((await h.control(req('POST', '/record/on', { device: 'cam1', url: 'rtsp://cam/x' }))).status).toBe(201);
    const again = await h.control(req('POST', '/record/on', { device: 'cam1' }));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ device: 'cam1', created: false });
  });

  it('maps failures to statuses with the error code, a message and Retry-After', async () => {
    const conflict = await h.recordOn(req('POST', '/', { device: 'conflict' }));
    expect(conflict).toMatchObject({ status: 409, body: { error: 'recorder_conflict', running: { format: 'mkv' } } });
    const stopping = await h.recordOn(req('POST', '/', { device: 'stopping' }));
    expect(stopping).toMatchObject({ status: 409, headers: { 'retry-after': '5' } });
    const pvc = await h.recordOn(req('POST', '/', { device: 'nopvc' }));
    expect(pvc).toMatchObject({ status: 422, body: { error: 'pvc_missing', message: expect.stringContaining('storage/') } });
  });

  it('answers 400 naming the field, without calling the backend', async () => {
    const before = backend.starts.length;
    const bad = await h.control(req('POST', '/record/on', { device: 'cam1', segmentSeconds: 'soon' }));
    expect(bad).toMatchObject({ status: 400, body: { error: 'bad_request', message: expect.stringMatching(/^segmentSeconds: /) } });
    expect((await h.control(req('POST', '/record/on'))).body).toMatchObject({ message: expect.stringMatching(/^device: required/) });
    expect(backend.starts.length).toBe(before);
  });

  it('/record/off: 202 when deleted, 200 when it waited until gone, 404 when nothing ran; wait and timeoutSeconds in the query', async () => {
    await h.recordOn(req('POST', '/', { device: 'a' }));
    await h.recordOn(req('POST', '/', { device: 'b' }));
    expect((await h.control(req('POST', '/record/off', { device: 'a' }))).status).toBe(202);
    const waited = await h.control(req('POST', '/record/off', { device: 'b' }, { query: { wait: 'true', timeoutSeconds: '30' } }));
    expect(waited.status).toBe(200);
    expect(backend.stops.at(-1)).toEqual({ device: 'b', wait: true, timeoutSeconds: 30 });
    expect((await h.control(req('POST', '/record/off', { device: 'a' }))).status).toBe(404);
    expect((await h.control(req('POST', '/record/off', { device: 'a' }, { query: { wait: 'maybe' } }))).body).toMatchObject({
      message: expect.stringMatching(/^wait: /),
    });
  });

  it('/record/off takes the device from the JSON body only: a device in the query is refused, nothing is stopped', async () => {
    await h.recordOn(req('POST', '/', { device: 'q1' }));
    const before = backend.stops.length;
    const answer = await h.control(req('POST', '/record/off', undefined, { query: { device: 'q1', wait: 'true' } }));
    expect(answer).toMatchObject({ status: 400, body: { error: 'bad_request', message: expect.stringMatching(/^device: .*JSON body/) } });
    expect(backend.stops.length).toBe(before);
  });

  it('a POST whose Content-Type is not JSON is refused with 415, an empty body too (a web page cannot send JSON without CORS)', async () => {
    await h.recordOn(req('POST', '/', { device: 'c1' }));
    const before = { starts: backend.starts.length, stops: backend.stops.length };
    for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'multipart/form-data; boundary=x' }]) {
      for (const [path, body] of [['/record/off', undefined], ['/record/off', { device: 'c1' }], ['/record/on', { device: 'c2', url: 'rtsp://cam/x' }]] as const) {
        const answer = await h.control(req('POST', path, body, { headers }));
        expect(answer, `${path} ${JSON.stringify(headers)}`).toMatchObject({ status: 415, body: { error: 'unsupported_media_type', message: expect.stringMatching(/^content-type: /) } });
      }
    }
    expect({ starts: backend.starts.length, stops: backend.stops.length }).toEqual(before);
    expect((await h.control(req('POST', '/record/off', { device: 'c1' }, { headers: { 'content-type': 'application/json; charset=utf-8' } }))).status).toBe(202);
  });

  it('/record/status lists recorders, or one with ?device=', async () => {
    const all = await h.control(req('GET', '/record/status'));
    expect(all).toMatchObject({ status: 200, body: { backend: 'local', recorders: expect.arrayContaining([expect.objectContaining({ device: 'busy' })]) } });
    expect((await h.control(req('GET', '/record/status', undefined, { query: { device: 'busy' } }))).status).toBe(200);
    expect((await h.control(req('GET', '/record/status', undefined, { query: { device: 'none' } }))).status).toBe(404);
    expect((await h.control(req('GET', '/record/status', undefined, { query: { device: 'Bad' } }))).status).toBe(400);
  });

  it('routes by path and method', async () => {
    expect((await h.control(req('GET', '/record/on'))).status).toBe(405);
    expect((await h.control(req('POST', '/record/status'))).status).toBe(405);
    expect((await h.control(req('POST', '/elsewhere'))).status).toBe(404);
    expect((await h.control(req('POST', '/record/on/', { device: 'cam1' }))).status).toBe(200);
  });
});

describe('bearer token', () => {
  const h = createControlHandlers(new FakeBackend(), { log, token: 'a-long-enough-token-123' });

  it('refuses requests without the token, accepts them with it', async () => {
    const none = await h.control(req('GET', '/record/status'));
    expect(none).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer' } });
    const wrong = await h.control(req('GET', '/record/status', undefined, { headers: { authorization: 'Bearer nope' } }));
    expect(wrong.status).toBe(401);
    const right = await h.control(req('GET', '/record/status', undefined, { headers: { authorization: 'Bearer a-long-enough-token-123' } }));
    expect(right.status).toBe(200);
  });
});

describe('functions-framework targets', () => {
  const backend = new FakeBackend();
  let handlers: ControlHandlers;
  const servers: Array<{ url: string; close: () => void }> = [];

  beforeAll(async () => {
    handlers = createControlHandlers(backend, { log });
    registerControlFunctions(async () => handlers);
    for (const target of ['control', 'recordOn', 'recordOff', 'recordStatus']) {
      const server = getTestServer(target);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() });
    }
  });
  afterAll(() => servers.forEach((s) => s.close()));

  const post = (base: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('refuses what a web page can send without CORS: a form, text, or an empty POST with the device in the query', async () => {
    const control = servers[0]?.url ?? '';
    expect((await post(control, '/record/on', { device: 'csrf1', url: 'rtsp://cam/x' })).status).toBe(201);
    const form = await fetch(`${control}/record/off`, { method: 'POST', body: new URLSearchParams({ device: 'csrf1' }) });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: 'unsupported_media_type' });
    expect((await fetch(`${control}/record/off`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"device":"csrf1"}' })).status).toBe(415);
    expect((await fetch(`${control}/record/off?device=csrf1`, { method: 'POST' })).status).toBe(415);
    expect((await post(control, '/record/off?device=csrf1')).status).toBe(400);
    expect((await post(control, '/record/off', { device: 'csrf1' })).status).toBe(202);
  });

  it('control routes /record/on, /record/off and /record/status', async () => {
    const control = servers[0]?.url ?? '';
    const on = await post(control, '/record/on', { device: 'ff1', url: 'rtsp://cam/x' });
    expect(on.status).toBe(201);
    expect(await on.json()).toMatchObject({ device: 'ff1', created: true });
    expect((await fetch(`${control}/record/status?device=ff1`)).status).toBe(200);
    expect((await post(control, '/record/off?wait=true', { device: 'ff1' })).status).toBe(200);
    const bad = await post(control, '/record/on', { device: 'ff1', format: 'avi' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/^format: /) });
  });

  it('recordOn, recordOff and recordStatus answer on any path', async () => {
    const [, on, off, status] = servers.map((s) => s.url);
    expect((await post(on ?? '', '/', { device: 'ff2' })).status).toBe(201);
    expect((await fetch(`${status ?? ''}/?device=ff2`)).status).toBe(200);
    expect((await post(off ?? '', '/anything', { device: 'ff2' })).status).toBe(202);
    expect((await post(on ?? '', '/')).status).toBe(400);
  });
});
