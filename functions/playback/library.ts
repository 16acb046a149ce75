// The volume as the playback server sees it: the recorder's journals, checked against the files still there.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { DNS_1123_LABEL, HttpError } from '../lib/index.js';
import { isSegmentFileName, journaledDevices, journalPathOf, readJournal, recordingDirOf, type Segment } from '../recorder/index.js';

/** A journaled segment whose file is on the volume, with its place in time. */
export interface Footage {
  readonly segment: Segment;
  /** Basename, e.g. `cam1_20261124T100000Z.mp4`. */
  readonly name: string;
  /** Under this server's root (the journal's `absolutePath` is the recorder's view of the volume). */
  readonly path: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** What the journal and the folder say about the recorder, without asking it (it may be gone). */
export interface RecorderTrace {
  /** `recording` while a file in `.recording/` changed within the last minute; otherwise `idle`. */
  readonly state: 'recording' | 'idle';
  readonly lastSegmentEnd: string | null;
  /** The last segment was finished by crash recovery: the recorder stopped without closing it. */
  readonly lastSegmentRecovered: boolean;
}

export interface DeviceSummary {
  readonly device: string;
  readonly firstFootage: string | null;
  readonly lastFootage: string | null;
  readonly bytes: number;
  readonly segments: number;
  readonly recorder: RecorderTrace;
}

const WRITING_WINDOW_MS = 60_000;

/** A device name from a request: a DNS-1123 label (what the recorder accepts), so never a path. */
export function checkDeviceName(value: string | null, parameter = 'device'): string {
  if (value === null || value === '') throw new HttpError(400, `${parameter}: required`);
  if (!DNS_1123_LABEL.test(value)) throw new HttpError(400, `${parameter}: expected a device name (DNS-1123 label)`);
  return value;
}

export class Library {
  constructor(readonly root: string) {}

  async devices(): Promise<DeviceSummary[]> {
    const names = await journaledDevices(this.root);
    return Promise.all(names.map((device) => this.summary(device)));
  }

  /** Finished segments of a device that are still on the volume, oldest first. 404 for a device with no journal. */
  async footage(device: string): Promise<Footage[]> {
    const known = await journaledDevices(this.root);
    if (!known.includes(device)) throw new HttpError(404, `device: no recordings of ${device}`, 'not_found');
    // Links are never followed (lstat, here and for each file): the recorder writes none, and one on the
    // volume could point a route at any file the server may read. A device folder that is a link has no footage.
    const folder = await lstat(path.join(this.root, device)).catch(() => null);
    if (!folder?.isDirectory()) return [];
    const journal = await readJournal(journalPathOf(this.root, device)).catch((err: unknown) => {
      // Never an empty answer: the footage is there, its index could not be read.
      throw new HttpError(503, `device: the journal of ${device} cannot be read (${(err as Error).message}); its footage is not shown until it can`, 'journal_unreadable', { 'retry-after': '30' });
    });
    // A file journaled twice (never expected, but the journal is append-only) counts once: the last line wins.
    const byName = new Map<string, Segment>();
    for (const segment of journal) byName.set(path.posix.basename(segment.file), segment);
    const out: Footage[] = [];
    for (const [name, segment] of byName) {
      if (!isSegmentFileName(device, name)) continue;
      const file = path.join(this.root, device, name);
      // Retention deletes files and leaves their journal lines: what is gone is not footage; nor is a link.
      const info = await lstat(file).catch(() => null);
      if (!info?.isFile()) continue;
      const startMs = Date.parse(segment.startTime);
      const endMs = Date.parse(segment.endTime);
      if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs <= startMs) continue;
      out.push({ segment, name, path: file, startMs, endMs });
    }
    return out.sort((a, b) => a.startMs - b.startMs || (a.name < b.name ? -1 : 1));
  }

  /** One finished segment file by name; 404 when it is not journaled or no longer on the volume. */
  async file(device: string, name: string): Promise<Footage> {
    const found = (await this.footage(device)).find((f) => f.name === name);
    if (!found) throw new HttpError(404, `file: ${device}/${name} is not a finished segment on this volume`, 'not_found');
    return found;
  }

  private async summary(device: string): Promise<DeviceSummary> {
    const footage = await this.footage(device);
    const first = footage[0];
    const last = footage.at(-1);
    return {
      device,
      firstFootage: first ? new Date(first.startMs).toISOString() : null,
      lastFootage: last ? new Date(last.endMs).toISOString() : null,
      bytes: footage.reduce((sum, f) => sum + f.segment.bytes, 0),
      segments: footage.length,
      recorder: {
        state: (await this.writingNow(device)) ? 'recording' : 'idle',
        lastSegmentEnd: last ? last.segment.endTime : null,
        lastSegmentRecovered: last?.segment.recovered ?? false,
      },
    };
  }

  private async writingNow(device: string): Promise<boolean> {
    const dir = recordingDirOf(this.root, device);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const info = await lstat(path.join(dir, name)).catch(() => null);
      if (info?.isFile() && Date.now() - info.mtimeMs < WRITING_WINDOW_MS) return true;
    }
    return false;
  }
}
