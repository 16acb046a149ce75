// The device's segments on the volume: its folders, the journal's sequence, and finishing a closed file (measure,
// hash, journal, move to a free final name) so that a crash at any point loses nothing and announces nothing
// twice. Repairs are segment-repair.ts's; what to recover after a crash, crash-recovery.ts's.
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { moveNoReplace, sha256OfFile, syncDir, type Logger } from '../lib/index.js';
import {
  absoluteSegmentPath,
  deviceDirOf,
  finishedSegmentName,
  formatOfFileName,
  isSegmentFileName,
  journalFromEnd,
  journalPathOf,
  lastJournaled,
  recordingDirOf,
  segmentStem,
  stateDirOf,
  type Segment,
} from '../contracts/index.js';
import { appendToJournal } from './journal-writer.js';
import { probeFile, type FileProbe } from './probe.js';
import { RECORDING_RULES, type RecordingPlan } from './plan.js';
import { repairSegment } from './segment-repair.js';

export interface SegmentStoreOptions {
  /** Storage root (`--out`, FileSavePath). */
  readonly root: string;
  readonly device: string;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  readonly log: Logger;
}

/** What the recorder knows about a closed file when it hands it over. */
export interface ClosedFile {
  readonly tempPath: string;
  /** Wall-clock start, when known from the run (its previous cut); otherwise end minus media duration. */
  readonly startMs: number | null;
  /** Wall-clock end, when known from the run (the cut, at the next segment's first keyframe); otherwise the file's mtime. */
  readonly endMs: number | null;
  readonly plan: RecordingPlan | null;
  readonly recovered: boolean;
  readonly gapBeforeSeconds: number;
  /**
   * Media seconds from ffmpeg's segment list (next cut minus this cut, in stream time), when it can be
   * trusted: not for a run's first segment, which the list dates from 0 though its media starts later.
   * Null: ffprobe measures the file.
   */
  readonly listedSeconds: number | null;
}

/** How many of the journal's newest entries recovery checks for a file still in `.recording/`. */
const JOURNAL_ENTRIES_TO_COMPLETE = 8;

/** The device's folders on the volume (their layout and the names in them: contracts/volume.ts). */
export class SegmentStore {
  readonly device: string;
  readonly deviceDir: string;
  readonly workDir: string;
  readonly stateDir: string;
  /** The journal of finished segments (see `journal.ts`). */
  readonly journalPath: string;
  private nextSequence = 1;
  private last: Segment | null = null;

  constructor(private readonly o: SegmentStoreOptions) {
    this.device = o.device;
    this.deviceDir = deviceDirOf(o.root, o.device);
    this.workDir = recordingDirOf(o.root, o.device);
    this.stateDir = stateDirOf(o.root, o.device);
    this.journalPath = journalPathOf(o.root, o.device);
  }

  /** Creates the folders and reads the journal's last sequence number. */
  async open(): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
    await mkdir(this.stateDir, { recursive: true });
    // A torn last line from a power cut is skipped: the file itself is still found by recovery or retention.
    // Only the last line counts, so only the end is read: a journal grows for as long as the camera records.
    this.last = await lastJournaled(this.journalPath);
    if (this.last) this.nextSequence = this.last.sequence + 1;
  }

  get lastSegment(): Segment | null {
    return this.last;
  }

  /** Files ffmpeg is writing or left behind (relative to the root). */
  async openFiles(): Promise<string[]> {
    const names = await readdir(this.workDir).catch(() => [] as string[]);
    return names.filter((n) => formatOfFileName(n) !== undefined).map((n) => path.join(this.workDir, n));
  }

  /** Finished segment files, oldest first, with sizes (for retention). */
  async finishedFiles(): Promise<Array<{ path: string; bytes: number; mtimeMs: number }>> {
    const names = (await readdir(this.deviceDir).catch(() => [] as string[])).filter((n) => isSegmentFileName(this.o.device, n)).sort();
    const out: Array<{ path: string; bytes: number; mtimeMs: number }> = [];
    for (const name of names) {
      const full = path.join(this.deviceDir, name);
      const s = await stat(full).catch(() => null);
      if (s?.isFile()) out.push({ path: full, bytes: s.size, mtimeMs: s.mtimeMs });
    }
    return out;
  }

  relative(file: string): string {
    return path.relative(this.o.root, file).split(path.sep).join('/');
  }

  /**
   * One finisher at a time (the recorder's segment queue and crash recovery both finish files): a sequence
   * number is taken only under this queue, so two finishers never share one.
   */
  private queue: Promise<unknown> = Promise.resolve();
  /** Final paths journaled whose file could not be moved there yet (kept from other names until it is). */
  private readonly pendingTargets = new Set<string>();

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Measures and hashes a closed file where ffmpeg wrote it, journals it (fsynced) under its final name, then
   * moves it there and fsyncs the folder. A crash at any point leaves either an unjournaled file in
   * `.recording/` (recovered as before) or a journaled one there, which `recover` moves to its final name:
   * never a file under its final name that the journal does not know.
   */
  finish(closed: ClosedFile): Promise<Segment> {
    return this.serially(() => this.finishNow(closed));
  }

  private async finishNow(closed: ClosedFile): Promise<Segment> {
    const info = await stat(closed.tempPath);
    // An ffprobe per segment costs more CPU than the recorder spends on anything else, so only files whose
    // duration or streams the run cannot tell (a run's first segment, recovered files) are probed.
    const listed = closed.plan !== null && closed.listedSeconds !== null && closed.listedSeconds > 0 ? closed.listedSeconds : null;
    const probe = listed === null ? await probeFile(this.o.ffprobe, closed.tempPath) : null;
    const durationSeconds = listed ?? probe?.durationSeconds ?? 0;
    // Without a previous cut, start = end - duration: ffmpeg's list dates a run's first segment from 0,
    // before its first keyframe.
    const endMs = closed.endMs ?? info.mtimeMs;
    const startMs = closed.startMs ?? endMs - durationSeconds * 1000;
    const start = new Date(Math.round(startMs));
    const format = closed.plan?.format ?? formatOfFileName(closed.tempPath) ?? 'mp4';
    const rule = RECORDING_RULES[format];
    const target = await this.freeName(segmentStem(this.o.device, start), rule.extension);
    const { video, audio } = mediaOf(closed.plan, probe);
    const segment: Segment = {
      file: this.relative(target),
      absolutePath: target,
      device: this.o.device,
      sequence: this.nextSequence,
      startTime: start.toISOString(),
      endTime: new Date(Math.round(endMs)).toISOString(),
      durationSeconds: Math.round(durationSeconds * 1000) / 1000,
      bytes: info.size,
      sha256: (await sha256OfFile(closed.tempPath)).digest('hex'),
      format,
      mimeType: rule.mimeType,
      video,
      audio,
      recovered: closed.recovered,
      gapBeforeSeconds: Math.round(closed.gapBeforeSeconds * 1000) / 1000,
    };
    // Unjournaled, the file stays in .recording/ and the next recovery finishes it; the number is not used.
    await appendToJournal(this.journalPath, segment);
    this.nextSequence++;
    this.last = segment;
    try {
      await this.moveToFinalName(closed.tempPath, target);
    } catch (err) {
      // Journaled, so it is completed by the next recovery (which finds it by size and hash).
      this.pendingTargets.add(target);
      throw err;
    }
    return segment;
  }

  private async moveToFinalName(from: string, target: string): Promise<void> {
    await moveNoReplace(from, target);
    await syncDir(this.deviceDir);
    await syncDir(this.workDir);
    this.pendingTargets.delete(target);
  }

  private async freeName(stem: string, ext: string): Promise<string> {
    for (let n = 0; ; n++) {
      const candidate = path.join(this.deviceDir, finishedSegmentName(stem, n, ext));
      const exists = await stat(candidate).then(
        () => true,
        () => false,
      );
      if (!exists && !this.pendingTargets.has(candidate)) return candidate;
    }
  }

  /**
   * The crash window between "journaled" and "moved": a journal entry of the last few whose final file is
   * missing while a file of its size and hash is in `.recording/` is moved there; a `.recording/` name that
   * is a second link to a final file (a crash between link and unlink) is removed.
   */
  completeJournaled(activeStem: string | undefined): Promise<number> {
    return this.serially(() => this.completeJournaledNow(activeStem));
  }

  private async completeJournaledNow(activeStem: string | undefined): Promise<number> {
    const left: Array<{ file: string; size: number; ino: number; dev: number }> = [];
    for (const file of await this.openFiles()) {
      if (activeStem !== undefined && path.basename(file).startsWith(activeStem)) continue;
      const s = await stat(file).catch(() => null);
      if (s?.isFile()) left.push({ file, size: s.size, ino: s.ino, dev: s.dev });
    }
    if (left.length === 0) return 0;
    let completed = 0;
    // Finishers are serial, so only the newest entries can be in the window; a few more cost one stat each.
    const newest: Segment[] = [];
    for await (const entry of journalFromEnd(this.journalPath)) if (newest.push(entry) >= JOURNAL_ENTRIES_TO_COMPLETE) break;
    for (const entry of newest) {
      const target = absoluteSegmentPath(this.o.root, entry.file);
      const final = await stat(target).catch(() => null);
      if (final) {
        for (const l of left.filter((l) => l.ino === final.ino && l.dev === final.dev)) {
          await unlink(l.file).catch(() => undefined);
          left.splice(left.indexOf(l), 1);
        }
        continue;
      }
      for (const l of left.filter((l) => l.size === entry.bytes)) {
        if ((await sha256OfFile(l.file)).digest('hex') !== entry.sha256) continue;
        await this.moveToFinalName(l.file, target);
        left.splice(left.indexOf(l), 1);
        this.o.log.info({ file: entry.file, sequence: entry.sequence }, 'completed a journaled segment left in .recording/');
        completed++;
        break;
      }
    }
    return completed;
  }

  /**
   * Remuxes a file whose tail may be torn (crash, ENOSPC); false when it must wait (no room) or was moved
   * aside as damaged (see segment-repair.ts).
   */
  repair(file: string): Promise<boolean> {
    const { ffmpeg, ffprobe, log } = this.o;
    return repairSegment(file, { ffmpeg, ffprobe, log, deviceDir: this.deviceDir, workDir: this.workDir, relative: (f) => this.relative(f) });
  }
}

/** The media a segment holds: what the plan recorded when there was one, else what ffprobe found in the file. */
function mediaOf(plan: RecordingPlan | null, probe: FileProbe | null): Pick<Segment, 'video' | 'audio'> {
  const video = plan?.stream.video ?? probe?.stream.video;
  const audioPlan = plan?.audio;
  const audio =
    audioPlan === undefined
      ? probe?.stream.audio
        ? { codec: probe.stream.audio.codec }
        : null
      : audioPlan.kind === 'drop'
        ? null
        : audioPlan.kind === 'transcode'
          ? { codec: 'aac', transcodedFrom: audioPlan.from }
          : { codec: audioPlan.codec };
  return { video: video ? { codec: video.codec, width: video.width, height: video.height, fps: video.fps } : null, audio };
}
