// A CloudEvents receiver for the demo and tests: what a Broker would be in a cluster, in one process.
import type { AddressInfo } from 'node:net';
import { http } from '../lib/index.js';
import { EventRejectedError, parseAnnouncedEvent, type AnnouncedEvent } from '../contracts/event-receive.js';
import { fromHttpMessage } from './wire.js';

export interface LocalSinkOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly host?: string;
  /** Called once per valid event; a throw answers 500, so the sender retries. */
  readonly onEvent: (event: AnnouncedEvent) => void | Promise<void>;
  /** Called for requests that are not one of our valid events (answered 400). */
  readonly onRejected?: (error: Error) => void;
}

export interface LocalSink {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

/** Receives CloudEvents (binary or structured) over HTTP, validates them and calls back: 202, or 400 with why. */
export async function startLocalSink(o: LocalSinkOptions): Promise<LocalSink> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, body?: string): void => {
      res.writeHead(status, body ? { 'content-type': 'text/plain; charset=utf-8' } : {});
      res.end(body);
    };
    if (req.method !== 'POST') return reply(405, 'POST CloudEvents here\n');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return reply(413, 'event too large\n');
      let announced: AnnouncedEvent;
      try {
        announced = parseAnnouncedEvent(fromHttpMessage(req.headers, Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        o.onRejected?.(error);
        // The SDK's ValidationError is a TypeError; SyntaxError is a body that is not JSON.
        const known = err instanceof EventRejectedError || err instanceof TypeError || err instanceof SyntaxError;
        return reply(known ? 400 : 500, `${error.message}\n`);
      }
      Promise.resolve()
        .then(() => o.onEvent(announced))
        .then(
          () => reply(202),
          (err: unknown) => reply(500, `${err instanceof Error ? err.message : String(err)}\n`),
        );
    });
  });
  server.listen(o.port, o.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
