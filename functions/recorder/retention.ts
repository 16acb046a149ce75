import { rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/index.js';
import { appendDeletionToJournal } from './journal-writer.js';
import type { SegmentStore } from './segment-store.js';
import type { ArchiveGuard, DeletionReason } from '../contracts/index.js';

export type { ArchiveGuard };

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
  readonly reason: DeletionReason;
}

/** The volume as the last sweep saw it; the recorder's status reports it. */
export interface VolumeReport {
  readonly freeBytes: number;
  readonly freePercent: number;
  /** `--min-free-percent`. */
  readonly floorPercent: number;
  /** Why the floor is not being restored, in one line; null while it holds or deleting restores it. */
  readonly warning: string | null;
}

export interface RetentionOutcome {
  readonly deletions: Deletion[];
  readonly volume: VolumeReport;
}

const MiB = 1 << 20;

/**
 * Deletes the oldest finished segments first. The segment being written lives in `.recording/` and is
 * never a candidate, so retention can never cut the recording it protects. With an archive (`guard`), the
 * limits delete only archived files; an unarchived one goes only below the hard floor, as `hard-floor`.
 */
export async function applyRetention(
  store: SegmentStore,
  policy: RetentionPolicy,
  log: Logger,
  now = Date.now(),
  guard: ArchiveGuard | null = null,
): Promise<RetentionOutcome> {
  const space = await statfs(store.deviceDir);
  const freeBytes = space.bavail * space.bsize;
  const volume = { freeBytes, freePercent: space.blocks === 0 ? 100 : (space.bavail / space.blocks) * 100, floorPercent: policy.minFreePercent };
  // Worked out once: file systems that free space lazily (copy-on-write, thin pools, network storage) do not
  // show a deletion in statfs at once, and deleting until statfs agrees would wipe the history.
  const below = (percent: number): number =>
    percent > 0 && space.blocks > 0 ? Math.max(0, Math.ceil((percent / 100) * space.blocks * space.bsize - freeBytes)) : 0;
  let deficit = below(policy.minFreePercent);
  let hardDeficit = guard === null ? 0 : below(guard.hardMinFreePercent);
  // Cheap checks first: listing and stat-ing every finished file after every segment is wasted when no
  // limit can be exceeded.
  if (policy.retainHours <= 0 && policy.retainBytes <= 0 && deficit === 0 && hardDeficit === 0 && (guard === null || guard.keepLocalMs <= 0)) {
    return { deletions: [], volume: { ...volume, warning: null } };
  }
  const files = await store.finishedFiles();
  const deletions: Deletion[] = [];
  let total = files.reduce((sum, f) => sum + f.bytes, 0);
  let warning: string | null = null;
  // Other data holds the volume below a floor (a disk shared with other teams, a node's root disk): deleting all
  // of this device's footage would lose the history and still miss it. Only room for the next two segments is
  // made, as an NVR overwrites its oldest footage on a full disk, and the status says why the floor is not restored.
  const headroom = Math.max(0, 2 * files.reduce((max, f) => Math.max(max, f.bytes), 0) - freeBytes);
  if (hardDeficit > total) hardDeficit = headroom;
  if (deficit > total) {
    deficit = headroom;
    warning =
      `the volume has ${volume.freePercent.toFixed(1)}% free, below the ${policy.minFreePercent}% floor, and this device's ` +
      `${files.length} finished segments (${(total / MiB).toFixed(1)} MiB) cannot make that up: other data fills the volume. ` +
      'Footage is kept; only room for the next two segments is made.';
    // Without an archive every file is the free-space rule's; with one, unarchived files go under the hard floor's.
    if (guard !== null) hardDeficit = Math.max(hardDeficit, headroom);
  }
  const remove = async (f: { path: string; bytes: number }, reason: Deletion['reason']): Promise<void> => {
    await rm(f.path, { force: true });
    total -= f.bytes;
    // Any deletion frees space, whatever its reason.
    deficit -= f.bytes;
    hardDeficit -= f.bytes;
    const deletion = { file: store.relative(f.path), bytes: f.bytes, reason };
    deletions.push(deletion);
    if (reason === 'hard-floor') log.warn(deletion, 'retention deleted a segment that was not archived yet: free space is below the hard floor');
    else log.info(deletion, 'retention deleted a segment');
    // Journaled after the file is gone, so the journal never calls a file deleted that is still there. Without
    // the record (a full volume, a crash in between) readers find the file missing when they look (playback's stat on miss).
    await appendDeletionToJournal(store.journalPath, { device: store.device, deleted: deletion.file, bytes: f.bytes, reason, at: new Date().toISOString() }).catch((err: unknown) => {
      log.warn({ err, file: deletion.file }, 'could not journal a deletion; readers find the file missing instead');
    });
  };
  const archived = guard === null ? () => true : guard.archived();
  while (files.length > 0) {
    const oldest = files[0]!;
    const age = now - oldest.mtimeMs;
    if (!archived(path.basename(oldest.path))) {
      // Not in the bucket yet: only the hard floor takes it, and that is footage lost.
      if (hardDeficit > 0) await remove(files.shift()!, 'hard-floor');
      else break;
    } else if (guard !== null && guard.keepLocalMs > 0 && age > guard.keepLocalMs) {
      await remove(files.shift()!, 'keep-local');
    } else if (policy.retainHours > 0 && age > policy.retainHours * 3_600_000) {
      await remove(files.shift()!, 'age');
    } else if (policy.retainBytes > 0 && total > policy.retainBytes) {
      await remove(files.shift()!, 'bytes');
    } else if (deficit > 0 || hardDeficit > 0) {
      await remove(files.shift()!, 'free-space');
    } else break;
  }
  return { deletions, volume: { ...volume, warning } };
}
