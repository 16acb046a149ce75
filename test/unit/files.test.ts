import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256OfFile } from '../../functions/lib/index.js';

// The journal's and export's checksum: must match a plain SHA-256 across its internal read boundaries.
describe('sha256OfFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-files-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([0, 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 17])('hashes a %i-byte file like createHash', async (size) => {
    const data = Buffer.alloc(size, 0);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
    const file = path.join(dir, `f${size}`);
    await writeFile(file, data);
    expect((await sha256OfFile(file)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('continues a hash that already holds a prefix (a resumed copy)', async () => {
    const head = Buffer.from('first part of a segment,');
    const tail = Buffer.alloc(2 * 1024 * 1024 + 5, 7);
    const file = path.join(dir, 'tail');
    await writeFile(file, tail);
    const resumed = await sha256OfFile(file, createHash('sha256').update(head));
    expect(resumed.digest('hex')).toBe(createHash('sha256').update(Buffer.concat([head, tail])).digest('hex'));
  });

  it('fails for a file that does not exist', async () => {
    await expect(sha256OfFile(path.join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
  });
});
