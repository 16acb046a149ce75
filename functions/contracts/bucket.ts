// The archive bucket's layout: where a device's objects and its timeline lie under the prefix. The archive writes
// it (functions/archive); readers with no volume (playback from the bucket) find footage by it alone.
//
//   <prefix><device>/<file name>                        a finished segment's object (x-amz-meta-sha256)
//   <prefix><device>/timeline/<YYYY-MM-DD>.jsonl.gz     the journal's segment lines of one UTC day, gzipped
import path from 'node:path';

/**
 * The Secret the operator creates beside control, which control's recorder Deployments take the AWS keys from by
 * `secretKeyRef` (keys `accessKeyId`, `secretAccessKey`): control names it without loading the archive.
 */
export const ARCHIVE_SECRET = 'shifu-rtsp-archive';

/** Every key of one device starts so: `<prefix><device>/`. */
export function bucketDevicePrefix(prefix: string, device: string): string {
  return `${prefix}${device}/`;
}

/** A segment's object: `<prefix><device>/<file name>`, its journal `file`'s name under the device's prefix. */
export function segmentObjectKey(devicePrefix: string, file: string): string {
  return `${devicePrefix}${path.posix.basename(file)}`;
}

/** The folder of a device's day files: `<prefix><device>/timeline/`. */
export function timelineFolder(devicePrefix: string): string {
  return `${devicePrefix}timeline/`;
}

/** The day file of one UTC day (`YYYY-MM-DD`): the segment lines of the archived segments that touch that day. */
export function timelineDayKey(devicePrefix: string, day: string): string {
  return `${timelineFolder(devicePrefix)}${day}.jsonl.gz`;
}

const DAY_MS = 86_400_000;

/**
 * The UTC days (`YYYY-MM-DD`) that [start, end) touches, oldest first; at least start's. A segment is listed in the
 * day file of each, so a reader of one day GETs that day's file only, even for a segment that began the day before.
 */
export function utcDaysOf(start: Date, end: Date): string[] {
  const first = Math.floor(start.getTime() / DAY_MS);
  const last = Math.max(first, Math.floor((end.getTime() - 1) / DAY_MS));
  const days: string[] = [];
  for (let d = first; d <= last; d++) days.push(new Date(d * DAY_MS).toISOString().slice(0, 10));
  return days;
}
