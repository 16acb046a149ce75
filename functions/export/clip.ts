// One file cut by time on the playback server (`/api/clip`), saved as it streams.
import { mkdir, open, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { ClipFormat } from '../contracts/index.js';
import { commitFile } from '../lib/index.js';
import { ExportError } from './segments.js';
import { failureOf, type FootageSource } from './source.js';

export type { ClipFormat };

export interface ClipExportOptions {
  readonly device: string;
  readonly start: Date;
  readonly end: Date;
  readonly format: ClipFormat;
  /** Local folder; the clip lands in `<to>/<device>/<name from the server>`. */
  readonly to: string;
  readonly source: FootageSource;
}

export interface ClipReport {
  readonly device: string;
  readonly file: string;
  readonly bytes: number;
  /** The clip's real start (the keyframe at or before the asked start), its end and length, from the server. */
  readonly start: string | null;
  readonly end: string | null;
  readonly durationSeconds: number | null;
  readonly segments: number | null;
}

/** The server's name, reduced to a plain file name (never a path). */
function fileNameOf(disposition: string | undefined, fallback: string): string {
  const name = /filename="([^"]+)"/.exec(disposition ?? '')?.[1];
  const base = name === undefined ? '' : path.basename(name);
  return /^[A-Za-z0-9._-]+$/.test(base) && !base.startsWith('.') ? base : fallback;
}

/**
 * Saves a streamed answer (a clip, a zip of clips) to `file`, whole or not at all: the server ends it with chunked
 * encoding's last chunk, and without it the cut stopped midway. What is cut afresh on every request has nothing to
 * resume, only to ask again, so a cut-off file is removed. `what` begins the message ("clip from ... was").
 */
export async function saveWhole(res: IncomingMessage, file: string, what: string): Promise<number> {
  const handle = await open(file, 'w');
  let bytes = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      await handle.write(chunk);
      bytes += chunk.length;
    }
    if (!res.complete) throw new Error('the response ended before its last chunk');
  } catch (err) {
    await handle.close();
    await rm(file, { force: true });
    throw new ExportError('clip_failed', `${what} cut off after ${bytes} bytes (${(err as Error).message}); run again`);
  }
  await handle.close();
  return bytes;
}

export async function exportClip(o: ClipExportOptions): Promise<ClipReport> {
  const query = new URLSearchParams({ device: o.device, start: o.start.toISOString(), end: o.end.toISOString(), format: o.format });
  const res = await o.source.get(`/api/clip?${query}`);
  if (res.statusCode !== 200) throw new ExportError('clip_failed', `clip from ${o.source.description} refused: ${await failureOf(res)}`);
  const dir = path.join(o.to, o.device);
  await mkdir(dir, { recursive: true });
  const name = fileNameOf(res.headers['content-disposition'], `${o.device}_clip.${o.format}`);
  const partial = path.join(dir, `${name}.partial`);
  const bytes = await saveWhole(res, partial, `clip from ${o.source.description} was`);
  const final = path.join(dir, name);
  await commitFile(partial, final);
  const header = (h: string): string | null => {
    const v = res.headers[h];
    return typeof v === 'string' ? v : null;
  };
  const duration = Number(header('x-clip-duration'));
  const segments = Number(header('x-clip-segments'));
  return {
    device: o.device,
    file: final,
    bytes,
    start: header('x-clip-start'),
    end: header('x-clip-end'),
    durationSeconds: Number.isFinite(duration) ? duration : null,
    segments: Number.isFinite(segments) ? segments : null,
  };
}
