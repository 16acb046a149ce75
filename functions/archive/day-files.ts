// The timeline in the bucket: per UTC day, one object holding the journal's segment lines of the archived segments
// that touch that day (contracts/bucket.ts names it, contracts/journal.ts is its one schema), gzipped. S3 has no
// append, so a day file is rewritten whole, GET, merge, PUT: a reader sees the old version or the new one, never
// half. The merge is a set by `file`, so writing a segment again (after a restart or a kill -9) changes nothing.
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { parseJournal, timelineDayKey, utcDaysOf, type Segment } from '../contracts/index.js';
import type { Bucket } from './bucket.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** A day file that is not gzip: the timeline cannot be trusted, and is never taken for an empty day. */
export class DayFileDamagedError extends Error {
  constructor(readonly key: string) {
    super(`the timeline day file ${key} is not a gzip of journal lines`);
    this.name = 'DayFileDamagedError';
  }
}

/** The segments of a day file's bytes, oldest first. */
export async function decodeDayFile(key: string, body: Uint8Array): Promise<Segment[]> {
  let text: string;
  try {
    text = (await gunzipAsync(body)).toString('utf8');
  } catch {
    throw new DayFileDamagedError(key);
  }
  return parseJournal(text);
}

/** `segments` and `added` as one set by `file` (a segment written again replaces itself), by start time. */
export function mergeDay(segments: readonly Segment[], added: readonly Segment[]): Segment[] {
  const byFile = new Map<string, Segment>();
  for (const s of [...segments, ...added]) byFile.set(s.file, s);
  return [...byFile.values()].sort((a, b) => a.startTime.localeCompare(b.startTime) || a.sequence - b.sequence);
}

async function encodeDayFile(segments: readonly Segment[]): Promise<Buffer> {
  return gzipAsync(segments.map((s) => `${JSON.stringify(s)}\n`).join(''));
}

/** Segments grouped by the UTC days they touch. */
function byDay(segments: readonly Segment[]): Map<string, Segment[]> {
  const days = new Map<string, Segment[]>();
  for (const s of segments) {
    for (const day of utcDaysOf(new Date(s.startTime), new Date(s.endTime))) (days.get(day) ?? days.set(day, []).get(day)!).push(s);
  }
  return days;
}

/**
 * Adds archived segments (their objects complete) to the day files under `devicePrefix`: per day they touch, the
 * day file is read (none yet: empty), merged with them and written whole. Resolves once every day file holds them.
 */
export async function addToDayFiles(bucket: Bucket, devicePrefix: string, segments: readonly Segment[]): Promise<void> {
  for (const [day, added] of byDay(segments)) {
    const key = timelineDayKey(devicePrefix, day);
    const body = await bucket.read(key);
    const existing = body === null ? [] : await decodeDayFile(key, body);
    await bucket.write(key, await encodeDayFile(mergeDay(existing, added)), 'application/gzip');
  }
}

/** The segments of one day file under `devicePrefix`: [] when there is none (nothing archived that day). */
export async function readDayFile(bucket: Bucket, devicePrefix: string, day: string): Promise<Segment[]> {
  const key = timelineDayKey(devicePrefix, day);
  const body = await bucket.read(key);
  return body === null ? [] : decodeDayFile(key, body);
}
