// Footage at chosen instants: a real recording copied into a device folder under a journal line, as a recorder
// leaves it on its volume (`<root>/<device>/<file>`, `<root>/.shifu-rtsp/<device>/segments.jsonl`).
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { appendToJournal, journalPathOf, type Segment } from '../../../functions/recorder/index.js';

/** Journals `file` as `device`'s segment on `root` from `start` (ISO, may have milliseconds) for `seconds`. */
export async function placeFootage(root: string, device: string, file: string, start: string, seconds: number): Promise<string> {
  const startMs = Date.parse(start);
  const name = `${device}_${new Date(startMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}.mp4`;
  await mkdir(path.join(root, device), { recursive: true });
  await mkdir(path.dirname(journalPathOf(root, device)), { recursive: true });
  const target = path.join(root, device, name);
  await copyFile(file, target);
  const segment: Segment = {
    file: `${device}/${name}`,
    absolutePath: target,
    device,
    sequence: 1,
    startTime: new Date(startMs).toISOString(),
    endTime: new Date(startMs + seconds * 1000).toISOString(),
    durationSeconds: seconds,
    bytes: (await stat(target)).size,
    sha256: createHash('sha256').update(await readFile(target)).digest('hex'),
    format: 'mp4',
    mimeType: 'video/mp4',
    video: { codec: 'h264', width: 320, height: 240, fps: 25 },
    audio: { codec: 'aac' },
    recovered: false,
    gapBeforeSeconds: 0,
  };
  await appendToJournal(journalPathOf(root, device), segment);
  return name;
}
