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
