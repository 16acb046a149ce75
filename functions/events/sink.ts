// The transport: one POST per event to the sink, and what its answer means for the event.
import type { CloudEvent } from 'cloudevents';
import { withOverrides, type Extensions } from './overrides.js';
import { parseRetryAfter } from './retry-after.js';
import { toHttpMessage, type EventMode } from './wire.js';

export type DeliveryOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  /** Try the same event again later; `retryAfterMs` when the sink said how long to wait. */
  | { readonly kind: 'retry'; readonly status: number | null; readonly retryAfterMs: number | null; readonly detail: string }
  /** 410: the sink is gone for good; nothing more is sent to it. */
  | { readonly kind: 'gone'; readonly status: 410; readonly detail: string }
  /** The sink refuses this event (4xx): retrying cannot help, so it goes to the dead-letter folder. */
  | { readonly kind: 'rejected'; readonly status: number; readonly detail: string };

/**
 * 2xx delivered; 410 gone; 429 and 503 retried after `Retry-After` when given; 408 (the sink timed out
 * reading) retried; any other 4xx rejected; everything else (5xx, 3xx left after redirects) retried.
 */
export function classifyResponse(status: number, retryAfter: string | null, detail: string, now = Date.now()): DeliveryOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status === 410) return { kind: 'gone', status, detail };
  if (status === 429 || status === 503) return { kind: 'retry', status, retryAfterMs: parseRetryAfter(retryAfter, now), detail };
  if (status === 408) return { kind: 'retry', status, retryAfterMs: null, detail };
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
    const timeout = AbortSignal.timeout(this.o.timeoutMs ?? 10_000);
    let response: Response;
    try {
      response = await fetch(this.o.url, {
        method: 'POST',
        headers: message.headers,
        body: message.body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      return { kind: 'retry', status: null, retryAfterMs: null, detail: describeFetchError(err) };
    }
    if (response.ok) {
      // Frees the connection for the next event without reading what the sink said.
      await response.body?.cancel().catch(() => undefined);
      return { kind: 'delivered', status: response.status };
    }
    const text = await response.text().catch(() => '');
    const detail = `HTTP ${response.status}${text.trim() ? `: ${text.trim().slice(0, DETAIL_CHARS)}` : ''}`;
    return classifyResponse(response.status, response.headers.get('retry-after'), detail);
  }
}

/** fetch's errors say "fetch failed"; the cause says why (ECONNREFUSED, timeout, ...). */
function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timed out';
    if (err.name === 'AbortError') return 'aborted';
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}
