// Crash recovery: what a crash (or a volume too full to repair on) left in `.recording/` is finished as a
// recovered segment, after the store has completed the moves it had journaled. The running ffmpeg's files are
// left alone.
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/index.js';
import type { Segment } from '../contracts/index.js';
import { probeFile } from './probe.js';
import type { SegmentStore } from './segment-store.js';

export interface RecoveryOptions {
  readonly ffprobe: string;
  readonly log: Logger;
  /** File-name stem of the ffmpeg run writing now: its files are not leftovers. */
  readonly activeStem?: string | undefined;
}

/**
 * Finishes what a crash left in `.recording/`: remuxes each file (`-c copy`) so that its index is whole,
 * and journals it as recovered. A file with no media in it is removed; one that cannot be read yet stays.
 */
export async function recoverSegments(store: SegmentStore, o: RecoveryOptions): Promise<Segment[]> {
  const { activeStem, log } = o;
  const recovered: Segment[] = [];
  // Journaled files first: they are finished already and must not be recovered a second time.
  await store.completeJournaled(activeStem);
  for (const name of await readdir(store.workDir).catch(() => [] as string[])) {
    if (name.endsWith('.remuxing') && (activeStem === undefined || !name.startsWith(activeStem))) {
      await rm(path.join(store.workDir, name), { force: true });
    }
  }
  for (const file of await store.openFiles()) {
    // The run that is recording right now owns its files.
    if (activeStem !== undefined && path.basename(file).startsWith(activeStem)) continue;
    const info = await stat(file).catch(() => null);
    if (!info) continue;
    const probe = await probeFile(o.ffprobe, file).catch(() => null);
    if (!probe || probe.durationSeconds <= 0) {
      if (info.size < 4096) {
        log.warn({ file: store.relative(file), bytes: info.size }, 'removing an unfinished segment with no media');
        await rm(file, { force: true });
      } else log.error({ file: store.relative(file) }, 'unfinished segment is unreadable; left in place');
      continue;
    }
    if (!(await store.repair(file))) continue;
    try {
      const segment = await store.finish({ tempPath: file, startMs: null, endMs: info.mtimeMs, plan: null, recovered: true, gapBeforeSeconds: 0, listedSeconds: null });
      log.info({ file: segment.file, durationSeconds: segment.durationSeconds }, 'recovered unfinished segment');
      recovered.push(segment);
    } catch (err) {
      log.error({ err, file: store.relative(file) }, 'could not finish a recovered segment; will retry');
    }
  }
  return recovered;
}
