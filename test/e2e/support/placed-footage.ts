// Footage at chosen instants: a real recording copied into a device folder under a journal line, as a recorder
// leaves it on its volume (`<root>/<device>/<file>`, `<root>/.shifu-rtsp/<device>/segments.jsonl`).
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { appendToJournal, journalPathOf, type Segment } from '../../../functions/recorder/index.js';
import { segmentFixture } from '../../support/segment.js';

/** Journals `file` as `device`'s segment on `root` from `start` (ISO, may have milliseconds) for `seconds`. */
export async function placeFootage(root: string, device: string, file: string, start: string, seconds: number): Promise<string> {
  const placed = segmentFixture({ device, start, seconds, root }, { audio: { codec: 'aac' } });
  await mkdir(path.join(root, device), { recursive: true });
  await mkdir(path.dirname(journalPathOf(root, device)), { recursive: true });
  await copyFile(file, placed.absolutePath);
  const segment = {
    ...placed,
    bytes: (await stat(placed.absolutePath)).size,
    sha256: createHash('sha256').update(await readFile(placed.absolutePath)).digest('hex'),
  };
  await appendToJournal(journalPathOf(root, device), segment);
  return path.posix.basename(segment.file);
}
