// The zip writer's archives as other tools read them (Python's zipfile, Info-ZIP's unzip), and our reader.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZipDirectory, ZipWriter } from '../../functions/lib/index.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-zip-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A stream of `n` bytes in chunks, as a clip arrives from ffmpeg. */
function bytesStream(n: number, seed: number): { stream: Readable; data: Buffer } {
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = (i * 31 + seed) & 0xff;
  const chunks: Buffer[] = [];
  for (let i = 0; i < n; i += 7000) chunks.push(data.subarray(i, i + 7000));
  return { stream: Readable.from(chunks), data };
}

describe('zip writer', () => {
  it('writes stored entries of unknown length that python, unzip and our reader read back whole', async () => {
    const file = path.join(dir, 'a.zip');
    const out = createWriteStream(file);
    const zip = new ZipWriter(out);
    const a = bytesStream(100_000, 1);
    const b = bytesStream(3, 2);
    await zip.add('cam1_20261124T101500Z_300s.mp4', a.stream, new Date('2026-11-24T10:15:00Z'));
    await zip.add('cam2_20261124T101500Z_300s.mp4', b.stream);
    await zip.add('manifest.json', Readable.from([Buffer.from('{"devices":[]}')]));
    await zip.finish();
    out.end();
    await finished(out);

    const { stdout } = await run('python3', ['-c', [
      'import sys, zipfile, hashlib, json',
      'z = zipfile.ZipFile(sys.argv[1])',
      'assert z.testzip() is None',
      'print(json.dumps([[i.filename, i.file_size, i.compress_type, hashlib.sha256(z.read(i)).hexdigest(), list(i.date_time)] for i in z.infolist()]))',
    ].join('\n'), file]);
    const sha = (d: Buffer): string => createHash('sha256').update(d).digest('hex');
    expect(JSON.parse(stdout)).toEqual([
      ['cam1_20261124T101500Z_300s.mp4', 100_000, 0, sha(a.data), [2026, 11, 24, 10, 15, 0]],
      ['cam2_20261124T101500Z_300s.mp4', 3, 0, sha(b.data), expect.any(Array)],
      ['manifest.json', 14, 0, sha(Buffer.from('{"devices":[]}')), expect.any(Array)],
    ]);
    // Info-ZIP checks every CRC too.
    const unzip = await run('unzip', ['-t', file]);
    expect(unzip.stdout).toContain('No errors detected');

    const entries = await readZipDirectory(file);
    const whole = await readFile(file);
    expect(entries.map((e) => [e.name, e.bytes])).toEqual([['cam1_20261124T101500Z_300s.mp4', 100_000], ['cam2_20261124T101500Z_300s.mp4', 3], ['manifest.json', 14]]);
    expect(whole.subarray(entries[0]!.dataOffset, entries[0]!.dataOffset + entries[0]!.bytes).equals(a.data)).toBe(true);
  });

  it('past 4 GiB of offsets: ZIP64 records (central directory extra, end record and locator) that python and our reader follow', async () => {
    const file = path.join(dir, 'past-4gib.zip');
    const handle = await open(file, 'w');
    let position = 0;
    // A sparse file: the leap below is a hole, as if a 4 GiB clip had been written there.
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        handle.write(chunk, 0, chunk.length, position).then(() => {
          position += chunk.length;
          done();
        }, done);
      },
    });
    const zip = new ZipWriter(out);
    await zip.add('first.bin', Readable.from([Buffer.from('first')]));
    // Everything written so far is on disk before the leap (an empty write's callback comes after the earlier ones).
    await new Promise<void>((resolve, reject) => out.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
    const leap = 2 ** 32 + 10;
    position += leap;
    (zip as unknown as { offset: number }).offset += leap;
    await zip.add('second.bin', Readable.from([Buffer.from('second')]));
    await zip.finish();
    await new Promise<void>((resolve) => out.end(resolve));
    await handle.close();
    const { stdout } = await run('python3', ['-c', 'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint([(i.filename, i.header_offset, z.read(i).decode()) for i in z.infolist()])', file]);
    expect(stdout.trim()).toBe(`[('first.bin', 0, 'first'), ('second.bin', ${0 + 30 + 9 + 5 + 16 + leap}, 'second')]`);
    const entries = await readZipDirectory(file);
    expect(entries.map((e) => [e.name, e.dataOffset])).toEqual([['first.bin', 39], ['second.bin', 30 + 9 + 5 + 16 + leap + 30 + 10]]);
  });

  it('the reader refuses a zip cut off before its central directory, naming the file', async () => {
    const file = path.join(dir, 'cut.zip');
    const out = createWriteStream(path.join(dir, 'whole.zip'));
    const zip = new ZipWriter(out);
    await zip.add('x.mp4', bytesStream(50_000, 3).stream);
    await zip.finish();
    out.end();
    await finished(out);
    const whole = await readFile(path.join(dir, 'whole.zip'));
    await writeFile(file, whole.subarray(0, 40_000));
    await expect(readZipDirectory(file)).rejects.toThrow(/cut\.zip has no end of central directory/);
  });
});
