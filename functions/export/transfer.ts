import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rm, utimes, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { commitFile, sha256OfFile } from '../lib/index.js';
import { isSegmentFileName, timelineFilesSchema } from '../contracts/index.js';
import { Progress, type ProgressOutput } from './progress.js';
import { localState, PARTIAL_SUFFIX, planFile, VerifiedManifest, type ExportItem, type FileAction } from './resume.js';
import { bodyText, failureOf, type FootageSource } from './source.js';

/** One segment to copy, with what it must look like when it arrives (from the playback server's timeline). */
export interface TimeWindow {
  readonly since?: Date;
  readonly until?: Date;
}

export interface ExportOptions {
  readonly device: string;
  /** Local folder; files land in `<to>/<device>/`. */
  readonly to: string;
  readonly window: TimeWindow;
  readonly source: FootageSource;
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

export class ExportError extends Error {
  constructor(
    readonly code: 'device_missing' | 'timeline_failed' | 'clip_failed',
    message: string,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;
/** Bytes received but not yet on disk before the body is paused. */
const QUEUE_LIMIT = 8 << 20;

/** `<to>/<device>/<name>`: only the name's last component is joined, whatever the server sent. */
function localPathOf(dir: string, name: string): string {
  return path.join(dir, path.basename(name));
}

/** The device's finished segments that overlap the window, oldest first, as the playback server lists them. */
async function survey(o: ExportOptions): Promise<ExportItem[]> {
  const query = new URLSearchParams({
    device: o.device,
    start: (o.window.since ?? new Date(0)).toISOString(),
    // Without --until: everything up to now and a day on (clocks differ).
    end: (o.window.until ?? new Date(Date.now() + 86_400_000)).toISOString(),
  });
  const res = await o.source.get(`/api/timeline?${query}`);
  if (res.statusCode !== 200) {
    const why = await failureOf(res);
    // The playback server's own 404 names the parameter; an API server's or a proxy's does not.
    if (res.statusCode === 404 && why.includes('device: ')) throw new ExportError('device_missing', `${o.source.description} has no recordings of ${o.device} (${why}); check --device`);
    const hint = res.statusCode === 401 || res.statusCode === 403 ? ' (the pod proxy needs "get" on pods/proxy; a playback server with PLAYBACK_TOKEN needs --token)' : '';
    throw new ExportError('timeline_failed', `timeline from ${o.source.description} failed: ${why}${hint}`);
  }
  const body = await bodyText(res, 64 << 20);
  let answer: unknown;
  try {
    answer = JSON.parse(body);
  } catch {
    throw new ExportError('timeline_failed', `timeline from ${o.source.description} is not JSON (${body.slice(0, 80)})`);
  }
  const parsed = timelineFilesSchema.safeParse(answer);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ExportError('timeline_failed', `timeline from ${o.source.description} is not a playback timeline: ${issue?.path.join('.') || 'answer'}: ${issue?.message ?? 'unexpected shape'}`);
  }
  const timeline = parsed.data;
  return timeline.spans.flatMap((span) =>
    span.segments.map((s) => ({
      name: s.file,
      bytes: s.bytes,
      ...(SHA256.test(s.sha256) ? { sha256: s.sha256 } : {}),
      start: new Date(s.start),
      end: new Date(s.end),
    })),
  );
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

  constructor(private readonly body: IncomingMessage) {
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
      if (!body.complete) this.failure ??= `connection lost after ${this.received} bytes of the body`;
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

/**
 * Copies the selected segments of one device from the playback server: `GET /files/<device>/<file>`, with
 * `Range: bytes=N-` and `If-Range: <sha256 ETag>` for an interrupted copy, each file checked against the
 * journal's size and sha256 before it is renamed into place. Files already here and verified are skipped,
 * so a re-run continues where the last one stopped.
 */
export async function exportSegments(o: ExportOptions): Promise<ExportReport> {
  const listed = await survey(o);
  // The server's word decides where a file lands: a name that is not one of the device's segment names (a path
  // such as ../../x) is refused before anything is written, and reported as failed.
  const refused = listed.filter((item) => !isSegmentFileName(o.device, item.name));
  const items = listed.filter((item) => isSegmentFileName(o.device, item.name));
  const dir = path.join(o.to, o.device);
  await mkdir(dir, { recursive: true });
  const manifest = await VerifiedManifest.load(dir);
  const outcomes = new Map<string, { outcome: FileOutcome; detail?: string }>();

  const plans = new Map<string, FileAction>();
  for (const item of items) plans.set(item.name, planFile(item, await localState(dir, item.name), manifest.get(item.name)));
  const toCopy = (a: FileAction | undefined, item: ExportItem): number =>
    a?.kind === 'fetch' ? item.bytes : a?.kind === 'resume' ? item.bytes - a.offset : 0;
  const progress = new Progress(o.progress, items.reduce((sum, item) => sum + toCopy(plans.get(item.name), item), 0), listed.length);
  const refusal = { outcome: 'failed' as const, detail: `refused: not a segment file name of ${o.device} (the server named a path or a foreign file); nothing was written` };
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
  progress.finish();

  const files = listed.map((item) => ({ name: item.name, ...(refused.includes(item) ? refusal : (outcomes.get(item.name) ?? { outcome: 'failed' as const })) }));
  return { device: o.device, folder: dir, selected: listed.length, bytesCopied: progress.bytesDone, files, failed: files.filter((f) => f.outcome === 'failed').length };
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
  const headers: Record<string, string> =
    offset > 0 ? { range: `bytes=${offset}-`, ...(item.sha256 ? { 'if-range': `"${item.sha256}"` } : {}) } : {};
  progress.begin(item.name);
  let res: IncomingMessage;
  try {
    res = await o.source.get(`/files/${encodeURIComponent(o.device)}/${encodeURIComponent(item.name)}`, headers);
  } catch (err) {
    if (last) await record(item, 'failed', (err as Error).message);
    return;
  }
  if (res.statusCode === 404) {
    await record(item, 'failed', `gone from the volume (retention deleted it meanwhile?): ${await failureOf(res)}`);
    return;
  }
  // 200 to a range request: the server's file is not the one the partial came from; start over.
  const from = res.statusCode === 206 ? offset : res.statusCode === 200 ? 0 : null;
  if (from === null) {
    const why = await failureOf(res);
    if (last || (res.statusCode ?? 0) < 500) await record(item, 'failed', why);
    return;
  }
  // Before any await: from here on every byte that arrives is kept.
  const body = new BodyQueue(res);
  const receiver = await FileReceiver.open(dir, item, from, progress);
  const cut = await receiver.receive(body);
  const lastModified = Date.parse(res.headers['last-modified'] ?? '');
  const checked = await receiver.finish(dir, Number.isFinite(lastModified) ? lastModified : undefined);
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
