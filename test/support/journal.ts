// The recorder's journal as a test or bench reads it: strictly, so a torn line in a test run is a failure.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { journalRecordOf, parseJournalRecords, type JournalRecord, type Segment } from '../../functions/recorder/index.js';

/**
 * The segments of `<root>/.shifu-rtsp/<device>/segments.jsonl`, every line parsed (throws on a torn one, or on a
 * line that is no journal record); other kinds of record (retention's deletions) are left out. [] before the first.
 */
export async function journalOf(root: string, device: string): Promise<Segment[]> {
  const text = await readFile(path.join(root, '.shifu-rtsp', device, 'segments.jsonl'), 'utf8').catch(() => '');
  const segments: Segment[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const record = journalRecordOf(JSON.parse(line));
    if (record === null) throw new Error(`not a journal record: ${line}`);
    if (record.kind === 'segment') segments.push(record.segment);
  }
  return segments;
}

/** Every record of `<root>/.shifu-rtsp/<device>/segments.jsonl` (segments, archive records, deletions), in order. */
export async function journalRecordsOf(root: string, device: string): Promise<JournalRecord[]> {
  return parseJournalRecords(await readFile(path.join(root, '.shifu-rtsp', device, 'segments.jsonl'), 'utf8'));
}
