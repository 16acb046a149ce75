// Mending a file a crash or a full volume cut short, before it is finished: a remux (`-c copy`) into a whole
// file of the same container, replacing it only on success; put off while the volume has no room for the copy;
// a file no copy can mend is kept apart in `<device>/.damaged/`, never announced, never deleted.
import { mkdir, rm, stat, statfs, utimes } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { commitFile, moveNoReplace, toolEnv, type Logger } from '../lib/index.js';
import { formatOfFileName } from '../contracts/index.js';
import { probeFile } from './probe.js';
import { RECORDING_RULES } from './plan.js';

/** Where a repair works and what it runs: the store's folders and tools. */
export interface RepairPlace {
  readonly ffmpeg: string;
  readonly ffprobe: string;
  readonly deviceDir: string;
  readonly workDir: string;
  readonly log: Logger;
  /** A path as logs show it (relative to the storage root). */
  relative(file: string): string;
}

/**
 * Remuxes a file whose tail may be torn (crash, ENOSPC). Answers false when the volume is too full to do it
 * now: the file then stays in `.recording/` for the next attempt, since finishing it torn would announce a
 * file that does not play to its end. A file no copy can mend goes to `<device>/.damaged/`.
 */
export async function repairSegment(file: string, place: RepairPlace): Promise<boolean> {
  try {
    await remux(file, place);
    return true;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/No space left|Disk quota|ENOSPC/i.test(message) || !(await roomFor(file, place.workDir))) {
      place.log.warn({ file: place.relative(file) }, 'no space to repair an unfinished segment yet; will retry');
      return false;
    }
    // Torn beyond what a copy can mend (a short write on a full volume shifts the data): keep it apart,
    // never announce it as a playable segment, never delete it.
    const target = await moveAside(file, path.join(place.deviceDir, '.damaged'));
    place.log.error({ file: place.relative(target), err }, 'unfinished segment cannot be repaired; moved aside');
    return false;
  }
}

/** Moves `file` into `dir` under a name no other file there has; answers where it went. */
async function moveAside(file: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  let target = path.join(dir, path.basename(file));
  for (let n = 1; ; n++) {
    try {
      await moveNoReplace(file, target);
      return target;
    } catch (moveErr) {
      if ((moveErr as NodeJS.ErrnoException).code !== 'EEXIST') throw moveErr;
      target = path.join(dir, `${n}_${path.basename(file)}`);
    }
  }
}

/** Whether the volume has room for a second copy of `file` (a remux writes one before replacing). */
async function roomFor(file: string, workDir: string): Promise<boolean> {
  const [fsInfo, info] = await Promise.all([statfs(workDir), stat(file)]);
  return fsInfo.bavail * fsInfo.bsize > info.size * 1.1 + (1 << 20);
}

/** Rewrites a crash-cut file into a complete one of the same container, replacing it only on success. */
async function remux(file: string, place: RepairPlace): Promise<void> {
  const format = formatOfFileName(file);
  if (!format) return;
  const rule = RECORDING_RULES[format];
  // Not a segment extension, so a crash during the remux never leaves a second copy to recover.
  const out = `${file}.remuxing`;
  const options = format === 'mp4' ? ['-movflags', '+faststart'] : [];
  await new Promise<void>((resolve, reject) => {
    execFile(
      place.ffmpeg,
      ['-v', 'error', '-y', '-fflags', '+discardcorrupt', '-err_detect', 'ignore_err', '-i', file, '-map', '0', '-c', 'copy', ...options, '-f', rule.muxer, out],
      { timeout: 600_000, env: toolEnv() },
      (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr.slice(-500)}`)) : resolve()),
    );
  }).catch(async (err: unknown) => {
    await rm(out, { force: true });
    throw err;
  });
  const probe = await probeFile(place.ffprobe, out).catch(() => null);
  if (!probe || probe.durationSeconds <= 0) {
    await rm(out, { force: true });
    throw new Error('remuxed file has no media');
  }
  const original = await stat(file);
  await commitFile(out, file);
  // Keep the original's time, from which the start time is derived.
  await utimes(file, original.atime, original.mtime);
}
