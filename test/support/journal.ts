// The recorder's journal as a test or bench reads it: strictly, so a torn line in a test run is a failure.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Segment } from '../../functions/recorder/index.js';

/** `<root>/.shifu-rtsp/<device>/segments.jsonl`, every line parsed (throws on a torn one); [] before the first segment. */
export async function journalOf(root: string, device: string): Promise<Segment[]> {
  const text = await readFile(path.join(root, '.shifu-rtsp', device, 'segments.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Segment);
}
