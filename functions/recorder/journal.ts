// Where the recorder keeps its journal of finished segments, and how readers other than the recorder read it.
// The recorder owns this format; events, export and playback read it through these functions.
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseJsonLines } from '../lib/index.js';
import type { Segment } from './segment.js';

/** `<root>/.shifu-rtsp/`: the recorder's state, beside the device folders. */
export const STATE_FOLDER = '.shifu-rtsp';
/** ffmpeg writes into `<root>/<device>/.recording/`; nothing there is a finished segment. */
export const RECORDING_FOLDER = '.recording';

/** `<root>/.shifu-rtsp/<device>`. */
export function stateDirOf(root: string, device: string): string {
  return path.join(root, STATE_FOLDER, device);
}

/** `<root>/.shifu-rtsp/<device>/segments.jsonl`: one JSON line per finished segment, fsynced, oldest first. */
export function journalPathOf(root: string, device: string): string {
  return path.join(stateDirOf(root, device), 'segments.jsonl');
}

/** `<root>/<device>/.recording`. */
export function recordingDirOf(root: string, device: string): string {
  return path.join(root, device, RECORDING_FOLDER);
}

/** Journal lines that are segments; a torn last line (power cut) or a foreign line is skipped. */
export function parseJournal(text: string): Segment[] {
  return parseJsonLines(text).filter((v): v is Segment => {
    const s = v as Partial<Segment> | null;
    return typeof s?.sequence === 'number' && typeof s.file === 'string' && typeof s.startTime === 'string' && typeof s.endTime === 'string';
  });
}

/** A device's journal, oldest first; [] before its first segment. */
export async function readJournal(root: string, device: string): Promise<Segment[]> {
  const text = await readFile(journalPathOf(root, device), 'utf8').catch(() => '');
  return parseJournal(text);
}

/** Devices that have a journal under `root`, sorted by name. */
export async function journaledDevices(root: string): Promise<string[]> {
  const names = await readdir(path.join(root, STATE_FOLDER), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const entry of names) {
    if (!entry.isDirectory()) continue;
    const journal = await stat(journalPathOf(root, entry.name)).catch(() => null);
    if (journal?.isFile()) out.push(entry.name);
  }
  return out.sort();
}
