// The transport: one POST per event to the sink, and what its answer means for the event.
import type { CloudEvent } from 'cloudevents';
import { requestFor } from '../lib/index.js';
import { withOverrides, type Extensions } from './overrides.js';
import { parseRetryAfter } from './retry-after.js';
import { toHttpMessage, type EventMode } from './wire.js';

export type DeliveryOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  /**
   * Try the same event again later; `retryAfterMs` when the sink said how long to wait. `refused`: a 401,
   * 403 or 404, which a Broker being re-created (or its ingress not yet routed) answers for a while.
   */
  | { readonly kind: 'retry'; readonly status: number | null; readonly retryAfterMs: number | null; readonly detail: string; readonly refused?: boolean }
  /** 410: the sink is gone for good; nothing more is sent to it. */
  | { readonly kind: 'gone'; readonly status: 410; readonly detail: string }
  /** The sink refuses this event (4xx): retrying cannot help, so it goes to the dead-letter folder. */
  | { readonly kind: 'rejected'; readonly status: number; readonly detail: string };

/**
 * 2xx delivered; 410 gone; 429 and 503 retried after `Retry-After` when given; 408 (the sink timed out
 * reading) retried; 401, 403 and 404 retried with backoff and counted as refused (not the event's fault: a
 * Broker being re-created answers so); any other 4xx rejected; everything else (5xx, 3xx) retried.
 */
export function classifyResponse(status: number, retryAfter: string | null, detail: string, now = Date.now()): DeliveryOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status === 410) return { kind: 'gone', status, detail };
  if (status === 429 || status === 503) return { kind: 'retry', status, retryAfterMs: parseRetryAfter(retryAfter, now), detail };
  if (status === 408) return { kind: 'retry', status, retryAfterMs: null, detail };
  if (status === 401 || status === 403 || status === 404) return { kind: 'retry', status, retryAfterMs: null, detail, refused: true };
  if (status >= 400 && status < 500) return { kind: 'rejected', status, detail };
  return { kind: 'retry', status, retryAfterMs: null, detail };
}

export interface SinkOptions {
  readonly url: string;
  readonly mode: EventMode;
  readonly extensions: Extensions;
  /** Per request; a sink that hangs must not stall the outbox forever. */
  readonly timeoutMs?: number;
}

const DETAIL_CHARS = 300;

/** An HTTP event sink (K_SINK). Sends by hand, not with the SDK's emitter, which hides HTTP failures. */
export class Sink {
  readonly url: string;
  constructor(private readonly o: SinkOptions) {
    this.url = o.url;
  }

  async send(event: CloudEvent<unknown>, signal?: AbortSignal): Promise<DeliveryOutcome> {
    const message = toHttpMessage(withOverrides(event, this.o.extensions), this.o.mode);
    let answer: SinkAnswer;
    try {
      answer = await post(new URL(this.o.url), message.headers, message.body, this.o.timeoutMs ?? 10_000, signal);
    } catch (err) {
      return { kind: 'retry', status: null, retryAfterMs: null, detail: describeRequestError(err) };
    }
    if (answer.status >= 200 && answer.status < 300) return { kind: 'delivered', status: answer.status };
    const text = answer.text.trim();
    const detail = `HTTP ${answer.status}${text ? `: ${text.slice(0, DETAIL_CHARS)}` : ''}`;
    return classifyResponse(answer.status, answer.retryAfter, detail);
  }
}

interface SinkAnswer {
  readonly status: number;
  readonly retryAfter: string | null;
  /** The start of the body of a non-2xx answer (for the log and the dead letter); empty for 2xx. */
  readonly text: string;
}

/**
 * One POST with node:http(s), not fetch: fetch would load Node's bundled undici, ~3 MiB more per recorder,
 * for a request this plain. Redirects are not followed (a sink does not redirect; a 3xx is retried).
 * The timeout and the caller's abort are a timer and a listener removed when the request ends, not
 * AbortSignal.any, whose dependent signals pile up as weak references on the long-lived caller's signal.
 */
function post(url: URL, headers: Readonly<Record<string, string>>, body: string, timeoutMs: number, signal?: AbortSignal): Promise<SinkAnswer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RequestError('aborted'));
      return;
    }
    const payload = Buffer.from(body);
    const req = requestFor(url)(url, { method: 'POST', headers: { ...headers, 'content-length': String(payload.length) } }, (res) => {
      const status = res.statusCode ?? 0;
      const retryAfter = res.headers['retry-after'] ?? null;
      const ok = status >= 200 && status < 300;
      let text = '';
      if (ok) res.resume(); // frees the connection for the next event without reading what the sink said
      else {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < DETAIL_CHARS * 4) text += chunk;
        });
      }
      const answer = (): void => {
        finish();
        resolve({ status, retryAfter, text });
      };
      res.once('end', answer);
      res.once('error', answer);
    });
    const timer = setTimeout(() => req.destroy(new RequestError('timed out')), timeoutMs);
    const onAbort = (): void => {
      req.destroy(new RequestError('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    req.once('error', (err) => {
      finish();
      reject(err);
    });
    req.end(payload);
  });
}

/** A request ended by us (timeout, abort), as opposed to by the network. */
class RequestError extends Error {
  constructor(readonly reason: 'timed out' | 'aborted') {
    super(reason);
    this.name = 'RequestError';
  }
}

/** Why a request failed: timed out, aborted, or the socket's error code (ECONNREFUSED, ...). */
function describeRequestError(err: unknown): string {
  if (err instanceof RequestError) return err.reason;
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ?? err.message;
  return String(err);
}
