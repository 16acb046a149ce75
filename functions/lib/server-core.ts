// The core under both of our node:http servers (the probe server of the forwarder, recorder and playback,
// and control's JSON server): binding, closing and the error answer live once, so every server of ours
// listens, shuts down and fails the same way.
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
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

/**
 * The request's URL, or a 400: Node's parser passes request targets that WHATWG URL refuses (an absolute
 * `http://a:b/` with a port that is not a number), and an unguarded `new URL` there stopped the process.
 */
export function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw new HttpError(400, 'url: not a valid request target');
  }
}

/** Node's own answers to what its parser refuses (the statuses its default clientError handler gives). */
function clientErrorAnswer(err: NodeJS.ErrnoException): ErrorAnswer {
  const answer = (status: number, error: string, message: string): ErrorAnswer => ({ status, body: { error, message } });
  if (err.code === 'HPE_HEADER_OVERFLOW') return answer(431, 'headers_too_large', 'headers: larger than the server reads (16 KiB)');
  if (err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return answer(413, 'payload_too_large', 'body: chunk extensions too large');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return answer(408, 'request_timeout', 'request: not received in time');
  return answer(400, 'bad_request', `request: not a valid HTTP/1.1 request (${err.code ?? 'unreadable'})`);
}

/**
 * A request Node's parser cannot read (bad request line, header, framing) never reaches a route: it is
 * answered here with a 4xx and the connection closed, so no socket is left hanging and nothing throws.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // The peer already left (a reset mid-request), or an answer is on its way: just end the connection.
  if (err.code === 'ECONNRESET' || !socket.writable || ('_httpMessage' in socket && socket._httpMessage)) {
    socket.destroy();
    return;
  }
  const { status, body: answer } = clientErrorAnswer(err);
  const body = JSON.stringify(answer);
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, () => socket.destroy());
}

/**
 * Serves `listener` on `listen`; resolves once bound, rejects when the address cannot be (EADDRINUSE).
 * A listener that throws (a bug) answers 500 through errorAnswer instead of ending the process.
 */
export async function listenOn(listen: HostPort, listener: RequestListener, log: Logger): Promise<ListeningServer> {
  const server = http.createServer((req, res) => {
    try {
      listener(req, res);
    } catch (err) {
      // The path only: a query may carry a token (playback's access_token).
      const answer = errorAnswer(err, log, { route: (req.url ?? '/').split('?')[0] });
      if (res.headersSent) res.destroy();
      else res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(answer.body));
    }
  });
  server.keepAliveTimeout = 5000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
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
