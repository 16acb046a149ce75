// Where footage is: the volumes (PLAYBACK_ROOT), the archive's bucket (PLAYBACK_S3_*), or both. The local copy comes
// first: a segment on a volume is served from it, one only in the bucket from the bucket, and a device's answers
// merge both by file name, so a segment in both is listed once.
import { HttpError } from '../lib/index.js';
import type { BucketLibrary } from './bucket-library.js';
import type { DeviceSummary, Footage, Library } from './library.js';
import type { Volumes } from './volumes.js';

/** Bucket summaries asked at once for /api/devices (each a listing and up to two day files, cached). */
const SUMMARY_CONCURRENCY = 16;

async function mapLimited<T, R>(items: readonly T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const byStart = (a: Footage, b: Footage): number => a.startMs - b.startMs || a.segment.sequence - b.segment.sequence;

export class Catalog {
  constructor(
    readonly volumes: Volumes | null,
    readonly bucket: BucketLibrary | null,
  ) {}

  /** Every device of the volumes and of the bucket, once each, by name. */
  async devices(): Promise<DeviceSummary[]> {
    const local = this.volumes ? await this.volumes.devices() : [];
    if (!this.bucket) return local;
    const bucket = this.bucket;
    const names = await bucket.deviceNames();
    const inBucket = await mapLimited(names, SUMMARY_CONCURRENCY, (device) => bucket.summary(device));
    const byName = new Map(inBucket.map((s) => [s.device, s]));
    const merged = local.map((l): DeviceSummary => {
      const b = byName.get(l.device);
      if (!b) return l;
      byName.delete(l.device);
      const min = [l.firstFootage, b.firstFootage].filter((x): x is string => x !== null).sort()[0] ?? null;
      const max = [l.lastFootage, b.lastFootage].filter((x): x is string => x !== null).sort().at(-1) ?? null;
      return { ...l, firstFootage: min, lastFootage: max, stored: 'both' };
    });
    return [...merged, ...byName.values()].sort((a, b) => a.device.localeCompare(b.device));
  }

  /** The device's footage overlapping [startMs, endMs), local first, each file once. 404 when neither has the device. */
  async footageBetween(device: string, startMs: number, endMs: number): Promise<Footage[]> {
    return this.merged(device, (library) => library.footageBetween(device, startMs, endMs), startMs, endMs);
  }

  /** Like footageBetween, each local file looked at first (one deleted without a record is taken from the bucket). */
  async footageToCut(device: string, startMs: number, endMs: number): Promise<Footage[]> {
    return this.merged(device, (library) => library.footageOnVolume(device, startMs, endMs), startMs, endMs);
  }

  /** When the device's last footage ends (ms), on a volume or in the bucket; null without footage. */
  async lastFootageEnd(device: string): Promise<number | null> {
    const local = await this.localLibrary(device);
    const ends = [local ? await local.lastFootageEnd(device) : null, (await this.inBucket(device)) ? await this.bucket!.lastFootageEnd(device) : null];
    const known = ends.filter((x): x is number => x !== null);
    if (!local && !(await this.inBucket(device))) throw new HttpError(404, `device: no recordings of ${device}`, 'not_found');
    return known.length === 0 ? null : Math.max(...known);
  }

  /** One finished segment: from a volume when it is there, else from the bucket; 404 when neither has it. */
  async file(device: string, name: string): Promise<Footage> {
    const local = await this.localLibrary(device);
    if (local) {
      try {
        return await local.file(device, name);
      } catch (err) {
        if (!(err instanceof HttpError && err.statusCode === 404) || !this.bucket) throw err;
      }
    }
    if (this.bucket && (await this.inBucket(device))) return this.bucket.file(device, name);
    throw new HttpError(404, `file: ${device}/${name} is not a finished segment ${this.bucket ? 'on a volume or in the bucket' : 'on this volume'}`, 'not_found');
  }

  /** The volume's library that holds the device, or null when no volume does (or there is none). */
  async localLibrary(device: string): Promise<Library | null> {
    if (!this.volumes) return null;
    try {
      return await this.volumes.of(device);
    } catch (err) {
      if (err instanceof HttpError && err.statusCode === 404 && this.bucket) return null;
      throw err;
    }
  }

  private async inBucket(device: string): Promise<boolean> {
    return this.bucket !== null && (await this.bucket.knows(device));
  }

  private async merged(device: string, fromVolume: (library: Library) => Promise<Footage[]>, startMs: number, endMs: number): Promise<Footage[]> {
    const local = await this.localLibrary(device);
    const onVolume = local ? await fromVolume(local) : [];
    if (!(await this.inBucket(device))) {
      if (!local) throw new HttpError(404, `device: no recordings of ${device}`, 'not_found');
      return onVolume;
    }
    const names = new Set(onVolume.map((f) => f.name));
    const archived = (await this.bucket!.footageBetween(device, startMs, endMs)).filter((f) => !names.has(f.name));
    return archived.length === 0 ? onVolume : [...onVolume, ...archived].sort(byStart);
  }
}
