import { Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';

/** An error a handler throws to answer with a status and a message naming the field at fault. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code = 'bad_request',
    /** Sent with the answer, e.g. `retry-after` on a 503. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * A JSON media type (`application/json`, `application/<x>+json`, with parameters). What our JSON APIs take,
 * and also what stops a web page from posting to them: a page's form or no-CORS fetch can only send
 * `text/plain`, a form or multipart, or no type at all.
 */
export function isJsonMediaType(contentType: string | undefined): boolean {
  return /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType ?? '');
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

/**
 * A request body of at most `maxBytes` (a WHEP offer, on the live port and through the playback server's proxy):
 * 413 naming `body` past it, from the Content-Length when it says so, else as the bytes come.
 */
export async function readSmallBody(req: AsyncIterable<unknown> & { readonly headers: Readonly<Record<string, string | string[] | undefined>> }, maxBytes: number, what: string): Promise<Buffer> {
  const tooLarge = (): HttpError => new HttpError(413, `body: ${what} is at most ${maxBytes / 1024} KiB`, 'payload_too_large', { connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}
