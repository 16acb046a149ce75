// Errors as values: every control failure has a code, an HTTP status and a message that says what to do.

/** The HTTP status of each failure code; the code is also the `error` field of the JSON answer. */
export const FAILURE_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  not_recording: 404,
  method_not_allowed: 405,
  unsupported_media_type: 415,
  recorder_conflict: 409,
  recorder_stopping: 409,
  name_taken: 409,
  pvc_missing: 422,
  pvc_lost: 422,
  edgedevice_missing: 422,
  edgedevice_invalid: 422,
  recorder_failed: 502,
  kubernetes_forbidden: 500,
  kubernetes_unavailable: 503,
  internal: 500,
} as const;

export type FailureCode = keyof typeof FAILURE_STATUS;

export interface ControlFailure {
  readonly code: FailureCode;
  readonly message: string;
  /** Sent as Retry-After: the caller may try again after this many seconds. */
  readonly retryAfterSeconds?: number;
  /** Extra JSON fields of the answer (e.g. the settings a recorder runs with). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: ControlFailure };

export function succeed<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function fail<T = never>(
  code: FailureCode,
  message: string,
  extra: { retryAfterSeconds?: number; details?: Record<string, unknown> } = {},
): Outcome<T> {
  return { ok: false, failure: { code, message, ...extra } };
}
