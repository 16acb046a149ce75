import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { parsePaxRecords, parseTarHeader, TarFormatError, TarReader, type TarHeader } from '../../functions/export/index.js';

// Hand-built tar blocks, laid out as POSIX ustar / GNU tar write them.
function header(name: string, size: number, type = '0', options: { base256Size?: boolean; prefix?: string; mtime?: number } = {}): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 100, 'utf8');
  block.write('0000644\0', 100, 'latin1');
  block.write('0001750\0', 108, 'latin1');
  block.write('0001750\0', 116, 'latin1');
  if (options.base256Size) {
    block[124] = 0x80;
    let v = size;
    for (let i = 135; i > 124; i--) {
      block[i] = v % 256;
      v = Math.floor(v / 256);
    }
  } else {
    block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  }
  block.write(`${(options.mtime ?? 1_790_000_000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
  block.write(type, 156, 'latin1');
  block.write('ustar\x0000', 257, 'latin1');
  if (options.prefix) block.write(options.prefix, 345, 155, 'utf8');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function entry(name: string, data: Buffer, type = '0'): Buffer {
  const padding = (512 - (data.length % 512)) % 512;
  return Buffer.concat([header(name, data.length, type), data, Buffer.alloc(padding)]);
}

function pax(records: Record<string, string>): Buffer {
  const body = Object.entries(records)
    .map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      let length = rest.length + 1;
      while (`${length}${rest}`.length !== length) length = `${length}${rest}`.length;
      return `${length}${rest}`;
    })
    .join('');
  return entry('PaxHeaders/x', Buffer.from(body), 'x');
}

const END = Buffer.alloc(1024);

async function read(archive: Buffer, chunkSize: number): Promise<{ files: Map<string, Buffer>; headers: TarHeader[] }> {
  const files = new Map<string, Buffer>();
  const reader = new TarReader((h) => {
    const parts: Buffer[] = [];
    return {
      write: (chunk) => void parts.push(Buffer.from(chunk)),
      end: () => void files.set(h.name, Buffer.concat(parts)),
    };
  });
  const chunks: Buffer[] = [];
  for (let at = 0; at < archive.length; at += chunkSize) chunks.push(archive.subarray(at, at + chunkSize));
  await pipeline(Readable.from(chunks), reader);
  return { files, headers: reader.entries };
}

const a = Buffer.from('first file, not a multiple of 512');
const b = Buffer.alloc(1536, 7);
const c = Buffer.from('after a long name');
const longName = `${'x'.repeat(120)}.mp4`;
const archive = Buffer.concat([
  entry('cam1_20261124T100000Z.mp4', a),
  entry('cam1_20261124T110000Z.mp4', b),
  entry('././@LongLink', Buffer.from(`${longName}\0`), 'L'),
  entry(longName.slice(0, 99), c),
  pax({ path: 'pax/named.mkv' }),
  entry('ignored-name', Buffer.from('pax')),
  entry('empty.ts', Buffer.alloc(0)),
  entry('dir/', Buffer.alloc(0), '5'),
  END,
]);

describe('TarReader', () => {
  it.each([1, 7, 511, 512, 513, 4096, archive.length])('reads every file whole with chunks of %i bytes', async (size) => {
    const { files } = await read(archive, size);
    expect([...files.keys()]).toEqual(['cam1_20261124T100000Z.mp4', 'cam1_20261124T110000Z.mp4', longName, 'pax/named.mkv', 'empty.ts']);
    expect(files.get('cam1_20261124T100000Z.mp4')).toEqual(a);
    expect(files.get('cam1_20261124T110000Z.mp4')).toEqual(b);
    expect(files.get(longName)).toEqual(c);
    expect(files.get('pax/named.mkv')?.toString()).toBe('pax');
    expect(files.get('empty.ts')?.length).toBe(0);
  });

  it('accepts a stream that stops at a header boundary without end blocks', async () => {
    const { files } = await read(entry('one.mp4', a), 100);
    expect(files.get('one.mp4')).toEqual(a);
  });

  it('rejects a stream cut inside a file', async () => {
    const cut = entry('one.mp4', b).subarray(0, 1000);
    await expect(read(cut, 64)).rejects.toThrow(/ended 1048 bytes before the end of a file/);
  });

  it('rejects bytes that are not tar (checksum)', async () => {
    const junk = Buffer.alloc(512, 0x41);
    await expect(read(junk, 512)).rejects.toBeInstanceOf(TarFormatError);
  });
});

describe('tar headers', () => {
  it('reads GNU base-256 sizes (files over 8 GiB)', () => {
    const size = 12 * 2 ** 30 + 5;
    expect(parseTarHeader(header('big.mp4', size, '0', { base256Size: true }))?.size).toBe(size);
  });

  it('joins the ustar prefix and name, and reads mtime', () => {
    const h = parseTarHeader(header('name.mp4', 3, '0', { prefix: 'deep/folder', mtime: 1_790_000_123 }));
    expect(h).toMatchObject({ name: 'deep/folder/name.mp4', size: 3, mtimeMs: 1_790_000_123_000, type: '0' });
  });

  it('reads pax records, including multi-byte values', () => {
    expect(parsePaxRecords(Buffer.from('18 path=é/ü.mp4\n13 size=1234\n'))).toEqual({ path: 'é/ü.mp4', size: '1234' });
  });

  it('knows the end-of-archive block', () => {
    expect(parseTarHeader(Buffer.alloc(512))).toBeNull();
  });
});
