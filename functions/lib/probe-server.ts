import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';

export interface ProbeAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * GET-only health, readiness and metrics endpoints on node:http. For lean workloads (the forwarder): a web
 * framework would double its idle memory for three fixed routes.
 */
export async function startProbeServer(
  options: { readonly listen: HostPort; readonly log: Logger; readonly metrics?: Registry },
  routes: Readonly<Record<string, () => ProbeAnswer>>,
): Promise<ProbeServer> {
  const server = http.createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'application/json', JSON.stringify({ error: 'method_not_allowed', message: 'use GET' }));
      return;
    }
    if (route === '/metrics' && options.metrics) {
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
    const handler = routes[route];
    if (!handler) {
      send(404, 'application/json', JSON.stringify({ error: 'not_found', message: `no route ${route}` }));
      return;
    }
    const answer = handler();
    send(answer.status, 'application/json', JSON.stringify(answer.body));
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
