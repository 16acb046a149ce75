import { timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import { HttpError, startProbeServer, type HostPort, type Logger, type ProbeHandler, type ProbeRequest, type ProbeServer } from '../lib/index.js';
import { RecorderClosingError, type Recorder } from './recorder.js';

/**
 * The recorder's HTTP API: record on/off/status, liveness, readiness and metrics. On node:http, not Fastify:
 * one recorder runs per camera, and five bodiless routes do not pay for a framework's memory.
 */
export function serveRecorderApi(
  recorder: Recorder,
  listen: HostPort,
  log: Logger,
  metrics: Registry,
  apiToken?: string,
  /** Parts of /record/status that others attach (the archive's state), by field name. */
  statusParts: Readonly<Record<string, () => unknown>> = {},
): Promise<ProbeServer> {
  // With a token (control sets one per Deployment), /record/* answer only to who holds it: any pod could
  // otherwise switch a recorder off while control still reports it recording. Probes and metrics stay open.
  const guarded = (handler: ProbeHandler): ProbeHandler =>
    apiToken === undefined
      ? handler
      : (request) => {
          if (!holdsToken(request, apiToken)) throw new HttpError(401, 'this recorder needs its API token: Authorization: Bearer <RECORDER_API_TOKEN>', 'unauthorized');
          return handler(request);
        };
  return startProbeServer({ listen, log, metrics }, {
    post: {
      '/record/on': guarded(() => {
        try {
          return { status: 200, body: recorder.on() };
        } catch (err) {
          if (err instanceof RecorderClosingError) throw new HttpError(503, err.message, 'shutting_down');
          throw err;
        }
      }),
      // Answers once the last segment is closed and playable, and names it.
      '/record/off': guarded(async () => ({ status: 200, body: await recorder.off() })),
    },
    get: {
      '/record/status': guarded(() => {
        const parts = Object.fromEntries(Object.entries(statusParts).map(([name, read]) => [name, read()]));
        return { status: 200, body: { ...recorder.status(), ...parts } };
      }),
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

function holdsToken(request: ProbeRequest, token: string): boolean {
  const header = request.headers.authorization;
  const given = Buffer.from(typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
