import { createHash, timingSafeEqual } from 'node:crypto';
import { isJsonMediaType, redact, redactDeep, type JsonRequest, type JsonResponse, type Logger } from '../lib/index.js';
import type { RecorderBackend } from './backend.js';
import { FAILURE_STATUS, fail, type ControlFailure, type Outcome } from './outcome.js';
import { describeRequestError, recordOffSchema, recordOnSchema, statusQuerySchema } from './request.js';

/** An HTTP request as the control functions see it, whatever server received it: lib's JSON server's own. */
export type ControlRequest = JsonRequest;
export type ControlResponse = JsonResponse;

/** First value of each header or query parameter (both may repeat); non-strings are dropped. */
export function singleValues(input: unknown, lowerCaseKeys = false): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (typeof input !== 'object' || input === null) return out;
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    const first: unknown = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') out[lowerCaseKeys ? key.toLowerCase() : key] = first;
  }
  return out;
}

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse>;

/** The functions-framework targets: `control` routes by path, the others answer on any path. */
export interface ControlHandlers {
  readonly control: ControlHandler;
  readonly recordOn: ControlHandler;
  readonly recordOff: ControlHandler;
  readonly recordStatus: ControlHandler;
}

export interface ControlHandlerOptions {
  /** When set, every request needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly log: Logger;
}

function failure(f: ControlFailure): ControlResponse {
  return {
    status: FAILURE_STATUS[f.code],
    body: { error: f.code, message: redact(f.message), ...(f.details ? redactDeep(f.details) : {}) },
    ...(f.retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(f.retryAfterSeconds) } } : {}),
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time token check (hashing first makes the lengths equal). */
function authorized(request: ControlRequest, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = request.headers['authorization'] ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1] !== undefined && timingSafeEqual(digest(m[1]), digest(token));
}

/**
 * `wait` and `timeoutSeconds` may come in the query (`?wait=true`), as text that becomes the body's boolean
 * and number; the device only in the JSON body, so that switching a recorder off always takes a request a
 * web page cannot forge (see `guarded`).
 */
function offInput(request: ControlRequest): Outcome<Record<string, unknown>> {
  const body = request.body ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('bad_request', 'body: expected a JSON object');
  const merged: Record<string, unknown> = {};
  const { device, wait, timeoutSeconds } = request.query;
  if (device !== undefined) return fail('bad_request', 'device: give it in the JSON body ({"device": "..."}), not in the query');
  if (wait !== undefined) {
    if (!['true', 'false', '1', '0', ''].includes(wait)) return fail('bad_request', 'wait: expected true or false');
    merged['wait'] = wait === 'true' || wait === '1' || wait === '';
  }
  if (timeoutSeconds !== undefined) merged['timeoutSeconds'] = /^\d+$/.test(timeoutSeconds) ? Number(timeoutSeconds) : timeoutSeconds;
  return { ok: true, value: { ...merged, ...(body as Record<string, unknown>) } };
}

export function createControlHandlers(backend: RecorderBackend, options: ControlHandlerOptions): ControlHandlers {
  const guarded =
    (method: 'GET' | 'POST', handler: ControlHandler): ControlHandler =>
    async (request) => {
      if (!authorized(request, options.token)) {
        return { ...failure({ code: 'unauthorized', message: 'Authorization: Bearer <token> required (CONTROL_TOKEN)' }), headers: { 'www-authenticate': 'Bearer' } };
      }
      if (request.method.toUpperCase() !== method) {
        return { ...failure({ code: 'method_not_allowed', message: `use ${method} ${request.path}` }), headers: { allow: method } };
      }
      // Every POST, an empty one too: a page in a browser can post a form or text to a control without a
      // token (localhost, a LAN address) but cannot set a JSON type without the control's CORS consent.
      if (method === 'POST' && !isJsonMediaType(request.headers['content-type'])) {
        return failure({ code: 'unsupported_media_type', message: `content-type: a POST needs Content-Type: application/json, also with an empty body (got ${request.headers['content-type'] || 'none'})` });
      }
      try {
        return await handler(request);
      } catch (err) {
        options.log.error({ err, path: request.path }, 'control request failed');
        return failure({ code: 'internal', message: (err as Error).message });
      }
    };

  const recordOn = guarded('POST', async (request) => {
    const parsed = recordOnSchema.safeParse(request.body ?? {});
    if (!parsed.success) return failure({ code: 'bad_request', message: describeRequestError(parsed.error) });
    const outcome = await backend.start(parsed.data);
    if (!outcome.ok) return failure(outcome.failure);
    const { created, recorder, warnings } = outcome.value;
    options.log.info({ device: recorder.device, created }, created ? 'record on: started' : 'record on: already recording');
    return { status: created ? 201 : 200, body: redactDeep({ device: recorder.device, created, recorder, warnings }) };
  });

  const recordOff = guarded('POST', async (request) => {
    const input = offInput(request);
    if (!input.ok) return failure(input.failure);
    const parsed = recordOffSchema.safeParse(input.value);
    if (!parsed.success) return failure({ code: 'bad_request', message: describeRequestError(parsed.error) });
    const outcome = await backend.stop(parsed.data);
    if (!outcome.ok) return failure(outcome.failure);
    options.log.info({ device: outcome.value.device, stopped: outcome.value.stopped }, 'record off');
    // 200 once the recorder is gone; 202 while it still closes its last segment.
    return { status: outcome.value.stopped ? 200 : 202, body: redactDeep(outcome.value) };
  });

  const recordStatus = guarded('GET', async (request) => {
    const parsed = statusQuerySchema.safeParse({ ...request.query });
    if (!parsed.success) return failure({ code: 'bad_request', message: describeRequestError(parsed.error) });
    if (parsed.data.device !== undefined) {
      const one = await backend.status(parsed.data.device);
      return one.ok ? { status: 200, body: redactDeep(one.value) } : failure(one.failure);
    }
    const all = await backend.list();
    return all.ok ? { status: 200, body: redactDeep({ backend: backend.kind, recorders: all.value }) } : failure(all.failure);
  });

  const routes: Record<string, ControlHandler> = {
    '/record/on': recordOn,
    '/record/off': recordOff,
    '/record/status': recordStatus,
  };
  const control: ControlHandler = async (request) => {
    const path = request.path.replace(/\/+$/, '');
    if (Object.hasOwn(routes, path)) return routes[path]!(request);
    return failure({ code: 'not_found', message: `no route ${request.method} ${request.path}; use POST /record/on, POST /record/off, GET /record/status` });
  };
  return { control, recordOn, recordOff, recordStatus };
}
