// Durations as people write them in a query or a variable: `300`, `300s`, `5m`, `1h30m`, `6h`, `7d`, `PT5M`.
import { z } from 'zod';

const PATTERN = /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$/i;

/** Seconds, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const value = text.trim().replace(/^PT/i, '');
  if (value === '') return null;
  const m = PATTERN.exec(value);
  if (!m || m.slice(1).every((part) => part === undefined)) return null;
  return Number(m[1] ?? 0) * 86_400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

/** A positive duration setting (e.g. PLAYBACK_MAX_CLIP, ARCHIVE_KEEP_LOCAL), in seconds. */
export const zDuration = z.string().transform((text, ctx) => {
  const seconds = parseDuration(text);
  if (seconds === null || seconds <= 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 7d, 6h, 90m, 1h30m or 3600 (seconds)' });
    return z.NEVER;
  }
  return seconds;
});
