import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile } from '../lib/index.js';
import type { Segment } from '../contracts/index.js';

/** One segment file of the device to export, as the footage source lists it. */
export interface ExportItem {
  /** A segment file name of the device (checked before anything is written): never a path. */
  readonly name: string;
  readonly bytes: number;
  readonly sha256?: string;
  readonly start: Date;
  readonly end: Date | null;
  /** The journal's line, where the source has it (the bucket's day files): a clip is planned from it. */
  readonly segment?: Segment;
}

/** What is already on this machine for one item. */
export interface LocalFileState {
  /** The finished copy, `<to>/<device>/<name>`. */
  readonly final?: { readonly bytes: number; readonly mtimeMs: number };
  /** An interrupted copy, `<name>.partial`. */
  readonly partialBytes?: number;
}

/** A copy this tool checked before: its size, mtime and checksum (so a re-run need not hash it again). */
export interface VerifiedCopy {
  readonly bytes: number;
  readonly mtimeMs: number;
  readonly sha256?: string;
}

export type FileAction =
  | { readonly kind: 'skip'; readonly reason: 'verified' | 'same-size' }
  | { readonly kind: 'verify' }
  | { readonly kind: 'resume'; readonly offset: number }
  | { readonly kind: 'fetch'; readonly reason: 'new' | 'size-differs' | 'partial-too-long' };

export const PARTIAL_SUFFIX = '.partial';
export const MANIFEST_NAME = '.shifu-rtsp-export.json';

/**
 * Decides per file: a complete copy is skipped (hashed once when the journal has a checksum), an
 * interrupted one continues from its last byte, anything else is fetched whole.
 */
export function planFile(item: ExportItem, local: LocalFileState, verified: VerifiedCopy | undefined): FileAction {
  if (local.final) {
    if (local.final.bytes !== item.bytes) return { kind: 'fetch', reason: 'size-differs' };
    if (item.sha256 === undefined) return { kind: 'skip', reason: 'same-size' };
    const known = verified && verified.bytes === local.final.bytes && verified.mtimeMs === local.final.mtimeMs && verified.sha256 === item.sha256;
    return known ? { kind: 'skip', reason: 'verified' } : { kind: 'verify' };
  }
  if (local.partialBytes !== undefined && local.partialBytes > 0) {
    if (local.partialBytes < item.bytes) return { kind: 'resume', offset: local.partialBytes };
    return { kind: 'fetch', reason: 'partial-too-long' };
  }
  return { kind: 'fetch', reason: 'new' };
}

export async function localState(dir: string, name: string): Promise<LocalFileState> {
  // Only the last component: a name is never a path here (see localPathOf).
  const final = await stat(path.join(dir, path.basename(name))).catch(() => undefined);
  const partial = await stat(path.join(dir, path.basename(name) + PARTIAL_SUFFIX)).catch(() => undefined);
  return {
    ...(final?.isFile() ? { final: { bytes: final.size, mtimeMs: Math.round(final.mtimeMs) } } : {}),
    ...(partial?.isFile() ? { partialBytes: partial.size } : {}),
  };
}

/** Copies verified in earlier runs, per device folder. */
export class VerifiedManifest {
  private entries: Record<string, VerifiedCopy> = {};

  private constructor(private readonly file: string) {}

  static async load(dir: string): Promise<VerifiedManifest> {
    const manifest = new VerifiedManifest(path.join(dir, MANIFEST_NAME));
    try {
      const parsed = JSON.parse(await readFile(manifest.file, 'utf8')) as { files?: Record<string, VerifiedCopy> };
      if (parsed.files && typeof parsed.files === 'object') manifest.entries = parsed.files;
    } catch {
      // none yet, or unreadable: everything is checked again
    }
    return manifest;
  }

  get(name: string): VerifiedCopy | undefined {
    return this.entries[name];
  }

  set(name: string, copy: VerifiedCopy): void {
    this.entries[name] = copy;
  }

  /** Replaced whole (replaceFile), so an interrupted run or a power cut never leaves a torn manifest. */
  async save(): Promise<void> {
    await replaceFile(this.file, `${JSON.stringify({ files: this.entries }, null, 1)}\n`);
  }
}
