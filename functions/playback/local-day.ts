// The viewer's day: a calendar date in an IANA time zone, from its local midnight to the next (23 or 25 hours
// on the days clocks change). /api/timeline's window comes from here; the page draws whatever window it gets.
import { HttpError } from '../lib/index.js';

/** A local day: its date in the zone and the instants it starts and ends (end exclusive). */
export interface LocalDay {
  readonly timeZone: string;
  /** `YYYY-MM-DD` in `timeZone`. */
  readonly day: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** The window /api/timeline answers for: the local day it lies in when it is one, else null for `day`. */
export interface TimelineWindow {
  readonly timeZone: string;
  readonly day: string | null;
  readonly startMs: number;
  readonly endMs: number;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const HOUR_MS = 3600 * 1000;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per zone: building one costs far more than formatting with it. */
function dateFormat(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** An IANA zone name from a request (`tz`); absent or empty: UTC, as before the parameter existed. */
export function parseTimeZone(value: string | null, parameter = 'tz'): string {
  if (value === null || value === '') return 'UTC';
  try {
    // Intl throws a RangeError for a name it does not know. The name is kept as given: ICU's canonical one
    // can be the older alias (Asia/Kolkata resolves to Asia/Calcutta).
    dateFormat(value);
    return value;
  } catch {
    throw new HttpError(400, `${parameter}: unknown time zone ${JSON.stringify(value.slice(0, 64))}; expected an IANA name such as Europe/Berlin or UTC`);
  }
}

/** The date (`YYYY-MM-DD`) an instant falls on in a zone. */
export function localDateOf(ms: number, timeZone: string): string {
  const parts = dateFormat(timeZone).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/**
 * The first instant whose local date is `date` or later: local midnight, or the first minute after it where
 * a zone skips midnight. Searched, not computed from an offset, so any rule the zone database holds is right.
 */
function firstInstantOf(date: string, timeZone: string): number {
  const [, y, m, d] = DATE.exec(date)!;
  const utcMidnight = Date.UTC(Number(y), Number(m) - 1, Number(d));
  // Every zone's offset lies within ±14 h (plus slack): the local day starts inside this bracket.
  let lo = utcMidnight - 16 * HOUR_MS;
  let hi = utcMidnight + 16 * HOUR_MS;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (localDateOf(mid, timeZone) >= date) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The day after `YYYY-MM-DD` on the calendar. */
function nextDate(date: string): string {
  const [, y, m, d] = DATE.exec(date)!;
  return new Date(Date.UTC(Number(y), Number(m) - 1, Number(d) + 1)).toISOString().slice(0, 10);
}

/** A local date in a zone, from its first instant to the next day's. */
export function localDay(date: string, timeZone: string): LocalDay {
  return { timeZone, day: date, startMs: firstInstantOf(date, timeZone), endMs: firstInstantOf(nextDate(date), timeZone) };
}

/** The local day an instant falls on. */
export function localDayOf(ms: number, timeZone: string): LocalDay {
  return localDay(localDateOf(ms, timeZone), timeZone);
}

function parseDate(value: string, parameter: string): string {
  const m = DATE.exec(value);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || !Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new HttpError(400, `${parameter}: expected a date YYYY-MM-DD, e.g. 2026-11-24`);
  }
  return value;
}

function parseTime(query: URLSearchParams, name: string): number | null {
  const v = query.get(name);
  if (v === null || v === '') return null;
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new HttpError(400, `${name}: expected an ISO 8601 time, e.g. 2026-11-24T00:00:00Z`);
  return ms;
}

/**
 * /api/timeline's window from its query: `start`/`end` as given; else the local day `day` in `tz`; else the
 * local day in `tz` of the last footage (its last instant, so footage ending at midnight is that day's), or of
 * `nowMs` without footage. A missing `end` is a day after `start`, as before `tz` existed.
 */
export function timelineWindow(query: URLSearchParams, lastFootageEndMs: number | null, nowMs: number): TimelineWindow {
  const timeZone = parseTimeZone(query.get('tz'));
  const dayParam = query.get('day');
  const start = parseTime(query, 'start');
  const end = parseTime(query, 'end');
  if (dayParam !== null && dayParam !== '' && (start !== null || end !== null)) throw new HttpError(400, 'day: give day or start/end, not both');
  if (start === null) {
    const day = dayParam !== null && dayParam !== '' ? localDay(parseDate(dayParam, 'day'), timeZone) : localDayOf(lastFootageEndMs === null ? nowMs : lastFootageEndMs - 1, timeZone);
    if (end !== null && end <= day.startMs) throw new HttpError(400, 'end: must be after start');
    return end === null ? day : { timeZone, day: null, startMs: day.startMs, endMs: end };
  }
  const endMs = end ?? start + 24 * HOUR_MS;
  if (endMs <= start) throw new HttpError(400, 'end: must be after start');
  return { timeZone, day: null, startMs: start, endMs };
}
