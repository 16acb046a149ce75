// Archiving as the recorder command attaches it: nothing of it loads (no AWS SDK) unless a bucket is set.
import type { Registry } from 'prom-client';
import type { Logger } from '../lib/index.js';
import type { ArchivedRecorder } from '../contracts/index.js';
import type { ArchiveReporting, ArchiveStatus } from './archiver.js';
import type { ArchiveTarget } from './options.js';

export interface Archive {
  status(): ArchiveStatus;
  metrics(registry: Registry): void;
  /** Stops archiving; what is pending is uploaded after the next start. */
  close(): Promise<void>;
}

/**
 * Before the recorder opens (its first retention sweep): while archiving is on, nothing counts as archived until
 * the archive has read the journal, so no limit deletes a segment that may not be in the bucket.
 */
export function holdRetentionForArchive(recorder: ArchivedRecorder, target: ArchiveTarget | null): void {
  if (target === null) return;
  recorder.guardRetention({ archived: () => () => false, keepLocalMs: target.keepLocalMs, hardMinFreePercent: target.hardMinFreePercent });
}

/**
 * Starts archiving the recorder's finished segments to `target` (from `archiveTarget`: null when no bucket is set,
 * and then nothing loads). Call it after `recorder.open()`, which finishes what a crash left, so the journal it
 * follows is whole.
 */
export async function attachArchive(recorder: ArchivedRecorder, target: ArchiveTarget | null, log: Logger, report: ArchiveReporting): Promise<Archive | null> {
  if (target === null) return null;
  const [{ Archiver }, { registerArchiveMetrics }] = await Promise.all([import('./archiver.js'), import('./metrics.js')]);
  const archiver = await Archiver.start(recorder, target, log.child({ module: 'archive' }), report);
  return {
    status: () => archiver.status(),
    metrics: (registry) => registerArchiveMetrics(registry, recorder.settings.device, archiver),
    close: () => archiver.close(),
  };
}
