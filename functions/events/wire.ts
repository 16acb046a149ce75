// The HTTP protocol binding: CloudEvent <-> {headers, body}, in binary or structured content mode.
import { CloudEvent, HTTP, type Headers } from 'cloudevents';

export const EVENT_MODES = ['binary', 'structured'] as const;
export type EventMode = (typeof EVENT_MODES)[number];

export interface HttpMessage {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Binary puts attributes in `ce-*` headers and `data` in the body; structured sends the whole event as JSON. */
export function toHttpMessage(event: CloudEvent<unknown>, mode: EventMode): HttpMessage {
  const message = mode === 'structured' ? HTTP.structured(event) : HTTP.binary(event);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  const body = message.body;
  return { headers, body: typeof body === 'string' ? body : JSON.stringify(body ?? null) };
}

/** Reads one CloudEvent (either mode) and checks it against the 1.0 spec; throws ValidationError otherwise. */
export function fromHttpMessage(headers: Headers, body: string): CloudEvent<unknown> {
  const parsed = HTTP.toEvent<unknown>({ headers, body });
  if (Array.isArray(parsed)) throw new TypeError('a batch of events was sent; one event per request is expected');
  const event = parsed instanceof CloudEvent ? parsed : new CloudEvent<unknown>(parsed);
  event.validate();
  return event;
}
