/** Longest wait a sink may ask for: a broken header must not park delivery for days. */
export const RETRY_AFTER_CAP_MS = 3_600_000;

/**
 * `Retry-After` as milliseconds to wait: delta-seconds (`120`) or an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`).
 * Null when absent or unreadable (the caller then backs off on its own). Dates in the past mean "now".
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text === '') return null;
  if (/^\d+$/.test(text)) return Math.min(RETRY_AFTER_CAP_MS, Number(text) * 1000);
  // Only date forms: Date.parse also reads bare numbers like "1.5" or "-3", which the header forbids.
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.min(RETRY_AFTER_CAP_MS, Math.max(0, at - now));
}
