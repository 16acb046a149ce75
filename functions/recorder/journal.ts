// The journal of finished segments: one JSON line per segment, appended and fsynced. Its path and format
// live here only; events, export and playback read it through this module.
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseJsonLines } from '../lib/index.js';
import type { Segment } from './segment.js';

export const JOURNAL_FILE = 'segments.jsonl';
/** `<root>/.shifu-rtsp/`: the recorder's state, beside the device folders. */
export const STATE_FOLDER = '.shifu-rtsp';
/** ffmpeg writes into `<root>/<device>/.recording/`; nothing there is a finished segment. */
export const RECORDING_FOLDER = '.recording';

/** `<root>/.shifu-rtsp/<device>`: the recorder's state folder (journal, event outbox and cursor). */
export function stateDirOf(root: string, device: string): string {
  return path.join(root, STATE_FOLDER, device);
}

/** `<root>/<device>/.recording`. */
export function recordingDirOf(root: string, device: string): string {
  return path.join(root, device, RECORDING_FOLDER);
}

/** `.shifu-rtsp/<device>/segments.jsonl`, relative to the storage root, with `/` (also for a pod's path). */
export function journalRelativePath(device: string): string {
  return `${STATE_FOLDER}/${device}/${JOURNAL_FILE}`;
}

/** `<root>/.shifu-rtsp/<device>/segments.jsonl`. */
export function journalPathOf(root: string, device: string): string {
  return path.join(stateDirOf(root, device), JOURNAL_FILE);
}

/** A journal line as readers outside the recorder take it: the file it names, other fields when present. */
export type JournalLine = Partial<Segment> & { readonly file: string };

/** Journal lines that name a file; a torn or foreign line is skipped. */
export function parseJournalLines(text: string): JournalLine[] {
  return parseJsonLines(text).filter((v): v is JournalLine => typeof (v as Partial<Segment> | null)?.file === 'string');
}

/** Journal lines as segments; a torn or foreign line is skipped (the file it named is found by recovery). */
export function parseJournal(text: string): Segment[] {
  return parseJournalLines(text).filter((v): v is Segment => typeof v.sequence === 'number');
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/**
 * Every segment in the journal file, oldest first ([] before the first one: no file yet). Read as a stream, a
 * line at a time: a journal of years is larger than one string can hold (V8 stops at 512 MiB). Any other error
 * reading it throws: a journal that cannot be read is never taken for one without footage.
 */
export async function readJournal(file: string): Promise<Segment[]> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const segments: Segment[] = [];
  try {
    const lines = createInterface({ input: handle.createReadStream({ encoding: 'utf8', autoClose: false }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() !== '') segments.push(...parseJournal(line));
    }
  } finally {
    await handle.close();
  }
  return segments;
}

/** Devices that have a journal under `root`, sorted by name. */
export async function journaledDevices(root: string): Promise<string[]> {
  // No state folder: nothing recorded yet. Any other error is one (never "no devices").
  const names = await readdir(path.join(root, STATE_FOLDER), { withFileTypes: true }).catch((err: unknown) => {
    if (isMissing(err)) return [];
    throw err;
  });
  const out: string[] = [];
  for (const entry of names) {
    if (!entry.isDirectory()) continue;
    // A journal that is there but cannot be read still names its device: reading it then says why.
    const present = await stat(journalPathOf(root, entry.name)).then(
      () => true,
      (err: unknown) => !isMissing(err),
    );
    if (present) out.push(entry.name);
  }
  return out.sort();
}

/** Bytes read per step when the journal is read from its end. */
const TAIL_CHUNK = 64 * 1024;

/**
 * The journal's segments newest first, read backwards from its end in 64 KiB steps: what the recorder and
 * the event replay need (the last number, the entries after a cursor) costs the same for a journal of ten
 * lines as for one of years, which no single read could hold (V8 strings stop at 512 MiB).
 */
export async function* journalFromEnd(file: string): AsyncGenerator<Segment> {
  const handle = await open(file, 'r').catch((err: unknown) => {
    if (isMissing(err)) return null;
    throw err;
  });
  if (handle === null) return;
  try {
    let position = (await handle.stat()).size;
    // The bytes before the first newline seen so far: the next step's line end.
    let carry = Buffer.alloc(0);
    while (position > 0) {
      const length = Math.min(TAIL_CHUNK, position);
      position -= length;
      const chunk = Buffer.allocUnsafe(length);
      await handle.read(chunk, 0, length, position);
      const text = Buffer.concat([chunk, carry]);
      const lines: Buffer[] = [];
      let end = text.length;
      for (let i = text.length - 1; i >= 0; i--) {
        if (text[i] !== 0x0a) continue;
        lines.push(text.subarray(i + 1, end));
        end = i;
      }
      carry = Buffer.from(text.subarray(0, end));
      for (const line of lines) yield* parseJournal(line.toString('utf8'));
    }
    yield* parseJournal(carry.toString('utf8'));
  } finally {
    await handle.close();
  }
}

/** The journal's newest segment, or null. */
export async function lastJournaled(file: string): Promise<Segment | null> {
  for await (const segment of journalFromEnd(file)) return segment;
  return null;
}

/** The segments journaled after `sequence`, oldest first (from the end: a cursor is near it). */
export async function journaledAfter(file: string, sequence: number): Promise<Segment[]> {
  const after: Segment[] = [];
  for await (const segment of journalFromEnd(file)) {
    if (segment.sequence <= sequence) break;
    after.push(segment);
  }
  return after.reverse();
}

/**
 * Appends one segment and fsyncs: once this resolves, the segment survives a power cut. A torn last line
 * (a power cut mid-append) is ended first, so that it cannot swallow this one.
 */
export async function appendToJournal(file: string, segment: Segment): Promise<void> {
  const handle = await open(file, 'a+');
  try {
    const { size } = await handle.stat();
    const last = Buffer.alloc(1);
    if (size > 0) await handle.read(last, 0, 1, size - 1);
    const torn = size > 0 && last[0] !== 0x0a;
    await handle.appendFile(`${torn ? '\n' : ''}${JSON.stringify(segment)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
