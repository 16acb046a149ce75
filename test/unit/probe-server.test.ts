import { Registry, Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, HttpError, registerSecret, startProbeServer, type ProbeServer } from '../../functions/lib/index.js';

// The small JSON server the forwarder's probes and the recorder's API run on.
describe('startProbeServer', () => {
  let server: ProbeServer;
  let base: string;
  let switched = 0;
  const secret = 'probe-server-test-secret';

  beforeAll(async () => {
    registerSecret(secret);
    const metrics = new Registry();
    new Counter({ name: 'test_switches_total', help: 'switches', registers: [metrics] }).inc(3);
    server = await startProbeServer(
      { listen: { host: '127.0.0.1', port: 0 }, log: createLogger('test', 'silent'), metrics },
      {
        get: { '/health': () => ({ status: 200, body: { ok: true } }) },
        post: {
          '/switch': async () => ({ status: 200, body: { switched: ++switched } }),
          '/refuse': () => {
            throw new HttpError(409, 'segment store busy', 'conflict');
          },
          '/crash': () => Promise.reject(new Error(`camera rtsp://admin:${secret}@cam/ failed`)),
        },
      },
    );
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it('answers GET and POST routes with JSON, reading and ignoring a body sent anyway', async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await health.json()).toEqual({ ok: true });
    const first = await fetch(`${base}/switch`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(await first.json()).toEqual({ switched: 1 });
    const again = await fetch(`${base}/switch?wait=1`, { method: 'POST' });
    expect(await again.json()).toEqual({ switched: 2 });
  });

  it('says 405 with Allow for a known path and the wrong method, 404 for an unknown path', async () => {
    const wrong = await fetch(`${base}/switch`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect((await wrong.json()) as unknown).toMatchObject({ error: 'method_not_allowed' });
    const postHealth = await fetch(`${base}/health`, { method: 'POST' });
    expect(postHealth.status).toBe(405);
    expect(postHealth.headers.get('allow')).toBe('GET, HEAD');
    const missing = await fetch(`${base}/record/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', message: 'no route /record/nope' });
  });

  it('answers an HttpError with its status and code, and any other failure with 500 and no secret', async () => {
    const refused = await fetch(`${base}/refuse`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({ error: 'conflict', message: 'segment store busy' });
    const crashed = await fetch(`${base}/crash`, { method: 'POST' });
    expect(crashed.status).toBe(500);
    const text = await crashed.text();
    expect(text).toContain('camera rtsp://admin:***@cam/ failed');
    expect(text).not.toContain(secret);
  });

  it('serves the Prometheus registry on GET /metrics, and HEAD without a body', async () => {
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('test_switches_total 3');
    const head = await fetch(`${base}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});

// The playback server's additions: handlers that read the query, routes that stream, a bearer check.
describe('startProbeServer with streaming routes and authorization', () => {
  let server: ProbeServer;
  let base: string;

  beforeAll(async () => {
    server = await startProbeServer(
      { listen: { host: '127.0.0.1', port: 0 }, log: createLogger('test', 'silent') },
      {
        open: ['/health'],
        authorize: ({ headers }) => {
          if (headers.authorization !== 'Bearer ok') throw new HttpError(401, 'authorization: bearer token required', 'unauthorized');
        },
        get: {
          '/health': () => ({ status: 200, body: { ok: true } }),
          '/echo': ({ url }) => ({ status: 200, body: { name: url.searchParams.get('name') } }),
          '/page': () => ({ status: 200, body: '<p>hi</p>', contentType: 'text/html' }),
        },
        stream: {
          '/files/': (_req, res, url) => {
            if (url.pathname.endsWith('/missing')) throw new HttpError(404, 'file: missing', 'not_found');
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end(`streamed ${url.pathname}`);
          },
        },
      },
    );
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  const auth = { headers: { authorization: 'Bearer ok' } };

  it('refuses routes without the token, except the open ones', async () => {
    const refused = await fetch(`${base}/echo`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'unauthorized', message: 'authorization: bearer token required' });
    expect((await fetch(`${base}/files/x`)).status).toBe(401);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('gives handlers the query, sends other content types, and lets prefix routes stream or refuse', async () => {
    expect(await (await fetch(`${base}/echo?name=cam1`, auth)).json()).toEqual({ name: 'cam1' });
    const page = await fetch(`${base}/page`, auth);
    expect(page.headers.get('content-type')).toBe('text/html');
    expect(await page.text()).toBe('<p>hi</p>');
    expect(await (await fetch(`${base}/files/a/b`, auth)).text()).toBe('streamed /files/a/b');
    const missing = await fetch(`${base}/files/missing`, auth);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', message: 'file: missing' });
    expect((await fetch(`${base}/files/a`, { ...auth, method: 'POST' })).status).toBe(405);
  });
});
