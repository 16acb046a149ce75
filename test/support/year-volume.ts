// A volume as a year of recording leaves it, made in seconds: a journal line per segment (what the recorder
// writes) and, per line, a hard link to one small file, so every segment is a real file on the volume without
// a year of disk. Used by the e2e tests and `npm run bench -- playback`.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { journalPathOf, type Segment } from '../../functions/recorder/index.js';
import { segmentFixture } from './segment.js';

/** 4 devices x 105,120 is the year: five-minute segments for 365 days. */
export const YEAR_OF_FIVE_MINUTE_SEGMENTS = 365 * 24 * 12;

export interface YearVolumeOptions {
  readonly devices: readonly string[];
  /** Segments per device. */
  readonly segments: number;
  readonly segmentSeconds?: number;
  /** Start of the first segment (ms). */
  readonly t0: number;
  /** Every segment file is a hard link to this file (a real recording, for clips; any bytes otherwise). */
  readonly media: string;
  /** Container of the segments (mp4 by default). */
  readonly format?: 'mp4' | 'mkv' | 'ts';
}

export function segmentOf(root: string, device: string, sequence: number, o: YearVolumeOptions, bytes: number, sha256: string): Segment {
  const seconds = o.segmentSeconds ?? 300;
  return segmentFixture(
    { device, start: o.t0 + (sequence - 1) * seconds * 1000, seconds, root, format: o.format ?? 'mp4' },
    { sequence, bytes, sha256, video: { codec: 'h264', width: 1280, height: 720, fps: 25 }, audio: { codec: 'aac' } },
  );
}

/** ext4 allows 65,000 links to one inode: every 60,000 segments link to a fresh copy of the media. */
const LINKS_PER_COPY = 60_000;

function linkSource(media: string, linked: number): string {
  const copy = Math.floor(linked / LINKS_PER_COPY);
  if (copy === 0) return media;
  const source = `${media}.${copy}`;
  if (!existsSync(source)) copyFileSync(media, source);
  return source;
}

/** Writes the journals and the files; returns each journal's size in bytes. */
export async function writeYearVolume(root: string, o: YearVolumeOptions): Promise<Map<string, number>> {
  const media = readFileSync(o.media);
  const sha256 = createHash('sha256').update(media).digest('hex');
  const sizes = new Map<string, number>();
  let linked = 0;
  for (const device of o.devices) {
    mkdirSync(path.join(root, device), { recursive: true });
    const journal = journalPathOf(root, device);
    mkdirSync(path.dirname(journal), { recursive: true });
    const handle = await open(journal, 'w');
    let size = 0;
    try {
      let batch: string[] = [];
      for (let sequence = 1; sequence <= o.segments; sequence++) {
        const segment = segmentOf(root, device, sequence, o, media.length, sha256);
        linkSync(linkSource(o.media, linked++), path.join(root, segment.file));
        batch.push(`${JSON.stringify(segment)}\n`);
        if (batch.length === 4096 || sequence === o.segments) {
          const text = batch.join('');
          size += Buffer.byteLength(text);
          await handle.write(text);
          batch = [];
        }
      }
    } finally {
      await handle.close();
    }
    sizes.set(device, size);
  }
  return sizes;
}

/** A small file to link every segment to, when the bytes need not be media. */
export function writeStandIn(file: string, bytes = 4096): void {
  writeFileSync(file, Buffer.alloc(bytes, 7));
}
