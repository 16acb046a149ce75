// Camera passwords must never reach logs, status, metrics, events or error messages.
// Two nets: credentials embedded in URLs, and every secret value registered at start-up.

const secrets = new Set<string>();

/** Remembers a secret so that `redact` masks it wherever it appears. Short values are ignored (too many false hits). */
export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 3) {
    secrets.add(value);
    secrets.add(encodeURIComponent(value));
  }
}

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;

/** `rtsp://user:pass@host` becomes `rtsp://user:***@host`; registered secrets become `***`. */
export function redact(text: string): string {
  let out = text.replace(URL_CREDENTIALS, '$1:***@');
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out;
}

/** Deep copy of a log record or status object with every string redacted. */
export function redactDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: redact(value.message), stack: value.stack && redact(value.stack) } as T;
  }
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, depth + 1);
  return out as T;
}
