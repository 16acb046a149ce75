import type { Registry } from 'prom-client';
import { startHttpServer, type FastifyInstance, type HostPort, type Logger } from '../lib/index.js';
import type { Recorder } from './recorder.js';

/** The recorder's HTTP API: record on/off/status, liveness, readiness and metrics. */
export function serveRecorderApi(recorder: Recorder, listen: HostPort, log: Logger, metrics: Registry): Promise<FastifyInstance> {
  return startHttpServer({ listen, log, metrics }, (app) => {
    app.post('/record/on', async () => recorder.on());
    // Answers once the last segment is closed and playable, and names it.
    app.post('/record/off', async () => recorder.off());
    app.get('/record/status', async () => recorder.status());
    app.get('/health', async () => ({ ok: true }));
    // Ready while the recorder does what it was asked: recording when on, idle when off.
    app.get('/ready', async (_req, reply) => {
      const status = recorder.status();
      const ready = status.state === 'recording' || status.state === 'idle';
      return reply.status(ready ? 200 : 503).send({ ready, state: status.state, lastError: status.lastError });
    });
  });
}
