import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';
import { HttpError } from './http.js';
import { http } from './node-http.js';
import { redact } from './redact.js';

export interface ProbeAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** What a handler may look at: the headers (no route takes a body). */
export interface ProbeRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** A route's handler; a thrown HttpError answers with its status, anything else with 500. */
export type ProbeHandler = (request: ProbeRequest) => ProbeAnswer | Promise<ProbeAnswer>;

export interface ProbeRoutes {
  readonly get: Readonly<Record<string, ProbeHandler>>;
  /** Bodiless commands (the recorder's /record/on and /record/off). */
  readonly post?: Readonly<Record<string, ProbeHandler>>;
}

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A JSON server of a few fixed routes on node:http, plus GET /metrics. For lean workloads (the forwarder,
 * the recorder; one process per camera): a web framework would add a fifth to their memory for five routes
 * that take no body. Answers are JSON; unknown paths 404, known paths with another method 405.
 */
export async function startProbeServer(
  options: { readonly listen: HostPort; readonly log: Logger; readonly metrics?: Registry },
  routes: ProbeRoutes,
): Promise<ProbeServer> {
  const server = http.createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const json = (status: number, body: unknown, headers?: Record<string, string>): void =>
      send(status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
    // The body is never read (no route takes one), but it must be drained for keep-alive to work.
    req.resume();
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (route === '/metrics' && options.metrics && method === 'GET') {
      const registry = options.metrics;
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        (err: unknown) => {
          options.log.error({ err }, 'metrics failed');
          send(500, 'text/plain', 'metrics failed\n');
        },
      );
      return;
    }
    const handler = method === 'GET' ? routes.get[route] : method === 'POST' ? routes.post?.[route] : undefined;
    if (!handler) {
      const allowed = [
        ...(route in routes.get || (route === '/metrics' && options.metrics) ? ['GET', 'HEAD'] : []),
        ...(routes.post && route in routes.post ? ['POST'] : []),
      ];
      if (allowed.length) json(405, { error: 'method_not_allowed', message: `${route} takes ${allowed.join(', ')}` }, { allow: allowed.join(', ') });
      else json(404, { error: 'not_found', message: `no route ${route}` });
      return;
    }
    Promise.resolve({ headers: req.headers })
      .then(handler)
      .then(
        (answer) => json(answer.status, answer.body),
        (err: unknown) => {
          if (err instanceof HttpError) {
            json(err.statusCode, { error: err.code, message: redact(err.message) });
            return;
          }
          options.log.error({ err, route }, 'request failed');
          json(500, { error: 'internal', message: redact(err instanceof Error ? err.message : String(err)) });
        },
      );
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
