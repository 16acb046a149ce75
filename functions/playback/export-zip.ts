// `/api/export?devices=a,b&start&(end|duration)&format`: one cut of the same range from several cameras, as one
// zip streamed while each clip is cut (stored entries with data descriptors: lib/zip.ts), its manifest last.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { HttpError, ZipWriter, type Logger } from '../lib/index.js';
import { compactUtc } from '../contracts/index.js';
import { parseFormat, parseRange, planClip, startCut, type ClipFormat, type ClipPlan } from './clip.js';
import type { FfmpegSlot, FfmpegSlots } from './ffmpeg-slots.js';
import { checkDeviceName, type Footage } from './library.js';
import type { LeasedReader } from './bucket-bytes.js';

/** Most devices one export takes: each clip is cut in turn, so more would hold the slot for very long. */
export const MAX_EXPORT_DEVICES = 16;
/** The last entry of every export zip: what is in it and what is not (devices without footage in the range). */
export const EXPORT_MANIFEST = 'manifest.json';

export interface ExportManifest {
  readonly start: string;
  readonly end: string;
  readonly format: ClipFormat;
  readonly clips: ReadonlyArray<{
    readonly device: string;
    readonly file: string;
    readonly start: string;
    readonly end: string;
    readonly durationSeconds: number;
    readonly gapSeconds: number;
    readonly segments: number;
    readonly bytes: number;
    readonly sha256: string;
  }>;
  readonly missing: ReadonlyArray<{ readonly device: string; readonly reason: string }>;
}

/** `devices`: 1 to MAX_EXPORT_DEVICES names, comma-separated, each a device name, none twice. */
export function parseDevices(query: URLSearchParams): string[] {
  const value = query.get('devices');
  if (value === null || value.trim() === '') throw new HttpError(400, 'devices: required (device names separated by commas)');
  const names = value.split(',').map((v) => checkDeviceName(v.trim(), 'devices'));
  if (names.length > MAX_EXPORT_DEVICES) throw new HttpError(400, `devices: at most ${MAX_EXPORT_DEVICES} in one export (${names.length} given)`);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new HttpError(400, `devices: ${twice} is named twice`);
  return names;
}

export interface ExportContext {
  /** A device's footage to cut in a range, the volume's copy first (Catalog.footageToCut); 404 for an unknown device. */
  readonly footage: (device: string, startMs: number, endMs: number) => Promise<Footage[]>;
  /** How the cuts read it (the bucket's through the relay), leased for the export's life. */
  readonly readerFor: () => LeasedReader;
  readonly slots: FfmpegSlots;
  readonly ffmpeg: string;
  readonly ffprobe: string;
  readonly maxClipSeconds: number;
  readonly log: Logger;
  /** Told how each export ended: complete, aborted (the client left), failed (a cut failed midway). */
  readonly onOutcome: (outcome: 'complete' | 'aborted' | 'failed') => void;
}

export async function serveExport(ctx: ExportContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const query = url.searchParams;
  const devices = parseDevices(query);
  const range = parseRange(query, ctx.maxClipSeconds);
  const format = parseFormat(query);
  const found: Array<{ device: string; footage: Footage[] }> = [];
  const missing: Array<{ device: string; reason: string }> = [];
  for (const device of devices) {
    const footage = await ctx.footage(device, range.startMs, range.endMs).catch((err: unknown) => {
      // A name that no root (nor the bucket) records is a bad parameter of this request, not a missing page.
      if (err instanceof HttpError && err.statusCode === 404) throw new HttpError(400, `devices: no recordings of ${device}`);
      throw err;
    });
    if (footage.length > 0) found.push({ device, footage });
    else missing.push({ device, reason: `no footage between ${new Date(range.startMs).toISOString()} and ${new Date(range.endMs).toISOString()}` });
  }
  if (found.length === 0) {
    throw new HttpError(404, `start: no footage of ${devices.join(', ')} between ${new Date(range.startMs).toISOString()} and ${new Date(range.endMs).toISOString()}`, 'not_found');
  }
  // One slot for the whole export: the clips are cut one after the other in it, each holding it while it is cut.
  const slot = ctx.slots.take(res, 1);
  const { reader, release } = ctx.readerFor();
  try {
    const plans: ClipPlan[] = [];
    for (const { device, footage } of found) plans.push(await planClip(slot, ctx.ffprobe, footage, { device, format, ...range }, reader));
    const seconds = Math.max(1, Math.round((range.endMs - range.startMs) / 1000));
    res.writeHead(200, {
      'content-type': 'application/zip',
      'content-disposition': `attachment; filename="export_${compactUtc(new Date(range.startMs))}_${seconds}s.zip"`,
      'cache-control': 'no-store',
      'x-export-start': new Date(range.startMs).toISOString(),
      'x-export-end': new Date(range.endMs).toISOString(),
      'x-export-format': format,
      'x-export-devices': plans.map((p) => p.request.device).join(','),
      'x-export-missing': missing.map((m) => m.device).join(','),
      'x-export-clips': [...plans.map((p) => p.fileName), EXPORT_MANIFEST].join(','),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await writeZip(ctx, slot, res, plans, { start: new Date(range.startMs).toISOString(), end: new Date(range.endMs).toISOString(), format, missing });
  } finally {
    slot.release();
    release();
  }
}

async function writeZip(ctx: ExportContext, slot: FfmpegSlot, res: ServerResponse, plans: readonly ClipPlan[], head: Omit<ExportManifest, 'clips'>): Promise<void> {
  const zip = new ZipWriter(res);
  const clips: Array<ExportManifest['clips'][number]> = [];
  try {
    for (const plan of plans) {
      const child = startCut(slot, ctx.ffmpeg, plan);
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => {
        stderr = (stderr + b.toString()).slice(-2000);
      });
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      const hash = createHash('sha256');
      const entry = await zip.add(plan.fileName, hashed(child.stdout!, hash), new Date(plan.startMs));
      const code = await exited;
      // A cut that fails midway leaves no zip: the client sees one without its end, never a short clip as whole.
      if (code !== 0) throw new Error(`ffmpeg could not cut ${plan.fileName} (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`);
      clips.push({
        device: plan.request.device,
        file: plan.fileName,
        start: new Date(plan.startMs).toISOString(),
        end: new Date(plan.endMs).toISOString(),
        durationSeconds: Number(plan.mediaSeconds.toFixed(3)),
        gapSeconds: Number(plan.gapSeconds.toFixed(3)),
        segments: plan.parts.length,
        bytes: entry.bytes,
        sha256: hash.digest('hex'),
      });
    }
    const manifest: ExportManifest = { ...head, clips };
    await zip.add(EXPORT_MANIFEST, [Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]);
    await zip.finish();
    res.end();
    ctx.onOutcome('complete');
  } catch (err) {
    if (res.destroyed) {
      ctx.onOutcome('aborted');
      return;
    }
    ctx.onOutcome('failed');
    ctx.log.error({ err, clips: plans.map((p) => p.fileName) }, 'export zip failed mid-stream');
    res.destroy();
  }
}

/** The clip's bytes as they pass, into its sha256 (the manifest's, which the export CLI checks). */
async function* hashed(source: Readable, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of source as AsyncIterable<Buffer>) {
    hash.update(chunk);
    yield chunk;
  }
}
