import { rm, statfs } from 'node:fs/promises';
import type { Logger } from '../lib/index.js';
import { appendDeletionToJournal } from './journal-writer.js';
import type { SegmentStore } from './segment-store.js';

export interface RetentionPolicy {
  /** Delete finished segments older than this many hours (0: keep). */
  readonly retainHours: number;
  /** Keep at most this many bytes of finished segments (0: no limit). */
  readonly retainBytes: number;
  /** Delete the oldest segments while the volume has less free space than this. */
  readonly minFreePercent: number;
}

export interface Deletion {
  readonly file: string;
  readonly bytes: number;
  readonly reason: 'age' | 'bytes' | 'free-space';
}

/** Bytes to free on the file system that holds `dir` to get back to `minFreePercent` free (0: enough). */
export async function freeSpaceDeficit(dir: string, minFreePercent: number): Promise<number> {
  const s = await statfs(dir);
  if (s.blocks === 0) return 0;
  return Math.max(0, Math.ceil(((minFreePercent / 100) * s.blocks - s.bavail) * s.bsize));
}

/**
 * Deletes the oldest finished segments first. The segment being written lives in `.recording/` and is
 * never a candidate, so retention can never cut the recording it protects.
 */
export async function applyRetention(
  store: SegmentStore,
  policy: RetentionPolicy,
  log: Logger,
  now = Date.now(),
): Promise<Deletion[]> {
  // Cheap checks first: listing and stat-ing every finished file after every segment is wasted when no
  // limit can be exceeded.
  const ageOrSize = policy.retainHours > 0 || policy.retainBytes > 0;
  // Worked out once: file systems that free space lazily (copy-on-write, thin pools, network storage) do not
  // show a deletion in statfs at once, and deleting until statfs agrees would wipe the history.
  let deficit = policy.minFreePercent > 0 ? await freeSpaceDeficit(store.deviceDir, policy.minFreePercent) : 0;
  if (!ageOrSize && deficit === 0) return [];
  const files = await store.finishedFiles();
  const deletions: Deletion[] = [];
  let total = files.reduce((sum, f) => sum + f.bytes, 0);
  const remove = async (f: { path: string; bytes: number }, reason: Deletion['reason']): Promise<void> => {
    await rm(f.path, { force: true });
    total -= f.bytes;
    // Any deletion frees space, whatever its reason.
    deficit -= f.bytes;
    const deletion = { file: store.relative(f.path), bytes: f.bytes, reason };
    deletions.push(deletion);
    log.info(deletion, 'retention deleted a segment');
    // Journaled after the file is gone, so the journal never calls a file deleted that is still there. Without
    // the record (a full volume, a crash in between) readers find the file missing when they look (playback's stat on miss).
    await appendDeletionToJournal(store.journalPath, { device: store.device, deleted: deletion.file, bytes: f.bytes, reason, at: new Date().toISOString() }).catch((err: unknown) => {
      log.warn({ err, file: deletion.file }, 'could not journal a deletion; readers find the file missing instead');
    });
  };
  while (files.length > 0) {
    const oldest = files[0]!;
    if (policy.retainHours > 0 && now - oldest.mtimeMs > policy.retainHours * 3_600_000) {
      await remove(files.shift()!, 'age');
    } else if (policy.retainBytes > 0 && total > policy.retainBytes) {
      await remove(files.shift()!, 'bytes');
    } else if (deficit > 0) {
      await remove(files.shift()!, 'free-space');
    } else break;
  }
  return deletions;
}
