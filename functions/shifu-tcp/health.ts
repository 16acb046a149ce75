import type { ProbeAnswer } from '../lib/index.js';

/** What /ready reports: not ready until the first probe succeeds, and never while draining. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
}

/** `/health` answers while the process works; `/ready` is 200 only while the device is reachable. */
export function healthRoutes(readiness: () => Readiness, upstream: string): Record<string, () => ProbeAnswer> {
  return {
    '/health': () => ({ status: 200, body: { status: 'ok' } }),
    '/ready': () => {
      const state = readiness();
      return {
        status: state.ready ? 200 : 503,
        body: { ready: state.ready, upstream, ...(state.reason === undefined ? {} : { reason: state.reason }) },
      };
    },
  };
}
