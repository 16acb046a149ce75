// Reading the whole journal (playback, export): a journal of years is read, and one that cannot be read is an
// error, never taken for a journal without footage.
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJournal } from '../../functions/recorder/index.js';

const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-journal-read-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

function line(sequence: number): string {
  const start = new Date(Date.UTC(2026, 0, 1) + sequence * 10_000);
  return `${JSON.stringify({ sequence, file: `cam/cam_${start.toISOString().replace(/[-:]|\.\d+/g, '')}.mp4`, startTime: start.toISOString(), endTime: new Date(start.getTime() + 10_000).toISOString(), durationSeconds: 10, bytes: 1, sha256: 'x'.repeat(64) })}\n`;
}

describe('readJournal', () => {
  it('reads a journal larger than one string can hold (512 MiB), first line to last', { timeout: 120_000 }, async () => {
    const file = path.join(dir, 'big.jsonl');
    const handle = await open(file, 'w');
    await handle.write(line(1));
    // 520 MiB of blank lines between the first segment and the last (what years of lines weigh).
    const blank = Buffer.from(`${' '.repeat(1024 * 1024 - 1)}\n`);
    for (let i = 0; i < 520; i++) await handle.write(blank);
    await handle.write(line(2));
    await handle.close();
    const segments = await readJournal(file);
    expect(segments.map((s) => s.sequence)).toEqual([1, 2]);
    await rm(file);
  });

  it('is empty before the first segment (no file yet)', async () => {
    expect(await readJournal(path.join(dir, 'none.jsonl'))).toEqual([]);
  });

  it('throws when the journal cannot be read, instead of answering no footage', async () => {
    const notAFile = path.join(dir, 'dir.jsonl');
    await mkdir(notAFile);
    await expect(readJournal(notAFile)).rejects.toThrow(/EISDIR/);
  });
});
