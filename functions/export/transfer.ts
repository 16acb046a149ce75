import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { sha256OfFile } from '../lib/index.js';
import { journalRelativePath } from '../recorder/index.js';
import type { PodShell } from './pod-shell.js';
import { textSink } from './pod-shell.js';
import { Progress, type ProgressOutput } from './progress.js';
import { localState, PARTIAL_SUFFIX, planFile, VerifiedManifest, type FileAction } from './resume.js';
import { parseJournal, parseListing, selectSegments, type ExportItem, type TimeWindow } from './selection.js';
import { TarReader, type TarEntrySink, type TarHeader } from './tar-reader.js';

export interface ExportOptions {
  readonly device: string;
  /** The recorder's FileSavePath inside the export pod, e.g. `/data` or `/data/site-a`. */
  readonly root: string;
  /** Local folder; files land in `<to>/<device>/`. */
  readonly to: string;
  readonly window: TimeWindow;
  readonly shell: PodShell;
  readonly progress: ProgressOutput | null;
  /** Files per `tar` exec. */
  readonly batchSize?: number;
  /** Whole passes over what is left after a failed exec (a dropped connection). */
  readonly attempts?: number;
}

export type FileOutcome = 'copied' | 'resumed' | 'verified' | 'skipped' | 'failed';

export interface ExportReport {
  readonly device: string;
  readonly folder: string;
  readonly selected: number;
  readonly bytesCopied: number;
  readonly files: ReadonlyArray<{ readonly name: string; readonly outcome: FileOutcome; readonly detail?: string }>;
  readonly failed: number;
}

export class ExportError extends Error {
  constructor(
    readonly code: 'device_folder_missing' | 'listing_failed',
    message: string,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

const posix = path.posix;

/** What the pod holds for the device: its segment files and the journal. */
async function survey(o: ExportOptions): Promise<ExportItem[]> {
  const deviceDir = posix.join(o.root, o.device);
  const listing = textSink();
  const listed = await o.shell.run(
    ['sh', '-c', 'cd -- "$1" 2>/dev/null || exit 3; for f in *; do if [ -f "$f" ]; then stat -c "%s %n" -- "$f"; fi; done', 'sh', deviceDir],
    listing.stream,
  );
  if (listed.exitCode === 3) {
    throw new ExportError('device_folder_missing', `no folder ${deviceDir} in the export pod: nothing was recorded for ${o.device} there (check --device and --storage-path)`);
  }
  if (listed.exitCode !== 0) throw new ExportError('listing_failed', `listing ${deviceDir} failed (exit ${listed.exitCode}): ${listed.stderr.trim()}`);
  const journal = textSink();
  await o.shell.run(['sh', '-c', 'cat -- "$1" 2>/dev/null; exit 0', 'sh', posix.join(o.root, journalRelativePath(o.device))], journal.stream);
  return selectSegments(o.device, parseListing(listing.text()), parseJournal(journal.text()), o.window);
}

/** Writes one file's bytes to `<name>.partial`, hashing as it goes; `finish` checks it and renames it. */
class FileReceiver implements TarEntrySink {
  private handle: FileHandle | undefined;
  private received = 0;

  private constructor(
    readonly item: ExportItem,
    private readonly partial: string,
    private readonly hash: Hash,
    private readonly offset: number,
    private readonly progress: Progress,
  ) {}

  /** `offset` > 0 continues an interrupted copy: its bytes are hashed first. */
  static async open(dir: string, item: ExportItem, offset: number, progress: Progress): Promise<FileReceiver> {
    const partial = path.join(dir, item.name + PARTIAL_SUFFIX);
    const hash = offset > 0 ? await sha256OfFile(partial) : createHash('sha256');
    const receiver = new FileReceiver(item, partial, hash, offset, progress);
    receiver.handle = await open(partial, offset > 0 ? 'a' : 'w');
    return receiver;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.handle) throw new Error('receiver closed');
    await this.handle.write(chunk);
    this.hash.update(chunk);
    this.received += chunk.length;
    this.progress.advance(chunk.length);
  }

  async end(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  get bytes(): number {
    return this.offset + this.received;
  }

  /** Renames a complete, matching copy into place; otherwise says what is wrong (the partial stays for a resume if it is only short). */
  async finish(dir: string, mtimeMs: number | undefined): Promise<{ ok: true; sha256: string } | { ok: false; detail: string; keep: boolean }> {
    await this.end();
    if (this.bytes < this.item.bytes) return { ok: false, detail: `short: ${this.bytes} of ${this.item.bytes} bytes arrived`, keep: true };
    const sha256 = this.hash.digest('hex');
    if (this.bytes > this.item.bytes) {
      await rm(this.partial, { force: true });
      return { ok: false, detail: `size ${this.bytes} bytes, expected ${this.item.bytes} (the journal and the file in the pod disagree)`, keep: false };
    }
    if (this.item.sha256 !== undefined && sha256 !== this.item.sha256) {
      await rm(this.partial, { force: true });
      return { ok: false, detail: `sha256 ${sha256.slice(0, 12)}… differs from the journal's ${this.item.sha256.slice(0, 12)}…`, keep: false };
    }
    const final = path.join(dir, this.item.name);
    await rename(this.partial, final);
    if (mtimeMs !== undefined && mtimeMs > 0) await utimes(final, new Date(), new Date(mtimeMs)).catch(() => undefined);
    return { ok: true, sha256 };
  }
}

/** A tar sink that routes each entry to its receiver. */
function tarInto(dir: string, wanted: Map<string, { item: ExportItem }>, progress: Progress, done: Map<string, { receiver: FileReceiver; header: TarHeader }>): TarReader {
  return new TarReader(async (header) => {
    const name = posix.basename(header.name);
    const entry = wanted.get(name);
    if (!entry) return undefined;
    progress.begin(name);
    const receiver = await FileReceiver.open(dir, entry.item, 0, progress);
    done.set(name, { receiver, header });
    return receiver;
  });
}

/**
 * Copies the selected segments of one device out of the export pod: a `tar cf -` per batch of whole files,
 * `tail -c +N` for interrupted ones, each checked against the journal's size and sha256 before it is renamed
 * into place. Files already here and verified are skipped, so a re-run continues where the last one stopped.
 */
export async function exportSegments(o: ExportOptions): Promise<ExportReport> {
  const items = await survey(o);
  const dir = path.join(o.to, o.device);
  await mkdir(dir, { recursive: true });
  const manifest = await VerifiedManifest.load(dir);
  const outcomes = new Map<string, { outcome: FileOutcome; detail?: string }>();

  const plans = new Map<string, FileAction>();
  for (const item of items) plans.set(item.name, planFile(item, await localState(dir, item.name), manifest.get(item.name)));
  const toCopy = (a: FileAction | undefined, item: ExportItem): number =>
    a?.kind === 'fetch' ? item.bytes : a?.kind === 'resume' ? item.bytes - a.offset : 0;
  const progress = new Progress(o.progress, items.reduce((sum, item) => sum + toCopy(plans.get(item.name), item), 0), items.length);

  const record = async (item: ExportItem, outcome: FileOutcome, detail?: string): Promise<void> => {
    outcomes.set(item.name, detail === undefined ? { outcome } : { outcome, detail });
    progress.fileDone(item.name, detail === undefined ? outcome : `${outcome} (${detail})`);
  };

  // Copies already here: skip, or hash once against the journal.
  for (const item of items) {
    const plan = plans.get(item.name);
    if (plan?.kind === 'skip') await record(item, 'skipped');
    if (plan?.kind === 'verify') {
      const sha = (await sha256OfFile(path.join(dir, item.name))).digest('hex');
      if (sha === item.sha256) {
        await remember(manifest, dir, item.name, sha);
        await record(item, 'verified');
      } else {
        plans.set(item.name, { kind: 'fetch', reason: 'size-differs' });
      }
    }
  }

  const attempts = o.attempts ?? 3;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const pending = items.filter((item) => !outcomes.has(item.name));
    if (pending.length === 0) break;
    if (attempt > 1) {
      // After a dropped connection, whatever arrived in part continues from its last byte.
      for (const item of pending) {
        const again = planFile(item, await localState(dir, item.name), undefined);
        plans.set(item.name, again.kind === 'resume' ? again : { kind: 'fetch', reason: 'size-differs' });
      }
    }
    const last = attempt === attempts;
    await copyResumes(o, dir, pending.filter((i) => plans.get(i.name)?.kind === 'resume'), plans, progress, manifest, record, last);
    await copyWhole(o, dir, pending.filter((i) => plans.get(i.name)?.kind === 'fetch' && !outcomes.has(i.name)), progress, manifest, record, last);
    await manifest.save();
  }
  for (const item of items) if (!outcomes.has(item.name)) await record(item, 'failed', 'not copied after all attempts');
  await manifest.save();
  progress.finish();

  const files = items.map((item) => ({ name: item.name, ...(outcomes.get(item.name) ?? { outcome: 'failed' as const }) }));
  return { device: o.device, folder: dir, selected: items.length, bytesCopied: progress.bytesDone, files, failed: files.filter((f) => f.outcome === 'failed').length };
}

/** Notes a checked copy with its size and mtime, so the next run need not hash it again. */
async function remember(manifest: VerifiedManifest, dir: string, name: string, sha256: string): Promise<void> {
  const state = await localState(dir, name);
  if (state.final) manifest.set(name, { ...state.final, sha256 });
}

type Recorder = (item: ExportItem, outcome: FileOutcome, detail?: string) => Promise<void>;

async function copyResumes(
  o: ExportOptions,
  dir: string,
  items: readonly ExportItem[],
  plans: Map<string, FileAction>,
  progress: Progress,
  manifest: VerifiedManifest,
  record: Recorder,
  last: boolean,
): Promise<void> {
  for (const item of items) {
    const plan = plans.get(item.name);
    if (plan?.kind !== 'resume') continue;
    progress.begin(item.name);
    const receiver = await FileReceiver.open(dir, item, plan.offset, progress);
    const sink = new Writable({
      write(chunk: Buffer, _enc, callback) {
        receiver.write(chunk).then(() => callback(), callback);
      },
    });
    const remote = posix.join(o.root, o.device, item.name);
    let result;
    try {
      result = await o.shell.run(['tail', '-c', `+${plan.offset + 1}`, '--', remote], sink);
    } catch (err) {
      await receiver.end();
      if (last) await record(item, 'failed', (err as Error).message);
      continue;
    }
    const checked = await receiver.finish(dir, undefined);
    if (checked.ok) {
      await remember(manifest, dir, item.name, checked.sha256);
      await record(item, 'resumed');
    } else if (!checked.keep) {
      // The earlier part did not match: fetch the whole file instead.
      plans.set(item.name, { kind: 'fetch', reason: 'size-differs' });
    } else if (last) {
      await record(item, 'failed', result.exitCode !== 0 ? `tail exit ${result.exitCode}: ${result.stderr.trim()}` : checked.detail);
    }
  }
}

async function copyWhole(
  o: ExportOptions,
  dir: string,
  items: readonly ExportItem[],
  progress: Progress,
  manifest: VerifiedManifest,
  record: Recorder,
  last: boolean,
): Promise<void> {
  const batchSize = o.batchSize ?? 50;
  for (let at = 0; at < items.length; at += batchSize) {
    const batch = items.slice(at, at + batchSize);
    const wanted = new Map(batch.map((item) => [item.name, { item }]));
    const arrived = new Map<string, { receiver: FileReceiver; header: TarHeader }>();
    const reader = tarInto(dir, wanted, progress, arrived);
    let result: { exitCode: number; stderr: string } | undefined;
    let failure: string | undefined;
    try {
      result = await o.shell.run(['tar', 'cf', '-', '-C', posix.join(o.root, o.device), '--', ...batch.map((i) => i.name)], reader);
    } catch (err) {
      failure = (err as Error).message;
    }
    for (const item of batch) {
      const got = arrived.get(item.name);
      if (!got) {
        // Not in the stream: deleted in the pod meanwhile (retention), or the connection dropped before it.
        if (last || result !== undefined) await record(item, 'failed', failure ?? `not in the tar stream (tar exit ${result?.exitCode}): ${result?.stderr.trim() ?? ''}`);
        continue;
      }
      const checked = await got.receiver.finish(dir, got.header.mtimeMs);
      if (checked.ok) {
        await remember(manifest, dir, item.name, checked.sha256);
        await record(item, 'copied');
      } else if (!checked.keep || last) {
        await record(item, 'failed', checked.detail);
      }
    }
  }
}
