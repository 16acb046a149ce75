// The journal's promises under crashes: every finished file is journaled, nothing is journaled twice.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { appendFile, mkdir, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCheck } from './fixtures/player.js';
import { killHard } from './support/recorder-process.js';
import { useScratch } from '../support/scratch.js';
import { scopedTo } from './support/scoped.js';
import { sha256OfFile } from '../../functions/lib/index.js';
import { isSegmentFileName, type Segment } from '../../functions/recorder/index.js';

interface Status {
  state: string;
  lastSegment: Segment | null;
  counters: Record<string, number>;
}

const scratch = useScratch('shifu-journal-');
const { camera, recorder } = scopedTo(scratch);


/** The journal's complete lines (a torn line is the crash's, and is not counted). */
async function journalLines(out: string, device: string): Promise<Segment[]> {
  const text = await readFile(path.join(out, '.shifu-rtsp', device, 'segments.jsonl'), 'utf8').catch(() => '');
  const segments: Segment[] = [];
  for (const line of text.split('\n')) {
    try {
      segments.push(JSON.parse(line) as Segment);
    } catch {
      // torn
    }
  }
  return segments;
}

/** Every finished file is journaled once, with its size and hash; sequences are unique. */
async function expectJournalCoversFiles(out: string, device: string): Promise<Segment[]> {
  const journal = await journalLines(out, device);
  const names = (await readdir(path.join(out, device))).filter((n) => isSegmentFileName(device, n)).sort();
  const byFile = new Map(journal.map((s) => [s.file, s]));
  for (const name of names) {
    const entry = byFile.get(`${device}/${name}`);
    expect(entry, `${name} is on the volume but not in the journal`).toBeDefined();
    expect((await sha256OfFile(path.join(out, device, name))).digest('hex'), name).toBe(entry!.sha256);
  }
  const sequences = journal.map((s) => s.sequence);
  expect(new Set(sequences).size, `sequences ${sequences.join(',')}`).toBe(sequences.length);
  expect(new Set(journal.map((s) => s.file)).size).toBe(journal.length);
  return journal;
}

/** Calls `onChange` once, on the first change in `dir` to a name that `accept` takes. */
function onFirstChange(dir: string, accept: (name: string) => boolean, onChange: () => void): FSWatcher {
  let fired = false;
  const watcher = watch(dir, (_event, name) => {
    if (fired || name === null || !accept(name)) return;
    fired = true;
    onChange();
  });
  scratch.defer(async () => watcher.close());
  return watcher;
}

describe('recorder journal: crash windows', () => {
  it('a file under its final name is already journaled, even when the recorder is killed the moment it appears', async () => {
    // Noise at a high bit rate: big segments take long to hash, which is the window being closed.
    const cam = await camera({ video: 'h264', audio: 'none', pattern: 'snow', bitrate: 8000, gop: 25 });
    const out = path.join(scratch.dir, 'rename-window');
    const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '2', '--no-align-to-clock'];
    const rec = await recorder(args);
    await rec.waitFor<Status>('/record/status', (s) => s.state === 'recording', 30_000);
    const killed = new Promise<string>((resolve) => {
      onFirstChange(path.join(out, 'cam'), (n) => isSegmentFileName('cam', n), () => {
        process.kill(rec.child.pid!, 'SIGSTOP');
        resolve('stopped');
      });
    });
    await killed;
    // Frozen at the instant the file appeared: the journal must already name it.
    const atRename = await expectJournalCoversFiles(out, 'cam');
    expect(atRename.length).toBeGreaterThan(0);
    await killHard(rec);

    const again = await recorder([...args, '--idle']);
    await again.waitFor<Status>('/record/status', (s) => s.state === 'idle', 30_000);
    await again.stop('SIGTERM');
    const journal = await expectJournalCoversFiles(out, 'cam');
    for (const s of journal) expect((await decodeCheck(path.join(out, s.file))).ok, s.file).toBe(true);
  });

  it('completes, on start, a journaled segment whose file was still in .recording/ when the recorder died', async () => {
    const cam = await camera({ video: 'h264', audio: 'none', pattern: 'snow', bitrate: 8000, gop: 25 });
    const out = path.join(scratch.dir, 'journal-window');
    const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '2', '--no-align-to-clock'];
    const rec = await recorder(args);
    await rec.waitFor<Status>('/record/status', (s) => s.state === 'recording', 30_000);
    await new Promise<void>((resolve) => {
      const journal = path.join(out, '.shifu-rtsp', 'cam', 'segments.jsonl');
      // The first line written, not the file's creation.
      onFirstChange(path.dirname(journal), (n) => n === 'segments.jsonl' && statSync(journal).size > 0, () => {
        process.kill(rec.child.pid!, 'SIGSTOP');
        resolve();
      });
    });
    await killHard(rec);
    const journaled = await journalLines(out, 'cam');
    expect(journaled.length).toBeGreaterThan(0);

    const again = await recorder([...args, '--idle']);
    await again.waitFor<Status>('/record/status', (s) => s.state === 'idle', 30_000);
    await again.stop('SIGTERM');
    const journal = await expectJournalCoversFiles(out, 'cam');
    // What was journaled before the crash is where the journal says, and is not journaled a second time.
    for (const s of journaled) {
      expect(journal.filter((j) => j.sha256 === s.sha256)).toHaveLength(1);
      expect((await decodeCheck(path.join(out, s.file))).ok, s.file).toBe(true);
    }
    // Only the segment ffmpeg was writing at the kill is recovered as new; nothing is left behind.
    expect(await readdir(path.join(out, 'cam', '.recording'))).toEqual([]);
  });
});

describe('recorder journal: torn lines and size', () => {
  it('a torn last line from a power cut does not swallow the next segment\'s line', async () => {
    const cam = await camera({ video: 'h264', audio: 'none', gop: 25 });
    const out = path.join(scratch.dir, 'torn');
    const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '2', '--no-align-to-clock'];
    const rec = await recorder(args);
    await rec.waitFor<Status>('/record/status', (s) => (s.lastSegment?.sequence ?? 0) >= 1, 30_000);
    await rec.stop('SIGTERM');
    const before = await journalLines(out, 'cam');
    // What a power cut in the middle of an append leaves: half a line, no newline.
    await appendFile(path.join(out, '.shifu-rtsp', 'cam', 'segments.jsonl'), '{"file":"cam/cam_20261203T0');

    const again = await recorder(args);
    await again.waitFor<Status>('/record/status', (s) => (s.lastSegment?.sequence ?? 0) >= before.at(-1)!.sequence + 2, 30_000);
    await again.stop('SIGTERM');
    const journal = await expectJournalCoversFiles(out, 'cam');
    expect(journal.map((s) => s.sequence)).toEqual(journal.map((_s, i) => i + 1));
  });

  it('starts on a journal too big to read whole (600 MB) and goes on numbering from its last line', async () => {
    const cam = await camera({ video: 'h264', audio: 'none', gop: 25 });
    const out = path.join(scratch.dir, 'big');
    const stateDir = path.join(out, '.shifu-rtsp', 'cam');
    await mkdir(stateDir, { recursive: true });
    // Years of 2 s segments: more text than one JavaScript string can hold (V8: 512 MiB).
    const line = (sequence: number): string =>
      `${JSON.stringify({ file: `cam/cam_2020${String(sequence).padStart(10, '0')}.mp4`, device: 'cam', sequence, note: 'x'.repeat(500) })}\n`;
    const handle = await open(path.join(stateDir, 'segments.jsonl'), 'w');
    const lines = 1_000_000;
    const block = Buffer.from(Array.from({ length: 1000 }, (_v, i) => line(i + 1)).join(''));
    for (let i = 0; i < lines / 1000 - 1; i++) await handle.write(block);
    await handle.write(Array.from({ length: 1000 }, (_v, i) => line(lines - 999 + i)).join(''));
    await handle.close();
    scratch.defer(() => import('node:fs/promises').then((fs) => fs.rm(out, { recursive: true, force: true })));

    const rec = await recorder(['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '2', '--no-align-to-clock']);
    const status = await rec.waitFor<Status>('/record/status', (s) => s.lastSegment !== null && s.lastSegment.file.startsWith('cam/cam_2026'), 30_000);
    expect(status.lastSegment?.sequence).toBe(lines + 1);
    await rec.stop('SIGTERM');
  });
});
