// Several cameras played together from one instant: one master clock (the first camera's video), the others
// nudged toward it (playbackRate for a small drift, a seek for a large one), so their wall-clock positions stay
// within half a second. Each clip's first frame is a keyframe at or before the instant (its X-Clip-Start).

/** What the page offers this module (app.ts owns it; passed in, so the modules form no import cycle). */
export interface SyncKit {
  el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string>, text?: string): HTMLElementTagNameMap[K];
  /** The `/api/clip` URL that plays `device` from `startMs` to `endMs` in this browser (H.264 where it cannot play `codec`). */
  clipUrl(device: string, startMs: number, endMs: number, codec: string | null): string;
  clock(ms: number): string;
}

/** Past this drift the follower seeks; below it, only its rate changes. */
export const SEEK_DRIFT_MS = 250;
/** Within this, a follower plays at normal speed. */
export const STEADY_DRIFT_MS = 40;
const CHECK_EVERY_MS = 100;

interface Tile {
  readonly device: string;
  readonly video: HTMLVideoElement;
  /** Wall time of the clip's first frame. */
  clipStartMs: number;
}

/** Wall-clock position (ms) of a playing clip: its first frame's time plus the video's position. */
const wallOf = (t: Tile): number => t.clipStartMs + t.video.currentTime * 1000;

export class SyncPlayer {
  readonly root: HTMLElement;
  private tiles: Tile[] = [];
  private timer: number | undefined;
  private readonly notice: HTMLElement;
  private readonly grid: HTMLElement;

  constructor(private readonly kit: SyncKit) {
    this.root = kit.el('div', { class: 'sync-play' });
    this.notice = kit.el('div', { class: 'notice', role: 'status' });
    this.grid = kit.el('div', { class: 'sync-grid' });
    this.root.append(this.notice, this.grid);
  }

  /** Wall-clock position of each camera now (ms), for the page's own checks and for tests. */
  positions(): Record<string, number> {
    return Object.fromEntries(this.tiles.map((t) => [t.device, wallOf(t)]));
  }

  /** Largest distance between two cameras' positions now (ms). */
  spread(): number {
    const walls = this.tiles.map(wallOf);
    return walls.length < 2 ? 0 : Math.max(...walls) - Math.min(...walls);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const t of this.tiles) {
      t.video.pause();
      t.video.removeAttribute('src');
      t.video.load();
    }
    this.tiles = [];
    this.grid.replaceChildren();
    this.root.removeAttribute('data-state');
  }

  /**
   * Plays `cameras` (each with where its footage at `atMs` ends) from `atMs`: each clip is asked for its real start
   * (HEAD), loaded and moved to `atMs`, then all start together and the master's clock leads.
   */
  async play(cameras: ReadonlyArray<{ device: string; endMs: number; codec: string | null }>, atMs: number): Promise<void> {
    this.stop();
    this.notice.textContent = `Loading ${cameras.length} cameras from ${this.kit.clock(atMs)}…`;
    this.root.dataset.state = 'loading';
    const tiles: Tile[] = [];
    for (const { device, endMs, codec } of cameras) {
      const url = this.kit.clipUrl(device, atMs, endMs, codec);
      const head = await fetch(url, { method: 'HEAD' });
      if (!head.ok) throw new Error(`${device}: the server answered ${head.status}${head.status === 503 ? ' (busy; try again in a few seconds)' : ''}`);
      const start = head.headers.get('x-clip-start');
      const video = this.kit.el('video', { playsinline: '', muted: '', 'aria-label': `${device} from ${this.kit.clock(atMs)}` });
      video.muted = true;
      video.dataset.camera = device;
      video.dataset.start = start ?? new Date(atMs).toISOString();
      const tile = this.kit.el('figure', { class: 'sync-tile' });
      tile.append(video, this.kit.el('figcaption', {}, device));
      this.grid.append(tile);
      tiles.push({ device, video, clipStartMs: start !== null ? Date.parse(start) : atMs });
      video.src = url;
    }
    this.tiles = tiles;
    // Each moved to the instant (its clip starts at the keyframe before it) and ready to play there.
    await Promise.all(tiles.map((t) => readyAt(t.video, Math.max(0, (atMs - t.clipStartMs) / 1000))));
    if (this.tiles !== tiles) return;
    await Promise.all(tiles.map((t) => t.video.play()));
    this.keepTogether();
    this.notice.textContent = `Playing ${tiles.map((t) => t.device).join(', ')} together from ${this.kit.clock(atMs)}.`;
    this.root.dataset.state = 'playing';
    this.timer = window.setInterval(() => this.keepTogether(), CHECK_EVERY_MS);
  }

  /** The master's clock leads: a follower ahead slows down, one behind speeds up, one far off seeks. */
  private keepTogether(): void {
    const [master, ...followers] = this.tiles;
    if (!master) return;
    // The master's clip is over: the others stay where they are, the last frames on show.
    if (master.video.ended) {
      clearInterval(this.timer);
      this.timer = undefined;
      for (const f of followers) f.video.pause();
      return;
    }
    const target = wallOf(master);
    // The master paused (its controls) or waiting for data: the others wait too, and go on when it does.
    const halted = master.video.paused || master.video.seeking || master.video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA;
    for (const f of followers) {
      if (f.video.ended) continue;
      if (halted !== f.video.paused) void (halted ? f.video.pause() : f.video.play().catch(() => undefined));
      const drift = wallOf(f) - target;
      if (Math.abs(drift) > SEEK_DRIFT_MS) {
        f.video.currentTime = Math.max(0, (target - f.clipStartMs) / 1000);
        f.video.playbackRate = 1;
      } else if (Math.abs(drift) > STEADY_DRIFT_MS) f.video.playbackRate = Math.min(1.25, Math.max(0.8, 1 - drift / 1500));
      else f.video.playbackRate = 1;
    }
  }
}

/** Resolves once the video can play at `seconds` (after its metadata, a seek there, and data for it). */
async function readyAt(video: HTMLVideoElement, seconds: number): Promise<void> {
  const event = (name: string): Promise<void> =>
    new Promise((resolve, reject) => {
      video.addEventListener(name, () => resolve(), { once: true });
      video.addEventListener('error', () => reject(new Error(`${video.dataset.camera ?? 'video'}: ${video.error?.message || `media error ${video.error?.code ?? ''}`}`)), { once: true });
    });
  // Failed before anyone listened (the clip refused, e.g. 503 busy): say so rather than wait.
  if (video.error) throw new Error(`${video.dataset.camera ?? 'video'}: ${video.error.message || `media error ${video.error.code}`}`);
  if (video.readyState < HTMLMediaElement.HAVE_METADATA) await event('loadedmetadata');
  if (seconds > 0) {
    const seeked = event('seeked');
    video.currentTime = seconds;
    await seeked;
  }
  if (video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) await event('canplay');
}
