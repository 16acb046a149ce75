// Copies whole segments from a SegmentSource (the playback server, or the bucket), each checked against the
// journal's size and sha256 before it is renamed into place, and resumable.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rm, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { commitFile, sha256OfFile } from '../lib/index.js';
import { isSegmentFileName } from '../contracts/index.js';
import { Progress, type ProgressOutput } from './progress.js';
import { localState, PARTIAL_SUFFIX, planFile, VerifiedManifest, type ExportItem, type FileAction } from './resume.js';
import type { SegmentSource, TimeWindow } from './segments.js';

export interface ExportOptions {
  readonly device: string;
  /** Local folder; files land in `<to>/<device>/`. */
  readonly to: string;
  readonly window: TimeWindow;
  readonly source: SegmentSource;
  readonly progress: ProgressOutput | null;
  /** Whole passes over what is left after a failed request (a dropped connection). */
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

/** Bytes received but not yet on disk before the body is paused. */
const QUEUE_LIMIT = 8 << 20;

/** `<to>/<device>/<name>`: only the name's last component is joined, whatever the source sent. */
function localPathOf(dir: string, name: string): string {
  return path.join(dir, path.basename(name));
}

/**
 * A response body taken chunk by chunk as it arrives, from the moment the response is there. An async
 * iterator, or listeners attached after an await, would lose what was buffered when the connection breaks
 * (the stream discards it on destroy), and could miss the close. Pauses while QUEUE_LIMIT waits for the disk.
 */
class BodyQueue {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private done = false;
  private wake: (() => void) | undefined;
  failure: string | undefined;
  received = 0;

  /** `expected`: the bytes the body brings, when the source says; fewer is a cut connection. */
  constructor(
    private readonly body: Readable,
    private readonly expected: number | null,
  ) {
    body.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.queued += chunk.length;
      this.received += chunk.length;
      if (this.queued > QUEUE_LIMIT) body.pause();
      this.wake?.();
    });
    body.on('error', (err) => {
      this.failure ??= `connection lost after ${this.received} bytes of the body: ${err.message}`;
    });
    body.on('close', () => {
      // An HTTP response knows whether its last chunk came (`complete`); any body knows its length.
      const cut = (body as { complete?: boolean }).complete === false || (this.expected !== null && this.received < this.expected);
      if (cut) this.failure ??= `connection lost after ${this.received} bytes of the body`;
      this.done = true;
      this.wake?.();
    });
  }

  /** The next chunk, or null at the end (whole or cut: see failure). */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk) {
        this.queued -= chunk.length;
        if (this.body.isPaused() && this.queued < QUEUE_LIMIT / 4) this.body.resume();
        return chunk;
      }
      if (this.done) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/** Writes one file's bytes to `<name>.partial`, hashing as it goes; `finish` checks it and renames it. */
class FileReceiver {
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
    const partial = localPathOf(dir, item.name + PARTIAL_SUFFIX);
    const hash = offset > 0 ? await sha256OfFile(partial) : createHash('sha256');
    const receiver = new FileReceiver(item, partial, hash, offset, progress);
    receiver.handle = await open(partial, offset > 0 ? 'a' : 'w');
    return receiver;
  }

  /** Writes what the body brings, hashing it; resolves when it ended or was cut, with why it was cut. */
  async receive(body: BodyQueue): Promise<string | undefined> {
    try {
      for (let chunk = await body.next(); chunk !== null; chunk = await body.next()) {
        await this.handle!.write(chunk);
        this.hash.update(chunk);
        this.received += chunk.length;
        this.progress.advance(chunk.length);
      }
    } finally {
      await this.end();
    }
    return body.failure;
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
      return { ok: false, detail: `size ${this.bytes} bytes, expected ${this.item.bytes} (the journal and the file on the volume disagree)`, keep: false };
    }
    if (this.item.sha256 !== undefined && sha256 !== this.item.sha256) {
      await rm(this.partial, { force: true });
      return { ok: false, detail: `sha256 ${sha256.slice(0, 12)}… differs from the journal's ${this.item.sha256.slice(0, 12)}…`, keep: false };
    }
    const final = localPathOf(dir, this.item.name);
    await commitFile(this.partial, final);
    if (mtimeMs !== undefined && mtimeMs > 0) await utimes(final, new Date(), new Date(mtimeMs)).catch(() => undefined);
    return { ok: true, sha256 };
  }
}

type Recorder = (item: ExportItem, outcome: FileOutcome, detail?: string) => Promise<void>;
type FileRow = ExportReport['files'][number];

/**
 * Copies the selected segments of one device from its source (the playback server's `/files/<device>/<file>`, or
 * the bucket's objects), continuing an interrupted copy from its last byte, each file checked against the
 * journal's size and sha256 before it is renamed into place. Files already here and verified are skipped, so a
 * re-run continues where the last one stopped. The source lists the segments a batch at a time (the bucket: a day).
 */
export async function exportSegments(o: ExportOptions): Promise<ExportReport> {
  const dir = path.join(o.to, o.device);
  await mkdir(dir, { recursive: true });
  const manifest = await VerifiedManifest.load(dir);
  const progress = new Progress(o.progress, 0, 0);
  const files: FileRow[] = [];
  for await (const batch of o.source.batches(o.device, o.window)) files.push(...(await copyBatch(o, dir, batch, manifest, progress)));
  progress.finish();
  return { device: o.device, folder: dir, selected: files.length, bytesCopied: progress.bytesDone, files, failed: files.filter((f) => f.outcome === 'failed').length };
}

async function copyBatch(o: ExportOptions, dir: string, listed: readonly ExportItem[], manifest: VerifiedManifest, progress: Progress): Promise<FileRow[]> {
  // The source's word decides where a file lands: a name that is not one of the device's segment names (a path
  // such as ../../x) is refused before anything is written, and reported as failed.
  const refused = listed.filter((item) => !isSegmentFileName(o.device, item.name));
  const items = listed.filter((item) => isSegmentFileName(o.device, item.name));
  const outcomes = new Map<string, { outcome: FileOutcome; detail?: string }>();

  const plans = new Map<string, FileAction>();
  for (const item of items) plans.set(item.name, planFile(item, await localState(dir, item.name), manifest.get(item.name)));
  const toCopy = (a: FileAction | undefined, item: ExportItem): number =>
    a?.kind === 'fetch' ? item.bytes : a?.kind === 'resume' ? item.bytes - a.offset : 0;
  progress.expect(items.reduce((sum, item) => sum + toCopy(plans.get(item.name), item), 0), listed.length);
  const refusal = { outcome: 'failed' as const, detail: `refused: not a segment file name of ${o.device} (the source named a path or a foreign file); nothing was written` };
  for (const item of refused) progress.fileDone(item.name, `failed (${refusal.detail})`);

  const record: Recorder = async (item, outcome, detail) => {
    outcomes.set(item.name, detail === undefined ? { outcome } : { outcome, detail });
    progress.fileDone(item.name, detail === undefined ? outcome : `${outcome} (${detail})`);
  };

  // Copies already here: skip, or hash once against the journal.
  for (const item of items) {
    const plan = plans.get(item.name);
    if (plan?.kind === 'skip') await record(item, 'skipped');
    if (plan?.kind === 'verify') {
      const sha = (await sha256OfFile(localPathOf(dir, item.name))).digest('hex');
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
    for (const item of pending) await copyFile(o, dir, item, plans, progress, manifest, record, attempt === attempts);
    await manifest.save();
  }
  for (const item of items) if (!outcomes.has(item.name)) await record(item, 'failed', 'not copied after all attempts');
  await manifest.save();
  return listed.map((item) => ({ name: item.name, ...(refused.includes(item) ? refusal : (outcomes.get(item.name) ?? { outcome: 'failed' as const })) }));
}

/** Notes a checked copy with its size and mtime, so the next run need not hash it again. */
async function remember(manifest: VerifiedManifest, dir: string, name: string, sha256: string): Promise<void> {
  const state = await localState(dir, name);
  if (state.final) manifest.set(name, { ...state.final, sha256 });
}

async function copyFile(
  o: ExportOptions,
  dir: string,
  item: ExportItem,
  plans: Map<string, FileAction>,
  progress: Progress,
  manifest: VerifiedManifest,
  record: Recorder,
  last: boolean,
): Promise<void> {
  const plan = plans.get(item.name);
  const offset = plan?.kind === 'resume' ? plan.offset : 0;
  progress.begin(item.name);
  const opened = await o.source.open(o.device, item, offset);
  if (opened.kind === 'gone') {
    await record(item, 'failed', opened.detail);
    return;
  }
  if (opened.kind === 'failed') {
    if (last || opened.final) await record(item, 'failed', opened.detail);
    return;
  }
  const from = opened.from;
  // Before any await: from here on every byte that arrives is kept.
  const body = new BodyQueue(opened.body, opened.bytes);
  const receiver = await FileReceiver.open(dir, item, from, progress);
  const cut = await receiver.receive(body);
  const checked = await receiver.finish(dir, opened.lastModifiedMs ?? undefined);
  if (checked.ok) {
    await remember(manifest, dir, item.name, checked.sha256);
    await record(item, from > 0 ? 'resumed' : 'copied');
  } else if (!checked.keep) {
    // The earlier part did not match: fetch the whole file next time.
    plans.set(item.name, { kind: 'fetch', reason: 'size-differs' });
    if (last) await record(item, 'failed', checked.detail);
  } else if (last) {
    await record(item, 'failed', cut ?? checked.detail);
  }
}
