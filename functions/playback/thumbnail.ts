// Thumbnails: a JPEG of the keyframe at or before a time, decoded by ffmpeg (in a slot of the one limit),
// scaled to a width, and kept: in the pod's own cache folder (PLAYBACK_CACHE_DIR, an emptyDir, never the volume)
// or, without one, in a bounded memory cache. The key (device, file, keyframe, width) is the ETag.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { HttpError, replaceFile } from '../lib/index.js';
import { keyframeIn, timeParameter, VOLUME_READER, type FootageReader } from './clip.js';
import type { FfmpegSlot } from './ffmpeg-slots.js';
import type { Footage } from './library.js';
import { checkDeviceName } from './library.js';
import { keyframeFromMp4Index } from './mp4-index.js';

export const THUMBNAIL_MIN_WIDTH = 32;
export const THUMBNAIL_MAX_WIDTH = 1280;
export const THUMBNAIL_DEFAULT_WIDTH = 400;
/** What the memory cache holds at most (without a cache folder). */
const MEMORY_BYTES = 32 << 20;
/** What the cache folder holds at most: an emptyDir over its sizeLimit evicts the pod. */
export const CACHE_DIR_BYTES = 256 << 20;

export interface ThumbnailRequest {
  readonly device: string;
  readonly timeMs: number;
  readonly width: number;
}

/** `device`, `time` (ISO 8601), `width` (32..1280, default 400). */
export function parseThumbnailRequest(query: URLSearchParams): ThumbnailRequest {
  const device = checkDeviceName(query.get('device'));
  const timeMs = timeParameter(query, 'time');
  const given = query.get('width');
  const width = given === null || given === '' ? THUMBNAIL_DEFAULT_WIDTH : /^\d{1,4}$/.test(given) ? Number(given) : NaN;
  if (!Number.isInteger(width) || width < THUMBNAIL_MIN_WIDTH || width > THUMBNAIL_MAX_WIDTH) {
    throw new HttpError(400, `width: expected a whole number of pixels from ${THUMBNAIL_MIN_WIDTH} to ${THUMBNAIL_MAX_WIDTH}`);
  }
  return { device, timeMs, width };
}

/**
 * The keyframe a thumbnail shows: seconds into the file (its decode time less the file's first timestamp). An
 * MP4's own index answers without a process; else ffprobe in `slot`, and without a slot null (ask again with one).
 */
export async function thumbnailKeyframe(slot: FfmpegSlot | null, ffprobe: string, f: Footage, timeMs: number, reader: FootageReader = VOLUME_READER): Promise<number | null> {
  const offset = Math.max(0, Math.min(timeMs, f.endMs) - f.startMs) / 1000;
  if (offset === 0) return 0;
  const found = slot ? await keyframeIn(slot, ffprobe, f, offset, false, reader) : f.segment.format === 'mp4' ? await keyframeFromMp4Index(reader.bytes(f), offset) : null;
  return found === null ? null : Math.max(0, found.keyframe - found.fileStart);
}

/** The cache key and ETag of a thumbnail. */
export function thumbnailKey(device: string, name: string, keyframe: number, width: number): string {
  return createHash('sha256').update(`${device}\n${name}\n${keyframe.toFixed(6)}\n${width}`).digest('hex').slice(0, 32);
}

/**
 * ffmpeg's arguments (`input`: FootageReader.input, `file:<path>` or the bucket relay's loopback URL): only keyframes decoded (`-skip_frame nokey`), from the keyframe's time, so the first frame
 * out is that keyframe whatever the B-frames around it; one frame, scaled to `width` (height even, aspect kept).
 */
export function thumbnailArguments(input: string, keyframe: number, width: number): string[] {
  return [
    '-hide_banner', '-v', 'error', '-skip_frame', 'nokey', '-ss', keyframe.toFixed(6), '-i', input,
    '-map', '0:v:0', '-frames:v', '1', '-vf', `scale=${width}:-2`, '-q:v', '4', '-f', 'mjpeg', 'pipe:1',
  ];
}

/** Thumbnails kept by key: in a folder of the pod's own (bounded, oldest dropped first) or in memory. */
export class ThumbnailCache {
  /** Keys in use order (oldest first) and their sizes: the memory cache's images, or the folder's files. */
  private readonly sizes = new Map<string, number>();
  private readonly memory = new Map<string, Buffer>();
  private bytes = 0;
  private ready: Promise<void> | null = null;

  constructor(
    private readonly dir: string | undefined,
    private readonly limit = dir === undefined ? MEMORY_BYTES : CACHE_DIR_BYTES,
  ) {}

  /** The folder is made and what an earlier run of the pod left there is counted, once. */
  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      if (this.dir === undefined) return;
      await mkdir(this.dir, { recursive: true });
      const found: Array<{ key: string; size: number; mtime: number }> = [];
      for (const name of await readdir(this.dir)) {
        if (!/^[0-9a-f]{32}\.jpg$/.test(name)) continue;
        const info = await stat(path.join(this.dir, name)).catch(() => null);
        if (info?.isFile()) found.push({ key: name.slice(0, 32), size: info.size, mtime: info.mtimeMs });
      }
      found.sort((a, b) => a.mtime - b.mtime);
      for (const f of found) this.note(f.key, f.size);
      await this.trim();
    })();
    return this.ready;
  }

  private note(key: string, size: number): void {
    this.bytes -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
    this.sizes.set(key, size);
    this.bytes += size;
  }

  private async trim(): Promise<void> {
    while (this.bytes > this.limit && this.sizes.size > 1) {
      const [oldest, size] = this.sizes.entries().next().value!;
      this.sizes.delete(oldest);
      this.bytes -= size;
      this.memory.delete(oldest);
      if (this.dir !== undefined) await rm(path.join(this.dir, `${oldest}.jpg`), { force: true });
    }
  }

  async get(key: string): Promise<Buffer | null> {
    await this.prepare();
    if (!this.sizes.has(key)) return null;
    const image = this.dir === undefined ? (this.memory.get(key) ?? null) : await readFile(path.join(this.dir, `${key}.jpg`)).catch(() => null);
    if (image) this.note(key, image.length);
    return image;
  }

  async put(key: string, image: Buffer): Promise<void> {
    await this.prepare();
    if (this.dir === undefined) this.memory.set(key, image);
    else await replaceFile(path.join(this.dir, `${key}.jpg`), image);
    this.note(key, image.length);
    await this.trim();
  }
}

/** Decodes the thumbnail in the request's slot; rejects with ffmpeg's last words when it makes no image. */
export function renderThumbnail(slot: FfmpegSlot, ffmpeg: string, input: string, keyframe: number, width: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = slot.spawn(ffmpeg, thumbnailArguments(input, keyframe, width), { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => chunks.push(b));
    child.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-2000);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const image = Buffer.concat(chunks);
      if (code === 0 && image.length > 0) resolve(image);
      else reject(new Error(`ffmpeg made no thumbnail (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ')}`));
    });
  });
}
