import type { FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';
import { redact } from './redact.js';

export type { FastifyInstance };

/** An error a handler throws to answer with a status and a message naming the field at fault. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code = 'bad_request',
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** `field: rule` for the first zod issue, so a 4xx names what to fix. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}

/** A fresh Prometheus registry with the process metrics (CPU, RSS, fds) every workload exports. */
export function createMetricsRegistry(prefix: string): Registry {
  const registry = new Registry();
  // The event-loop-lag monitor samples every 10 ms by default: 100 wake-ups a second in an idle recorder.
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: 1000 });
  return registry;
}

export interface HttpServerOptions {
  readonly listen: HostPort;
  readonly log: Logger;
  readonly metrics?: Registry;
}

/**
 * A Fastify server with JSON errors ({error, message}) and `GET /metrics` when a registry is given.
 * Routes are added by `register` before it listens.
 */
export async function startHttpServer(
  options: HttpServerOptions,
  register: (app: FastifyInstance) => void,
): Promise<FastifyInstance> {
  // Loaded on first use: workloads that never serve a full API (the forwarder) never pay for it.
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof z.ZodError) {
      void reply.status(400).send({ error: 'bad_request', message: describeZodError(err) });
      return;
    }
    if (err instanceof HttpError) {
      void reply.status(err.statusCode).send({ error: err.code, message: redact(err.message) });
      return;
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      void reply.status(status).send({ error: 'bad_request', message: redact((err as Error).message) });
      return;
    }
    options.log.error({ err }, 'request failed');
    void reply.status(500).send({ error: 'internal', message: redact((err as Error).message) });
  });
  if (options.metrics) {
    const registry = options.metrics;
    app.get('/metrics', async (_req, reply) => {
      void reply.header('content-type', registry.contentType);
      return registry.metrics();
    });
  }
  register(app);
  await app.listen({ host: options.listen.host, port: options.listen.port });
  return app;
}

/** The port a started server really listens on (for `:0` in tests). */
export function boundPort(app: FastifyInstance): number {
  const address = app.server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}
