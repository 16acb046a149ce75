import { isSegmentFileName, parseJournalLines } from '../recorder/index.js';

/** A finished segment file as the export pod lists it. */
export interface RemoteFile {
  readonly name: string;
  readonly bytes: number;
}

/** The journal fields the export uses (`<root>/.shifu-rtsp/<device>/segments.jsonl`). */
export interface JournalEntry {
  readonly file: string;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly bytes?: number;
  readonly sha256?: string;
}

/** One file to copy, with what it must look like when it arrives. */
export interface ExportItem {
  readonly name: string;
  readonly bytes: number;
  /** From the journal; files without an entry are checked by size only. */
  readonly sha256?: string;
  readonly start: Date;
  readonly end: Date | null;
  /** The journal and the pod disagree on the size: the copy is checked against the journal. */
  readonly sizeMismatch?: { readonly journal: number; readonly pod: number };
}

export interface TimeWindow {
  readonly since?: Date;
  readonly until?: Date;
}

/** Journal lines; a torn or foreign line is skipped, like the recorder does. */
export function parseJournal(text: string): JournalEntry[] {
  return parseJournalLines(text);
}

/** `stat -c '%s %n'` lines: size, a space, the name. */
export function parseListing(text: string): RemoteFile[] {
  const out: RemoteFile[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (.+)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.push({ name: m[2], bytes: Number(m[1]) });
  }
  return out;
}

/** Start time from `<device>_YYYYMMDDTHHMMSSZ[_n].<ext>`. */
export function startFromName(name: string): Date | null {
  const m = /_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:_\d+)?\.[a-z0-9]+$/.exec(name);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

function basename(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}

/**
 * The device's finished segments that overlap [since, until), oldest first. The pod's listing says what
 * exists (retention may have deleted journaled files); the journal adds sizes, checksums and end times.
 */
export function selectSegments(device: string, listing: readonly RemoteFile[], journal: readonly JournalEntry[], window: TimeWindow): ExportItem[] {
  const byName = new Map<string, JournalEntry>();
  for (const entry of journal) byName.set(basename(entry.file), entry);
  const files = listing
    .filter((f) => isSegmentFileName(device, f.name))
    .map((f) => ({ file: f, start: startFromName(f.name) }))
    .filter((f): f is { file: RemoteFile; start: Date } => f.start !== null)
    .sort((a, b) => a.start.getTime() - b.start.getTime() || (a.file.name < b.file.name ? -1 : a.file.name > b.file.name ? 1 : 0));
  const items: ExportItem[] = [];
  files.forEach(({ file, start }, i) => {
    const entry = byName.get(file.name);
    const journalEnd = entry?.endTime !== undefined ? new Date(entry.endTime) : null;
    // Without a journal entry a segment is taken to last until the next one starts.
    const end = journalEnd && !Number.isNaN(journalEnd.getTime()) ? journalEnd : (files[i + 1]?.start ?? null);
    if (window.until && start.getTime() >= window.until.getTime()) return;
    if (window.since && end !== null && end.getTime() <= window.since.getTime()) return;
    const journalBytes = typeof entry?.bytes === 'number' ? entry.bytes : undefined;
    items.push({
      name: file.name,
      bytes: journalBytes ?? file.bytes,
      ...(typeof entry?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(entry.sha256) ? { sha256: entry.sha256 } : {}),
      start,
      end,
      ...(journalBytes !== undefined && journalBytes !== file.bytes ? { sizeMismatch: { journal: journalBytes, pod: file.bytes } } : {}),
    });
  });
  return items;
}
