import { Writable } from 'node:stream';

// A streaming reader of the tar files `tar cf -` writes (POSIX ustar, GNU long names and base-256 sizes,
// pax extended headers): enough for `kubectl cp`-style copies without a dependency.

const BLOCK = 512;

export interface TarHeader {
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** '0' regular file, '5' directory, 'L' GNU long name, 'x'/'g' pax headers, others skipped. */
  readonly type: string;
}

export class TarFormatError extends Error {
  readonly code = 'tar_format';
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

/** Octal digits, or GNU base-256 (high bit of the first byte set) for values that do not fit. */
function numberField(block: Buffer, start: number, length: number, what: string): number {
  const field = block.subarray(start, start + length);
  if ((field[0] ?? 0) & 0x80) {
    let value = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad ${what} field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function isZeroBlock(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

/** Parses one 512-byte header; null for an all-zero block (end of archive). */
export function parseTarHeader(block: Buffer): TarHeader | null {
  if (block.length !== BLOCK) throw new TarFormatError(`header of ${block.length} bytes`);
  if (isZeroBlock(block)) return null;
  const expected = numberField(block, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  if (sum !== expected) throw new TarFormatError(`header checksum ${expected} does not match ${sum}: not a tar stream, or a corrupted one`);
  const magic = block.subarray(257, 262).toString('latin1');
  const prefix = magic === 'ustar' ? cString(block, 345, 155) : '';
  const name = cString(block, 0, 100);
  const typeByte = block[156] ?? 0;
  return {
    name: prefix !== '' ? `${prefix}/${name}` : name,
    size: numberField(block, 124, 12, 'size'),
    mtimeMs: numberField(block, 136, 12, 'mtime') * 1000,
    type: typeByte === 0 ? '0' : String.fromCharCode(typeByte),
  };
}

/** pax records: `<length> <key>=<value>\n`. */
export function parsePaxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(data.subarray(at, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= 0) throw new TarFormatError('bad pax record length');
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}

/** Receives the bytes of one file entry; `end` is called after its last byte. */
export interface TarEntrySink {
  write(chunk: Buffer): Promise<void> | void;
  end(): Promise<void> | void;
}

/** Called for each regular file; returning undefined skips its bytes. */
export type TarEntryHandler = (header: TarHeader) => Promise<TarEntrySink | undefined> | TarEntrySink | undefined;

type Phase =
  | { kind: 'header' }
  | { kind: 'data'; remaining: number; padding: number; sink: TarEntrySink | undefined }
  | { kind: 'meta'; remaining: number; padding: number; type: string; chunks: Buffer[] }
  | { kind: 'padding'; remaining: number }
  | { kind: 'ended' };

/** A Writable that parses a tar stream as it arrives and hands each file's bytes to a sink. */
export class TarReader extends Writable {
  private pending = Buffer.alloc(0);
  private phase: Phase = { kind: 'header' };
  private longName: string | undefined;
  private pax: Record<string, string> = {};
  /** Regular files seen, in order. */
  readonly entries: TarHeader[] = [];

  constructor(private readonly onEntry: TarEntryHandler) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.consume(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const phase = this.phase;
    // GNU tar ends with zero blocks; a stream cut at a header boundary is a truncated but readable archive.
    if (phase.kind === 'ended' || (phase.kind === 'header' && this.pending.length === 0)) return callback();
    if (phase.kind === 'data') {
      callback(new TarFormatError(`tar stream ended ${phase.remaining} bytes before the end of a file`));
      return;
    }
    callback(new TarFormatError('tar stream ended inside a header'));
  }

  private async consume(chunk: Buffer): Promise<void> {
    let input = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (input.length > 0) {
      const phase = this.phase;
      if (phase.kind === 'ended') return;
      if (phase.kind === 'header') {
        if (input.length < BLOCK) {
          this.pending = Buffer.from(input);
          return;
        }
        await this.header(input.subarray(0, BLOCK));
        input = input.subarray(BLOCK);
        continue;
      }
      if (phase.kind === 'padding') {
        const n = Math.min(phase.remaining, input.length);
        phase.remaining -= n;
        input = input.subarray(n);
        if (phase.remaining === 0) this.phase = { kind: 'header' };
        continue;
      }
      const n = Math.min(phase.remaining, input.length);
      const piece = input.subarray(0, n);
      input = input.subarray(n);
      phase.remaining -= n;
      if (phase.kind === 'data') {
        if (phase.sink && n > 0) await phase.sink.write(piece);
        if (phase.remaining === 0) {
          await phase.sink?.end();
          this.phase = phase.padding > 0 ? { kind: 'padding', remaining: phase.padding } : { kind: 'header' };
        }
      } else {
        phase.chunks.push(Buffer.from(piece));
        if (phase.remaining === 0) {
          this.meta(phase.type, Buffer.concat(phase.chunks));
          this.phase = phase.padding > 0 ? { kind: 'padding', remaining: phase.padding } : { kind: 'header' };
        }
      }
    }
  }

  private meta(type: string, data: Buffer): void {
    if (type === 'L') this.longName = data.toString('utf8').replace(/\0.*$/s, '');
    else if (type === 'x') this.pax = parsePaxRecords(data);
    // 'g' (global pax) carries nothing we use.
  }

  private async header(block: Buffer): Promise<void> {
    const raw = parseTarHeader(block);
    if (raw === null) {
      this.phase = { kind: 'ended' };
      return;
    }
    const padding = (BLOCK - (raw.size % BLOCK)) % BLOCK;
    if (raw.type === 'L' || raw.type === 'x' || raw.type === 'g') {
      this.phase = { kind: 'meta', remaining: raw.size, padding, type: raw.type, chunks: [] };
      if (raw.size === 0) this.phase = { kind: 'header' };
      return;
    }
    const paxSize = this.pax['size'] !== undefined ? Number(this.pax['size']) : undefined;
    const header: TarHeader = {
      ...raw,
      name: this.pax['path'] ?? this.longName ?? raw.name,
      size: paxSize !== undefined && Number.isFinite(paxSize) ? paxSize : raw.size,
    };
    this.longName = undefined;
    this.pax = {};
    const dataPadding = (BLOCK - (header.size % BLOCK)) % BLOCK;
    const regular = header.type === '0' || header.type === '7';
    const sink = regular ? await this.onEntry(header) : undefined;
    if (regular) this.entries.push(header);
    if (header.size === 0) {
      await sink?.end();
      this.phase = { kind: 'header' };
      return;
    }
    this.phase = { kind: 'data', remaining: header.size, padding: dataPadding, sink };
  }
}
