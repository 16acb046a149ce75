// The path table: which streams are published, which paths the built-in test patterns hold.
import type { SessionDescription } from './sdp.js';
import { Stream } from './stream.js';

export class PathTable {
  private readonly streams = new Map<string, Stream>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly reserved: ReadonlySet<string>;

  constructor(reserved: Iterable<string>) {
    this.reserved = new Set(reserved);
  }

  /** A test-pattern path: only the built-in publisher may ANNOUNCE it. */
  isReserved(path: string): boolean {
    return this.reserved.has(path);
  }

  /** A path someone publishes or is about to (DESCRIBE waits for it rather than answering 404). */
  isKnown(path: string): boolean {
    return this.reserved.has(path) || this.streams.has(path);
  }

  live(path: string): Stream | undefined {
    const s = this.streams.get(path);
    return s?.live ? s : undefined;
  }

  /** The live stream at `path` or at its longest parent (SETUP URLs are the stream path plus a track control). */
  liveAncestor(path: string): Stream | undefined {
    for (let p = path; ; p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
      const s = this.live(p);
      if (s) return s;
      if (p === '/') return undefined;
    }
  }

  /** Registers a publisher's stream (not live until RECORD); 'busy' when the path already has one. */
  announce(path: string, description: SessionDescription): Stream | 'busy' {
    if (this.streams.has(path)) return 'busy';
    const stream = new Stream(path, description);
    this.streams.set(path, stream);
    return stream;
  }

  goLive(stream: Stream): void {
    if (this.streams.get(stream.path) !== stream || stream.live) return;
    stream.live = true;
    const waiting = this.waiters.get(stream.path);
    this.waiters.delete(stream.path);
    for (const wake of waiting ?? []) wake();
  }

  /** Unpublishes: readers are told and the path is free again. */
  remove(stream: Stream): void {
    if (this.streams.get(stream.path) === stream) this.streams.delete(stream.path);
    stream.end();
  }

  /** The live stream at `path`, waiting up to `ms` for its publisher (e.g. a test pattern still starting). */
  async waitLive(path: string, ms: number): Promise<Stream | undefined> {
    const now = this.live(path);
    if (now || ms <= 0) return now;
    await new Promise<void>((resolve) => {
      const set = this.waiters.get(path) ?? new Set<() => void>();
      this.waiters.set(path, set);
      const wake = (): void => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(path) === set) this.waiters.delete(path);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
    });
    return this.live(path);
  }

  /** Paths that are live now. */
  livePaths(): string[] {
    return [...this.streams.values()].filter((s) => s.live).map((s) => s.path);
  }
}
