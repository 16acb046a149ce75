// Several cameras' clips of one range, from the playback server's `/api/export` zip: saved as it streams, then
// checked (each clip's CRC-32 from the zip and sha256 from its manifest) and unpacked into `<to>/<device>/`.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { commitFile, readZipDirectory, type ZipEntry } from '../lib/index.js';
import { saveWhole, type ClipFormat } from './clip.js';
import { failureOf, type FootageSource } from './source.js';
import { ExportError } from './segments.js';

export interface ClipsExportOptions {
  readonly devices: readonly string[];
  readonly start: Date;
  readonly end: Date;
  readonly format: ClipFormat;
  /** Local folder; each clip lands in `<to>/<device>/<name from the server>`. */
  readonly to: string;
  readonly source: FootageSource;
}

export interface ClipsReport {
  readonly clips: ReadonlyArray<{ device: string; file: string; bytes: number; sha256: string; start: string; end: string; durationSeconds: number }>;
  /** Devices without footage in the range, as the server says. */
  readonly missing: ReadonlyArray<{ device: string; reason: string }>;
}

/** What the server's manifest.json says (functions/playback's ExportManifest), checked before anything is trusted. */
const manifestSchema = z.object({
  clips: z.array(
    z.object({
      device: z.string(),
      file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a plain file name'),
      start: z.string(),
      end: z.string(),
      durationSeconds: z.number(),
      bytes: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
  missing: z.array(z.object({ device: z.string(), reason: z.string() })),
});

const MANIFEST = 'manifest.json';

export async function exportClips(o: ClipsExportOptions): Promise<ClipsReport> {
  const query = new URLSearchParams({ devices: o.devices.join(','), start: o.start.toISOString(), end: o.end.toISOString(), format: o.format });
  const res = await o.source.get(`/api/export?${query}`);
  if (res.statusCode !== 200) throw new ExportError('clip_failed', `clips from ${o.source.description} refused: ${await failureOf(res)}`);
  await mkdir(o.to, { recursive: true });
  // The zip is a working file beside the clips; removed once they are unpacked, or when anything fails.
  const zip = path.join(o.to, `.export-${process.pid}-${Date.now()}.zip.partial`);
  try {
    await saveWhole(res, zip, `clips from ${o.source.description} were`);
    return await unpack(zip, o);
  } finally {
    await rm(zip, { force: true });
  }
}

async function unpack(zip: string, o: ClipsExportOptions): Promise<ClipsReport> {
  const damaged = (why: string): ExportError => new ExportError('clip_failed', `the zip from ${o.source.description} is damaged: ${why}; run again`);
  const entries = await readZipDirectory(zip).catch((err: unknown) => {
    throw damaged((err as Error).message);
  });
  const manifestEntry = entries.find((e) => e.name === MANIFEST);
  if (!manifestEntry) throw damaged(`no ${MANIFEST}`);
  if (manifestEntry.bytes > 16 << 20) throw damaged(`${MANIFEST} is ${manifestEntry.bytes} bytes`);
  const text = Buffer.alloc(manifestEntry.bytes);
  const handle = await open(zip, 'r');
  try {
    await handle.read(text, 0, text.length, manifestEntry.dataOffset);
  } finally {
    await handle.close();
  }
  if ((crc32(text) >>> 0) !== manifestEntry.crc32) throw damaged(`${MANIFEST} fails its CRC-32`);
  const parsed = manifestSchema.safeParse(JSON.parse(text.toString('utf8')));
  if (!parsed.success) throw damaged(`${MANIFEST}: ${parsed.error.issues[0]?.message ?? 'not a manifest'}`);
  const manifest = parsed.data;
  const clips: Array<ClipsReport['clips'][number]> = [];
  for (const clip of manifest.clips) {
    // The server's word does not decide where a file lands: only a device asked for, a plain name in its folder.
    if (!o.devices.includes(clip.device)) throw damaged(`a clip of ${clip.device}, which was not asked for`);
    const entry = entries.find((e) => e.name === clip.file);
    if (!entry) throw damaged(`${clip.file} is in the manifest, not in the zip`);
    if (entry.bytes !== clip.bytes) throw damaged(`${clip.file} holds ${entry.bytes} bytes, its manifest says ${clip.bytes}`);
    const dir = path.join(o.to, clip.device);
    await mkdir(dir, { recursive: true });
    const final = path.join(dir, path.basename(clip.file));
    await extract(zip, entry, final, clip.sha256, damaged);
    clips.push({ device: clip.device, file: final, bytes: entry.bytes, sha256: clip.sha256, start: clip.start, end: clip.end, durationSeconds: clip.durationSeconds });
  }
  return { clips, missing: manifest.missing };
}

/** Copies one entry out, checking its CRC-32 (the zip's) and sha256 (the manifest's) before it takes its name. */
async function extract(zip: string, entry: ZipEntry, final: string, sha256: string, damaged: (why: string) => ExportError): Promise<void> {
  const partial = `${final}.partial`;
  const out = await open(partial, 'w');
  const hash = createHash('sha256');
  let sum = 0;
  try {
    if (entry.bytes > 0) {
      for await (const chunk of createReadStream(zip, { start: entry.dataOffset, end: entry.dataOffset + entry.bytes - 1 }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        sum = crc32(chunk, sum);
        await out.write(chunk);
      }
    }
  } finally {
    await out.close();
  }
  const digest = hash.digest('hex');
  if ((sum >>> 0) !== entry.crc32 || digest !== sha256) {
    await rm(partial, { force: true });
    throw damaged(`${path.basename(final)} does not match its ${(sum >>> 0) !== entry.crc32 ? 'CRC-32' : 'sha256'}`);
  }
  await commitFile(partial, final);
}
