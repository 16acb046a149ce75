// A clip cut from footage in the bucket: there is no server to cut it, so the segments the range touches are copied
// here first (whole, each checked against the journal's sha256, resumable, as `export` copies segments), then cut
// by the playback server's own clip plan and ffmpeg arguments (keyframe at or before START, -c copy).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, open, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { commitFile, locateFfmpeg, locateFfprobe } from '../lib/index.js';
import { FfmpegSlots, planClip, startCut, type ClipPlan } from '../playback/index.js';
import type { ClipExportOptions, ClipReport } from './clip.js';
import type { ClipsReport } from './clips.js';
import type { ProgressOutput } from './progress.js';
import type { ExportItem } from './resume.js';
import { ExportError, type SegmentSource } from './segments.js';
import { exportSegments } from './transfer.js';

export interface BucketClipOptions extends Omit<ClipExportOptions, 'source'> {
  readonly source: SegmentSource;
  readonly progress: ProgressOutput | null;
}

/** Where the segments of a clip wait until it is cut: `<to>/.shifu-rtsp-clip/`, kept after a failure for a resume. */
export const CLIP_WORK_FOLDER = '.shifu-rtsp-clip';

/** Cuts one device's clip of [start, end) from the bucket into `<to>/<device>/<clip name>`; its sha256 too. */
export async function exportBucketClip(o: BucketClipOptions): Promise<ClipReport & { readonly sha256: string }> {
  const window = { since: o.start, until: o.end };
  const items: ExportItem[] = [];
  for await (const batch of o.source.batches(o.device, window)) items.push(...batch);
  const range = `between ${o.start.toISOString()} and ${o.end.toISOString()}`;
  if (items.length === 0) throw new ExportError('no_footage', `no footage of ${o.device} ${range} in ${o.source.description}`);
  const work = path.join(o.to, CLIP_WORK_FOLDER);
  const copied = await exportSegments({ device: o.device, to: work, window, source: { ...o.source, batches: async function* () { yield items; } }, progress: o.progress });
  const failed = copied.files.filter((f) => f.outcome === 'failed');
  if (failed.length > 0) {
    throw new ExportError('clip_failed', `the clip needs ${failed.map((f) => `${f.name} (${f.detail ?? 'failed'})`).join(', ')}; what was copied waits in ${work} for the next run`);
  }
  const slot = new FfmpegSlots(1).take(null);
  try {
    const footage = items.map((item) => {
      if (!item.segment) throw new ExportError('clip_failed', `${o.source.description} gave no journal line for ${item.name}`);
      return { segment: item.segment, name: item.name, path: path.join(copied.folder, item.name), startMs: item.start.getTime(), endMs: Date.parse(item.segment.endTime) };
    });
    const plan = await planClip(slot, locateFfprobe(), footage, { device: o.device, startMs: o.start.getTime(), endMs: o.end.getTime(), format: o.format });
    const dir = path.join(o.to, o.device);
    await mkdir(dir, { recursive: true });
    const final = path.join(dir, plan.fileName);
    const { bytes, sha256 } = await cut(slot, plan, `${final}.partial`);
    await commitFile(`${final}.partial`, final);
    await rm(copied.folder, { recursive: true, force: true });
    // Another device's segments may still wait there.
    await rmdir(work).catch(() => undefined);
    return {
      device: o.device,
      file: final,
      bytes,
      sha256,
      start: new Date(plan.startMs).toISOString(),
      end: new Date(plan.endMs).toISOString(),
      durationSeconds: Number(plan.mediaSeconds.toFixed(3)),
      segments: plan.parts.length,
    };
  } finally {
    slot.release();
  }
}

/** ffmpeg's clip into `file`, hashed as it is written; a failed cut leaves no file. */
async function cut(slot: ReturnType<FfmpegSlots['take']>, plan: ClipPlan, file: string): Promise<{ bytes: number; sha256: string }> {
  const child = startCut(slot, locateFfmpeg(), plan);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const handle = await open(file, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      await handle.write(chunk);
      hash.update(chunk);
      bytes += chunk.length;
    }
    const [code, signal] = await exited;
    if (code !== 0) throw new Error(`ffmpeg ${signal ?? `exited ${code}`}: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
  } catch (err) {
    await handle.close();
    await rm(file, { force: true });
    throw new ExportError('clip_failed', `cutting ${plan.fileName} failed (${(err as Error).message})`);
  }
  await handle.close();
  return { bytes, sha256: hash.digest('hex') };
}

/** Several devices' clips of one range from the bucket, one after another; a device without footage is `missing`. */
export async function exportBucketClips(o: Omit<BucketClipOptions, 'device'> & { readonly devices: readonly string[] }): Promise<ClipsReport> {
  const clips: Array<ClipsReport['clips'][number]> = [];
  const missing: Array<ClipsReport['missing'][number]> = [];
  for (const device of o.devices) {
    try {
      const c = await exportBucketClip({ ...o, device });
      clips.push({ device, file: c.file, bytes: c.bytes, sha256: c.sha256, start: c.start ?? '', end: c.end ?? '', durationSeconds: c.durationSeconds ?? 0 });
    } catch (err) {
      if (!(err instanceof ExportError) || (err.code !== 'no_footage' && err.code !== 'device_missing')) throw err;
      missing.push({ device, reason: err.message });
    }
  }
  return { clips, missing };
}
