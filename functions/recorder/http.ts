import type { Registry } from 'prom-client';
import { HttpError, startProbeServer, type HostPort, type Logger, type ProbeServer } from '../lib/index.js';
import { RecorderClosingError, type Recorder } from './recorder.js';

/**
 * The recorder's HTTP API: record on/off/status, liveness, readiness and metrics. On node:http, not Fastify:
 * one recorder runs per camera, and five bodiless routes do not pay for a framework's memory.
 */
export function serveRecorderApi(recorder: Recorder, listen: HostPort, log: Logger, metrics: Registry): Promise<ProbeServer> {
  return startProbeServer({ listen, log, metrics }, {
    post: {
      '/record/on': () => {
        try {
          return { status: 200, body: recorder.on() };
        } catch (err) {
          if (err instanceof RecorderClosingError) throw new HttpError(503, err.message, 'shutting_down');
          throw err;
        }
      },
      // Answers once the last segment is closed and playable, and names it.
      '/record/off': async () => ({ status: 200, body: await recorder.off() }),
    },
    get: {
      '/record/status': () => ({ status: 200, body: recorder.status() }),
      '/health': () => ({ status: 200, body: { ok: true } }),
      // Ready while the recorder does what it was asked: recording when on, idle when off.
      '/ready': () => {
        const status = recorder.status();
        const ready = status.state === 'recording' || status.state === 'idle';
        return { status: ready ? 200 : 503, body: { ready, state: status.state, lastError: status.lastError } };
      },
    },
  });
}
