// Zip archives as a stream of "stored" entries (no compression: video does not compress), each followed by a
// data descriptor, so an entry is written while its size is still unknown (a clip being cut), and ZIP64 where a
// size or an offset passes 4 GiB (APPNOTE 6.3.10, sections 4.3 and 4.5.3). Our own rather than yazl or archiver:
// it is one narrow case (stored, in order, once), Node has the CRC-32 (zlib.crc32), and the export CLI needs the
// reader side of exactly this format (readZipDirectory), which a second library (yauzl) would bring.
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { crc32 } from 'node:zlib';

const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL = 0x06054b50;
const ZIP64_END = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EXTRA = 0x0001;
/** Bit 3: sizes and CRC in the data descriptor; bit 11: the name is UTF-8. */
const FLAGS = 0x0008 | 0x0800;
const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
/** Version 4.5 (ZIP64), made on Unix (so the external attributes are a mode). */
const VERSION_ZIP64 = 45;
const VERSION_PLAIN = 20;
const MADE_BY = (3 << 8) | VERSION_ZIP64;

export interface ZipEntryWritten {
  readonly name: string;
  readonly bytes: number;
  readonly crc32: number;
}

interface CentralRecord extends ZipEntryWritten {
  readonly offset: number;
  readonly time: number;
  readonly date: number;
}

/** MS-DOS time and date (local fields, 2-second steps), from UTC: the archive carries no zone. */
function dosTime(at: Date): { time: number; date: number } {
  const year = Math.max(1980, at.getUTCFullYear());
  return {
    time: (at.getUTCHours() << 11) | (at.getUTCMinutes() << 5) | Math.floor(at.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((at.getUTCMonth() + 1) << 5) | at.getUTCDate(),
  };
}

/** Writes a zip to `out` entry by entry, honouring its backpressure: memory does not grow with an entry's size. */
export class ZipWriter {
  private offset = 0;
  private readonly entries: CentralRecord[] = [];
  private finished = false;

  constructor(private readonly out: Writable) {}

  /** Bytes written so far. */
  get written(): number {
    return this.offset;
  }

  /** One entry from a stream of unknown length; resolves once its data descriptor is written. */
  async add(name: string, source: Readable | AsyncIterable<Buffer> | Iterable<Buffer>, modified = new Date()): Promise<ZipEntryWritten> {
    if (this.finished) throw new Error('zip: already finished');
    const nameBytes = Buffer.from(name, 'utf8');
    const { time, date } = dosTime(modified);
    const offset = this.offset;
    const header = Buffer.alloc(30);
    header.writeUInt32LE(LOCAL_HEADER, 0);
    header.writeUInt16LE(VERSION_ZIP64, 4);
    header.writeUInt16LE(FLAGS, 6);
    header.writeUInt16LE(0, 8);
    header.writeUInt16LE(time, 10);
    header.writeUInt16LE(date, 12);
    // CRC and sizes (14-25) stay 0: they follow the data (bit 3).
    header.writeUInt16LE(nameBytes.length, 26);
    header.writeUInt16LE(0, 28);
    await this.write(Buffer.concat([header, nameBytes]));
    let bytes = 0;
    let sum = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      sum = crc32(chunk, sum);
      bytes += chunk.length;
      await this.write(chunk);
    }
    // 8-byte sizes only past 4 GiB, as Go's archive/zip does: readers take sizes from the central directory.
    const large = bytes >= MAX32;
    const descriptor = Buffer.alloc(large ? 24 : 16);
    descriptor.writeUInt32LE(DATA_DESCRIPTOR, 0);
    descriptor.writeUInt32LE(sum, 4);
    if (large) {
      descriptor.writeBigUInt64LE(BigInt(bytes), 8);
      descriptor.writeBigUInt64LE(BigInt(bytes), 16);
    } else {
      descriptor.writeUInt32LE(bytes, 8);
      descriptor.writeUInt32LE(bytes, 12);
    }
    await this.write(descriptor);
    const entry = { name, bytes, crc32: sum, offset, time, date };
    this.entries.push(entry);
    return { name, bytes, crc32: sum };
  }

  /** The central directory and its end (ZIP64 records where a count, size or offset needs them). */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const start = this.offset;
    const parts: Buffer[] = [];
    for (const e of this.entries) {
      const nameBytes = Buffer.from(e.name, 'utf8');
      const extra: bigint[] = [];
      if (e.bytes >= MAX32) extra.push(BigInt(e.bytes), BigInt(e.bytes));
      if (e.offset >= MAX32) extra.push(BigInt(e.offset));
      const extraBytes = Buffer.alloc(extra.length > 0 ? 4 + 8 * extra.length : 0);
      if (extra.length > 0) {
        extraBytes.writeUInt16LE(ZIP64_EXTRA, 0);
        extraBytes.writeUInt16LE(8 * extra.length, 2);
        extra.forEach((v, i) => extraBytes.writeBigUInt64LE(v, 4 + 8 * i));
      }
      const h = Buffer.alloc(46);
      h.writeUInt32LE(CENTRAL_HEADER, 0);
      h.writeUInt16LE(MADE_BY, 4);
      h.writeUInt16LE(extra.length > 0 ? VERSION_ZIP64 : VERSION_PLAIN, 6);
      h.writeUInt16LE(FLAGS, 8);
      h.writeUInt16LE(0, 10);
      h.writeUInt16LE(e.time, 12);
      h.writeUInt16LE(e.date, 14);
      h.writeUInt32LE(e.crc32, 16);
      h.writeUInt32LE(Math.min(e.bytes, MAX32), 20);
      h.writeUInt32LE(Math.min(e.bytes, MAX32), 24);
      h.writeUInt16LE(nameBytes.length, 28);
      h.writeUInt16LE(extraBytes.length, 30);
      // Comment, disk, internal attributes: 0. External: a regular file, rw-r--r--.
      h.writeUInt32LE((0o100644 << 16) >>> 0, 38);
      h.writeUInt32LE(Math.min(e.offset, MAX32), 42);
      parts.push(h, nameBytes, extraBytes);
    }
    const central = Buffer.concat(parts);
    const end = start + central.length;
    const zip64 = this.entries.length >= MAX16 || start >= MAX32 || central.length >= MAX32;
    const tail: Buffer[] = [];
    if (zip64) {
      const record = Buffer.alloc(56);
      record.writeUInt32LE(ZIP64_END, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE(MADE_BY, 12);
      record.writeUInt16LE(VERSION_ZIP64, 14);
      record.writeBigUInt64LE(BigInt(this.entries.length), 24);
      record.writeBigUInt64LE(BigInt(this.entries.length), 32);
      record.writeBigUInt64LE(BigInt(central.length), 40);
      record.writeBigUInt64LE(BigInt(start), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(ZIP64_LOCATOR, 0);
      locator.writeBigUInt64LE(BigInt(end), 8);
      locator.writeUInt32LE(1, 16);
      tail.push(record, locator);
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(END_OF_CENTRAL, 0);
    eocd.writeUInt16LE(Math.min(this.entries.length, MAX16), 8);
    eocd.writeUInt16LE(Math.min(this.entries.length, MAX16), 10);
    eocd.writeUInt32LE(Math.min(central.length, MAX32), 12);
    eocd.writeUInt32LE(Math.min(start, MAX32), 16);
    await this.write(Buffer.concat([central, ...tail, eocd]));
  }

  private async write(chunk: Buffer): Promise<void> {
    if (this.out.destroyed) throw new Error('zip: the output closed');
    this.offset += chunk.length;
    if (!this.out.write(chunk)) {
      // A reader that leaves closes the output: stop waiting for a drain that will not come.
      await Promise.race([once(this.out, 'drain'), once(this.out, 'close').then(() => Promise.reject(new Error('zip: the output closed')))]);
    }
  }
}

/** An entry of a zip on disk, as its central directory gives it. */
export interface ZipEntry {
  readonly name: string;
  readonly bytes: number;
  readonly crc32: number;
  /** Where the entry's data starts in the file. */
  readonly dataOffset: number;
}

/** Reads a zip file's central directory (ZIP64 included); throws naming what is wrong with a damaged one. */
export async function readZipDirectory(file: string): Promise<ZipEntry[]> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, position);
      if (bytesRead !== length) throw new Error(`zip: ${file} ends early (${size} bytes)`);
      return buf;
    };
    // The end record is the last 22 bytes plus a comment of at most 64 KiB.
    const tailLength = Math.min(size, 22 + MAX16);
    const tail = await read(size - tailLength, tailLength);
    let at = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === END_OF_CENTRAL) {
        at = i;
        break;
      }
    }
    if (at < 0) throw new Error(`zip: ${file} has no end of central directory (cut off?)`);
    let count = tail.readUInt16LE(at + 10);
    let centralSize = tail.readUInt32LE(at + 12);
    let centralStart = tail.readUInt32LE(at + 16);
    const eocdPosition = size - tailLength + at;
    if (count === MAX16 || centralSize === MAX32 || centralStart === MAX32) {
      const locator = await read(eocdPosition - 20, 20);
      if (locator.readUInt32LE(0) !== ZIP64_LOCATOR) throw new Error(`zip: ${file} lacks its ZIP64 locator`);
      const record = await read(Number(locator.readBigUInt64LE(8)), 56);
      if (record.readUInt32LE(0) !== ZIP64_END) throw new Error(`zip: ${file} lacks its ZIP64 end record`);
      count = Number(record.readBigUInt64LE(32));
      centralSize = Number(record.readBigUInt64LE(40));
      centralStart = Number(record.readBigUInt64LE(48));
    }
    const central = await read(centralStart, centralSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let n = 0; n < count; n++) {
      if (central.readUInt32LE(p) !== CENTRAL_HEADER) throw new Error(`zip: ${file}: entry ${n} of the central directory is damaged`);
      const nameLength = central.readUInt16LE(p + 28);
      const extraLength = central.readUInt16LE(p + 30);
      const commentLength = central.readUInt16LE(p + 32);
      let bytes = central.readUInt32LE(p + 24);
      let offset = central.readUInt32LE(p + 42);
      const name = central.toString('utf8', p + 46, p + 46 + nameLength);
      // ZIP64 extra: the 8-byte values, in order, of the fields that hold 0xFFFFFFFF.
      for (let x = p + 46 + nameLength; x < p + 46 + nameLength + extraLength; ) {
        const id = central.readUInt16LE(x);
        const length = central.readUInt16LE(x + 2);
        if (id === ZIP64_EXTRA) {
          let v = x + 4;
          if (bytes === MAX32) {
            bytes = Number(central.readBigUInt64LE(v)); // uncompressed
            v += 16; // and compressed, the same for a stored entry
          }
          if (offset === MAX32) offset = Number(central.readBigUInt64LE(v));
        }
        x += 4 + length;
      }
      const local = await read(offset, 30);
      if (local.readUInt32LE(0) !== LOCAL_HEADER) throw new Error(`zip: ${file}: the local header of ${name} is damaged`);
      if (local.readUInt16LE(8) !== 0) throw new Error(`zip: ${file}: ${name} is compressed; only stored entries are read here`);
      const dataOffset = offset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataOffset + bytes > size) throw new Error(`zip: ${file}: ${name} runs past the end of the file`);
      entries.push({ name, bytes, crc32: central.readUInt32LE(p + 16), dataOffset });
      p += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    await handle.close();
  }
}
