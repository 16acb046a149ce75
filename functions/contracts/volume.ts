// The recording volume's layout and the names of everything on it. The recorder writes it; playback, events and
// export read it: all of them ask this file, so a name or a folder is decided once.
//
//   <root>/<device>/<device>_<UTC start>[_n].<ext>     finished segments, sorted by time
//   <root>/<device>/.recording/<stem>_<nnnnn>.<ext>     segments ffmpeg is writing (never finished files)
//   <root>/.shifu-rtsp/<device>/segments.jsonl          the journal of finished segments (journal.ts)
//   <root>/.shifu-rtsp/<device>/recorder.lease          who records the device (one recorder per device)
//   <root>/.shifu-rtsp/<device>/outbox/                 CloudEvents not yet delivered, and the journal cursor
//   <root>/.shifu-rtsp/<device>/dead-letter/            CloudEvents the sink refused
//   <root>/.shifu-rtsp/<device>/archive-cursor.json     how far the archive has followed the journal
import path from 'node:path';
import { CONTAINER_FORMATS, RECORDING_RULES, type ContainerFormat } from './containers.js';

/** `<root>/.shifu-rtsp/`: the recorders' state, beside the device folders. */
export const STATE_FOLDER = '.shifu-rtsp';
/** ffmpeg writes into `<root>/<device>/.recording/`; nothing there is a finished segment. */
export const RECORDING_FOLDER = '.recording';
export const JOURNAL_FILE = 'segments.jsonl';
export const LEASE_FILE = 'recorder.lease';
const OUTBOX_FOLDER = 'outbox';
const DEAD_LETTER_FOLDER = 'dead-letter';
const JOURNAL_CURSOR_FILE = 'journal-cursor.json';
const ARCHIVE_CURSOR_FILE = 'archive-cursor.json';

/** `<root>/<device>`: the device's finished segments. */
export function deviceDirOf(root: string, device: string): string {
  return path.join(root, device);
}

/** `<root>/<device>/.recording`. */
export function recordingDirOf(root: string, device: string): string {
  return path.join(root, device, RECORDING_FOLDER);
}

/** `<root>/.shifu-rtsp/<device>`: the recorder's state folder (journal, lease, event outbox and cursor). */
export function stateDirOf(root: string, device: string): string {
  return path.join(root, STATE_FOLDER, device);
}

/** `<root>/.shifu-rtsp/<device>/segments.jsonl`. */
export function journalPathOf(root: string, device: string): string {
  return path.join(stateDirOf(root, device), JOURNAL_FILE);
}

/** `.shifu-rtsp/<device>/segments.jsonl`, relative to the storage root, with `/` (also for a pod's path). */
export function journalRelativePath(device: string): string {
  return `${STATE_FOLDER}/${device}/${JOURNAL_FILE}`;
}

/** Where the event outbox, its dead letters and its journal cursor live. */
export function eventFoldersOf(root: string, device: string): { readonly outbox: string; readonly deadLetter: string; readonly cursor: string } {
  const state = stateDirOf(root, device);
  return {
    outbox: path.join(state, OUTBOX_FOLDER),
    deadLetter: path.join(state, DEAD_LETTER_FOLDER),
    cursor: path.join(state, OUTBOX_FOLDER, JOURNAL_CURSOR_FILE),
  };
}

/** `<root>/.shifu-rtsp/<device>/archive-cursor.json`: the archive's place in the journal. */
export function archiveCursorPathOf(root: string, device: string): string {
  return path.join(stateDirOf(root, device), ARCHIVE_CURSOR_FILE);
}

/** A finished segment's path relative to the root (the journal's `file`), `/`-separated, as a path under `root`. */
export function absoluteSegmentPath(root: string, file: string): string {
  return path.join(root, ...file.split('/'));
}

/** `20261124T100000Z`: UTC, sortable, safe in every file system. */
export function compactUtc(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** `<device>_<UTC>`: how every file of a device made at `date` starts. */
export function segmentStem(device: string, date: Date): string {
  return `${device}_${compactUtc(date)}`;
}

/** A finished segment's name: the stem of its start, `_<n>` when another file already has that name. */
export function finishedSegmentName(stem: string, n: number, extension: string): string {
  return `${stem}${n === 0 ? '' : `_${n}`}.${extension}`;
}

/** The name ffmpeg's segment muxer gives the run's files in `.recording/` (its `%05d` counts from 0). */
export function recordingFilePattern(stem: string, extension: string): string {
  return `${stem}_%05d.${extension}`;
}

/** The run's `index`-th file in `.recording/`, as `recordingFilePattern` names it. */
export function recordingFileName(stem: string, index: number, extension: string): string {
  return `${stem}_${String(index).padStart(5, '0')}.${extension}`;
}

/** The number ffmpeg gave a file in `.recording/`, or null for another name. */
export function recordingFileIndex(name: string): number | null {
  const m = /_(\d{5})\.\w+$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** The path of the file ffmpeg writes after this one in `.recording/`. */
export function nextRecordingFile(file: string): string {
  return file.replace(/_(\d{5})(\.\w+)$/, (_m, n: string, ext: string) => `_${String(Number(n) + 1).padStart(5, '0')}${ext}`);
}

/** The container a segment file is in, by its extension; undefined for any other file. */
export function formatOfFileName(name: string): ContainerFormat | undefined {
  return formatOfExtension(path.extname(name).slice(1));
}

function formatOfExtension(ext: string): ContainerFormat | undefined {
  return CONTAINER_FORMATS.find((f) => RECORDING_RULES[f].extension === ext);
}

const SEGMENT_NAME = new RegExp(`^(\\d{4})(\\d{2})(\\d{2})T(\\d{2})(\\d{2})(\\d{2})Z(?:_(\\d+))?\\.(${CONTAINER_FORMATS.map((f) => RECORDING_RULES[f].extension).join('|')})$`);

/** What a finished segment's name says: its start (whole UTC seconds), its `_n` and its container. */
export interface SegmentFileName {
  readonly startMs: number;
  readonly n: number;
  readonly format: ContainerFormat;
}

/** A finished segment's name read back (`finishedSegmentName` of `segmentStem`), or null for any other name. */
export function parseSegmentFileName(device: string, name: string): SegmentFileName | null {
  const m = name.startsWith(`${device}_`) ? SEGMENT_NAME.exec(name.slice(device.length + 1)) : null;
  // The pattern's last group is the extension, one of the containers' by construction.
  const format = m ? formatOfExtension(m[8]!) : undefined;
  if (!m || format === undefined) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  return { startMs: Date.UTC(year, month - 1, day, hour, minute, second), n: m[7] === undefined ? 0 : Number(m[7]), format };
}

/**
 * Finished segment files of a device: `<device>_<UTC start>[_n].<ext>`, the whole name, so a name that passes is
 * a plain file name (no `/`, `..`): the recorder, playback and export (which joins a server's names to a local
 * folder) all judge names by this one rule.
 */
export function isSegmentFileName(device: string, name: string): boolean {
  return parseSegmentFileName(device, name) !== null;
}

/** A cut clip's download name: `<device>_<UTC start>_<seconds>s.<ext>`. */
export function clipFileName(device: string, start: Date, seconds: number, format: ContainerFormat): string {
  return `${segmentStem(device, start)}_${seconds}s.${RECORDING_RULES[format].extension}`;
}
