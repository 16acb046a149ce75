import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askRecorderStatus } from '../../functions/control/recorder-client.js';
import { parseRecorderAnswer, reportedState } from '../../functions/control/recorder-state.js';
import { freeLoopbackPort } from '../../functions/lib/index.js';

const status = (state: string, recording: boolean) => ({ device: 'cam1', state, recording, lastError: null, counters: { segments: 3 } });

describe('the state control reports (both backends)', () => {
  it('is recording only while the recorder itself says so', () => {
    expect(reportedState(false, parseRecorderAnswer(status('recording', true)), 'starting')).toBe('recording');
    for (const [state, on] of [['idle', false], ['connecting', true], ['reconnecting', true], ['unauthorized', true], ['error', true], ['a-newer-state', true]] as const) {
      expect(reportedState(false, parseRecorderAnswer(status(state, on)), 'recording'), state).toBe('not-ready');
    }
  });

  it('switched off through its own API (idle, still Ready) is not recording, whatever readiness says', () => {
    expect(reportedState(false, parseRecorderAnswer(status('idle', false)), 'recording')).toBe('not-ready');
  });

  it('falls back to what the backend knows without it while the recorder cannot be asked', () => {
    expect(reportedState(false, undefined, 'recording')).toBe('recording');
    expect(reportedState(false, undefined, 'starting')).toBe('starting');
  });

  it('says stopping while it stops, whatever the recorder says', () => {
    expect(reportedState(true, parseRecorderAnswer(status('recording', true)), 'recording')).toBe('stopping');
    expect(reportedState(true, undefined, 'starting')).toBe('stopping');
  });

  it('takes only a recorder status as one, and passes every field on', () => {
    expect(parseRecorderAnswer(status('idle', false))).toEqual(status('idle', false));
    for (const body of [undefined, null, 'recording', { state: 'recording' }, { ready: true }, { state: 1, recording: true }]) {
      expect(parseRecorderAnswer(body), JSON.stringify(body)).toBeUndefined();
    }
  });
});

describe('asking a recorder its /record/status', () => {
  const TOKEN = 'a-recorder-token-that-must-never-show';
  let server: http.Server;
  let port: number;
  let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  beforeAll(async () => {
    server = http.createServer((req, res) => answer(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('sends the token and returns the recorder status', async () => {
    let seen: http.IncomingHttpHeaders = {};
    answer = (req, res) => {
      seen = req.headers;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status('idle', false)));
    };
    const asked = await askRecorderStatus({ host: '127.0.0.1', port }, TOKEN, 2000);
    expect(asked).toEqual({ ok: true, status: status('idle', false) });
    expect(seen.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen['host']).toBe(`127.0.0.1:${port}`);
  });

  it('names a refused token (401) without the token', async () => {
    answer = (_req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    const asked = await askRecorderStatus({ host: '127.0.0.1', port }, TOKEN, 2000);
    expect(asked).toMatchObject({ ok: false, reason: expect.stringMatching(/127\.0\.0\.1:\d+ answered HTTP 401 .*token/) });
    expect(JSON.stringify(asked)).not.toContain(TOKEN);
  });

  it('gives up after the timeout, saying why that happens', async () => {
    answer = () => undefined; // never answers
    const t0 = Date.now();
    const asked = await askRecorderStatus({ host: '127.0.0.1', port }, TOKEN, 300);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(asked).toMatchObject({ ok: false, reason: expect.stringContaining('within 300 ms (control outside the cluster cannot reach pod addresses') });
  });

  it('reports a closed port and an answer that is not a status', async () => {
    const closed = await freeLoopbackPort();
    expect(await askRecorderStatus({ host: '127.0.0.1', port: closed }, undefined, 2000)).toMatchObject({ ok: false, reason: expect.stringContaining('ECONNREFUSED') });
    answer = (_req, res) => res.writeHead(200).end('<html>not a recorder</html>');
    expect(await askRecorderStatus({ host: '127.0.0.1', port }, undefined, 2000)).toMatchObject({ ok: false, reason: expect.stringContaining('not a recorder status') });
  });
});
