import type { FastifyInstance } from '../lib/index.js';

/** What /ready reports: not ready until the first probe succeeds, and never while draining. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
}

/** `/health` answers while the process works; `/ready` is 200 only while the device is reachable. */
export function healthRoutes(app: FastifyInstance, readiness: () => Readiness, upstream: string): void {
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_req, reply) => {
    const state = readiness();
    void reply.status(state.ready ? 200 : 503);
    return { ready: state.ready, upstream, ...(state.reason === undefined ? {} : { reason: state.reason }) };
  });
}
