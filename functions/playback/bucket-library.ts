// Footage in the archive's bucket (issue 25), for a server with no volume or beside one: devices from the folders
// under the prefix, a device's footage from its day files (one GET per UTC day, kept in a bounded cache and asked
// again only whether they changed), segment bytes by ranged GETs. Every failure to read the bucket is a 503 naming
// the device and the cause's kind, never an empty answer and never a secret.
import path from 'node:path';
import type { BucketTimeline, DayFile, RangedObject } from '../archive/index.js';
import { parseSegmentFileName, utcDaysOf, type Segment } from '../contracts/index.js';
import { HttpError } from '../lib/index.js';
import type { DeviceSummary, Footage } from './library.js';

/** A request spans at most this many UTC days of day files: no request reads a year of anything. */
export const MAX_BUCKET_DAYS = 31;
/** The bucket's folders (devices) and a device's list of days are listed again after this long. */
export const BUCKET_LIST_TTL_MS = 30_000;
/** Today's and yesterday's day files change while the archive writes them: asked again (If-None-Match) after this. */
export const RECENT_DAY_TTL_MS = 5_000;
/** Older days change only when an outage's backlog drains into them: asked again after this. */
export const PAST_DAY_TTL_MS = 600_000;
/** The day cache holds at most this many segment lines (about 1 KiB each): about 20 MiB at worst. */
export const MAX_CACHED_SEGMENTS = 20_000;

const DAY_MS = 86_400_000;
const RETRY_AFTER_SECONDS = '30';

interface CachedDay {
  readonly file: DayFile;
  checkedAt: number;
}

interface Cached<T> {
  readonly value: T;
  readonly at: number;
}

export interface BucketLibraryOptions {
  readonly timeline: BucketTimeline;
  readonly now?: () => number;
  readonly maxCachedSegments?: number;
  /** Told of each request to the bucket: its kind and outcome (`ok`, `not_modified`, or the failure's kind). */
  readonly onRequest?: (kind: 'devices' | 'days' | 'day_file' | 'object', outcome: string) => void;
  /** Told of each day-file look-up: whether the cache answered. */
  readonly onLookup?: (hit: boolean) => void;
}

/** The failure's kind, as the archive's reader names it (BucketTimelineError, BucketReadError), else `server`. */
const kindOf = (err: unknown): string => {
  const kind = (err as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? kind : 'server';
};

/** The answer to a bucket failure: 503 naming what was read and why, in the reader's words (no secret in them). */
export function bucketUnavailable(device: string | null, err: unknown): HttpError {
  const what = device === null ? 'devices' : `device: ${device}`;
  const reason = err instanceof Error ? err.message : String(err);
  return new HttpError(503, `${what}: the bucket cannot be read (${kindOf(err)}): ${reason}`, 'bucket_unavailable', { 'retry-after': RETRY_AFTER_SECONDS });
}

export class BucketLibrary {
  private readonly timeline: BucketTimeline;
  private readonly now: () => number;
  private readonly maxSegments: number;
  private readonly onRequest: NonNullable<BucketLibraryOptions['onRequest']>;
  private readonly onLookup: NonNullable<BucketLibraryOptions['onLookup']>;
  /** Day files by `<device>/<day>`, least recently used first (a Map keeps insertion order). */
  private readonly days = new Map<string, CachedDay>();
  private cachedSegments = 0;
  /** Reads in flight, so two requests for one day file make one GET. */
  private readonly reading = new Map<string, Promise<DayFile>>();
  private deviceList: Cached<string[]> | null = null;
  private readonly dayLists = new Map<string, Cached<string[]>>();

  constructor(o: BucketLibraryOptions) {
    this.timeline = o.timeline;
    this.now = o.now ?? Date.now;
    this.maxSegments = o.maxCachedSegments ?? MAX_CACHED_SEGMENTS;
    this.onRequest = o.onRequest ?? (() => undefined);
    this.onLookup = o.onLookup ?? (() => undefined);
  }

  /** `request`, counted by kind and outcome. */
  private async counted<T>(kind: 'devices' | 'days' | 'day_file' | 'object', request: Promise<T>, outcome: (value: T) => string = () => 'ok'): Promise<T> {
    try {
      const value = await request;
      this.onRequest(kind, outcome(value));
      return value;
    } catch (err) {
      this.onRequest(kind, kindOf(err));
      throw err;
    }
  }

  /** The devices with folders under the prefix (a listing by delimiter, cached BUCKET_LIST_TTL_MS). */
  async deviceNames(): Promise<string[]> {
    return this.listDevices(null);
  }

  /** Whether the bucket has a folder for the device; a failure to list is a 503 naming the device. */
  async knows(device: string): Promise<boolean> {
    return (await this.listDevices(device)).includes(device);
  }

  private async listDevices(asking: string | null): Promise<string[]> {
    if (this.deviceList && this.now() - this.deviceList.at < BUCKET_LIST_TTL_MS) return this.deviceList.value;
    const value = await this.counted('devices', this.timeline.devices()).catch((err: unknown) => {
      throw bucketUnavailable(asking, err);
    });
    this.deviceList = { value, at: this.now() };
    return value;
  }

  /**
   * A device as the bucket knows it: its first and last footage from its first and last day files. How many
   * segments and bytes would take every day file: null (the page says "in the bucket").
   */
  async summary(device: string): Promise<DeviceSummary> {
    const days = await this.dayList(device);
    const first = days[0] === undefined ? undefined : (await this.day(device, days[0])).segments[0];
    const lastEnd = await this.lastFootageEnd(device);
    const iso = (ms: number): string => new Date(ms).toISOString();
    return {
      device,
      firstFootage: first ? first.startTime : null,
      lastFootage: lastEnd === null ? null : iso(lastEnd),
      bytes: null,
      segments: null,
      recorder: { state: 'idle', lastSegmentEnd: lastEnd === null ? null : iso(lastEnd), lastSegmentRecovered: false },
      stored: 'bucket',
    };
  }

  /** When the device's last archived footage ends (ms), from its last day file; null without any. */
  async lastFootageEnd(device: string): Promise<number | null> {
    const days = await this.dayList(device);
    for (const day of days.slice(-2).reverse()) {
      const segments = (await this.day(device, day)).segments;
      if (segments.length > 0) return Math.max(...segments.map((s) => Date.parse(s.endTime)));
    }
    return null;
  }

  /** The device's archived segments that overlap [startMs, endMs), by start; 400 past MAX_BUCKET_DAYS days. */
  async footageBetween(device: string, startMs: number, endMs: number): Promise<Footage[]> {
    if (!(startMs < endMs)) return [];
    const from = Number.isFinite(startMs) ? startMs : null;
    const to = Number.isFinite(endMs) ? endMs : null;
    if (from === null || to === null) throw new HttpError(400, `end: a range in the bucket is at most ${MAX_BUCKET_DAYS} days`);
    const days = utcDaysOf(new Date(from), new Date(to));
    if (days.length > MAX_BUCKET_DAYS) throw new HttpError(400, `end: a range in the bucket is at most ${MAX_BUCKET_DAYS} days (asked ${days.length})`);
    const byFile = new Map<string, Segment>();
    for (const day of days) {
      // A segment across midnight is in both days' files.
      for (const s of (await this.day(device, day)).segments) if (Date.parse(s.startTime) < to && Date.parse(s.endTime) > from) byFile.set(s.file, s);
    }
    return [...byFile.values()].sort((a, b) => a.startTime.localeCompare(b.startTime) || a.sequence - b.sequence).map((s) => footageOf(device, s));
  }

  /** One archived segment by file name, from the day file of the day its name starts (or the day before); 404 otherwise. */
  async file(device: string, name: string): Promise<Footage> {
    const named = parseSegmentFileName(device, name);
    if (named) {
      const dayMs = Math.floor(named.startMs / DAY_MS) * DAY_MS;
      for (const day of utcDaysOf(new Date(dayMs - DAY_MS), new Date(dayMs + DAY_MS)).reverse()) {
        const found = (await this.day(device, day)).segments.find((s) => path.posix.basename(s.file) === name);
        if (found) return footageOf(device, found);
      }
    }
    throw new HttpError(404, `file: ${device}/${name} is not a segment in the bucket`, 'not_found');
  }

  /** A segment's bytes: one GET, ranged when `range` is given. 'unsatisfiable': the range is past its end. */
  async stream(device: string, name: string, range: string | undefined, signal: AbortSignal): Promise<RangedObject | 'unsatisfiable'> {
    return this.counted('object', this.timeline.object(device, name, range, signal), (got) => (got === 'unsatisfiable' ? 'unsatisfiable' : 'ok')).catch((err: unknown) => {
      throw bucketUnavailable(device, err);
    });
  }

  close(): void {
    this.timeline.close();
  }

  private async dayList(device: string): Promise<string[]> {
    const cached = this.dayLists.get(device);
    if (cached && this.now() - cached.at < BUCKET_LIST_TTL_MS) return cached.value;
    // Past days only grow at the end: list from the last one known (a request per 1000 days) up to tomorrow.
    const known = cached?.value ?? [];
    const from = known.at(-1) === undefined ? new Date(0) : new Date(`${known.at(-1)}T00:00:00Z`);
    const added = await this.counted('days', this.timeline.days(device, from, new Date(this.now() + 2 * DAY_MS))).catch((err: unknown) => {
      throw bucketUnavailable(device, err);
    });
    const value = [...known, ...added.filter((d) => d > (known.at(-1) ?? ''))];
    this.dayLists.set(device, { value, at: this.now() });
    return value;
  }

  /** One day file, from the cache while fresh; else asked again with its ETag (304: kept). */
  private async day(device: string, day: string): Promise<DayFile> {
    const key = `${device}/${day}`;
    const cached = this.days.get(key);
    const recent = Date.parse(`${day}T00:00:00Z`) >= Math.floor(this.now() / DAY_MS) * DAY_MS - DAY_MS;
    const fresh = cached !== undefined && this.now() - cached.checkedAt < (recent ? RECENT_DAY_TTL_MS : PAST_DAY_TTL_MS);
    this.onLookup(fresh);
    if (cached && fresh) {
      this.touch(key, cached);
      return cached.file;
    }
    const inFlight = this.reading.get(key);
    if (inFlight) return inFlight;
    const read = this.counted('day_file', this.timeline.day(device, day, cached?.file.etag ?? null), (got) => (got === 'unchanged' ? 'not_modified' : 'ok'))
      .then((got) => {
        const file = got === 'unchanged' && cached ? cached.file : got === 'unchanged' ? { segments: [], etag: '' } : got;
        this.keep(key, { file, checkedAt: this.now() });
        return file;
      })
      .catch((err: unknown) => {
        throw bucketUnavailable(device, err);
      })
      .finally(() => this.reading.delete(key));
    this.reading.set(key, read);
    return read;
  }

  private touch(key: string, entry: CachedDay): void {
    this.days.delete(key);
    this.days.set(key, entry);
  }

  private keep(key: string, entry: CachedDay): void {
    const old = this.days.get(key);
    if (old) this.cachedSegments -= old.file.segments.length;
    this.days.delete(key);
    this.days.set(key, entry);
    this.cachedSegments += entry.file.segments.length;
    for (const [k, e] of this.days) {
      if (this.cachedSegments <= this.maxSegments || k === key) break;
      this.days.delete(k);
      this.cachedSegments -= e.file.segments.length;
    }
  }
}

/** An archived segment as footage: `object` set, `path` empty (its bytes are only in the bucket). */
function footageOf(device: string, s: Segment): Footage {
  return { segment: s, name: path.posix.basename(s.file), path: '', object: `${device}/${path.posix.basename(s.file)}`, startMs: Date.parse(s.startTime), endMs: Date.parse(s.endTime) };
}
