// The core under both of our node:http servers (the probe server of the forwarder, recorder and playback,
// and control's JSON server): binding, closing and the error answer live once, so every server of ours
// listens, shuts down and fails the same way.
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';
import { HttpError } from './http.js';
import { http } from './node-http.js';
import { redact } from './redact.js';

export interface ListeningServer {
  /** The bound port (the one the OS picked when asked for port 0). */
  readonly port: number;
  /** Ends every connection, idle keep-alive ones too, and resolves once the server is closed. */
  close(): Promise<void>;
}

/** Serves `listener` on `listen`; resolves once bound, rejects when the address cannot be (EADDRINUSE). */
export async function listenOn(listen: HostPort, listener: RequestListener): Promise<ListeningServer> {
  const server = http.createServer(listener);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
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

export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: string; readonly message: string };
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The JSON answer to a failed request: an HttpError's status and code, anything else 500 and a log line
 * (`context` adds fields to it, such as the route). Messages are redacted, since an error can quote a camera
 * URL or a token the process knows.
 */
export function errorAnswer(err: unknown, log: Logger, context: Readonly<Record<string, unknown>> = {}): ErrorAnswer {
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: err.code, message: redact(err.message) }, headers: err.headers };
  log.error({ err, ...context }, 'request failed');
  return { status: 500, body: { error: 'internal', message: redact(err instanceof Error ? err.message : String(err)) } };
}
