// The journal of finished segments: one JSON line per segment, appended and fsynced. Its path and format
// live here only; events and export read it through this module.
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseJsonLines } from '../lib/index.js';
import type { Segment } from './segment.js';

export const JOURNAL_FILE = 'segments.jsonl';

/** `<root>/.shifu-rtsp/<device>`: the recorder's state folder (journal, event outbox and cursor). */
export function stateDirOf(root: string, device: string): string {
  return path.join(root, '.shifu-rtsp', device);
}

/** `<root>/.shifu-rtsp/<device>/segments.jsonl`. */
export function journalPathOf(root: string, device: string): string {
  return path.join(stateDirOf(root, device), JOURNAL_FILE);
}

/** Journal lines as segments; a torn or foreign line is skipped (the file it named is found by recovery). */
export function parseJournal(text: string): Segment[] {
  return parseJsonLines(text).filter((v): v is Segment => typeof (v as Partial<Segment> | null)?.sequence === 'number');
}

/** Every segment in the journal file, oldest first ([] before the first one). */
export async function readJournal(file: string): Promise<Segment[]> {
  return parseJournal(await readFile(file, 'utf8').catch(() => ''));
}

/** Appends one segment and fsyncs: once this resolves, the segment survives a power cut. */
export async function appendToJournal(file: string, segment: Segment): Promise<void> {
  const handle = await open(file, 'a');
  try {
    await handle.appendFile(`${JSON.stringify(segment)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
