// Long ranges on the playback page: the server's HLS playlist of the range (/api/hls/<device>.m3u8), played by
// hls.js (Safari plays HLS itself), so a click anywhere in hours of footage is a seek, not a new cut.
import type HlsType from 'hls.js';
import { loadHls } from './players.js';

/** One media segment of the playlist: where it is in the player's time and on the clock. */
interface Piece {
  readonly mediaStart: number;
  readonly seconds: number;
  readonly wallMs: number;
}

const HOUR_MS = 3600 * 1000;
/** Longest range one playlist covers (the server's limit). */
const HLS_MAX_MS = 24 * HOUR_MS;

/**
 * The footage in view around `ms` when there is over an hour of it (a day at most): played as one HLS playlist,
 * so later clicks in it seek instead of asking for a new cut. Null: a clip plays. Over an hour of footage, not of
 * range: two short recordings hours apart still play as clips.
 */
export function longRange(spans: ReadonlyArray<{ start: string; end: string }>, viewStart: number, viewMs: number, ms: number): { start: number; end: number } | null {
  const viewEnd = viewStart + viewMs;
  const inView = spans.filter((s) => Date.parse(s.end) > viewStart && Date.parse(s.start) < viewEnd);
  const first = inView[0];
  const last = inView.at(-1);
  if (!first || !last) return null;
  const footageMs = inView.reduce((sum, s) => sum + Math.min(Date.parse(s.end), viewEnd) - Math.max(Date.parse(s.start), viewStart), 0);
  if (footageMs <= HOUR_MS) return null;
  let start = Math.max(Date.parse(first.start), viewStart);
  let end = Math.min(Date.parse(last.end), viewEnd);
  if (end - start > HLS_MAX_MS) {
    start = Math.max(start, Math.min(ms - HLS_MAX_MS / 2, end - HLS_MAX_MS));
    end = Math.min(end, start + HLS_MAX_MS);
  }
  return { start: Math.floor(start / 1000) * 1000, end: Math.ceil(end / 1000) * 1000 };
}

/** Each segment's wall time (#EXT-X-PROGRAM-DATE-TIME) and its place in the player's time (the #EXTINF sum). */
export function piecesOf(playlist: string): Piece[] {
  const pieces: Piece[] = [];
  let media = 0;
  let wall: number | null = null;
  for (const line of playlist.split('\n')) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) wall = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
    else if (line.startsWith('#EXTINF:')) {
      const seconds = Number.parseFloat(line.slice('#EXTINF:'.length));
      if (wall !== null && Number.isFinite(seconds)) pieces.push({ mediaStart: media, seconds, wallMs: wall });
      media += seconds;
      wall = null;
    }
  }
  return pieces;
}

/** Plays a device's footage over a range through its playlist; later points in the same range are seeks. */
export class RangePlayer {
  private hls: HlsType | null = null;
  private url: string | null = null;
  private pieces: Piece[] = [];

  constructor(private readonly video: HTMLVideoElement) {}

  /** Whether this range's playlist is the one loaded (a new point in it is only a seek). */
  playing(url: string): boolean {
    return this.url === url;
  }

  /** Loads `url` (once) and plays from the wall time `atMs`; throws with the server's reason when it refuses. */
  async play(url: string, atMs: number): Promise<void> {
    if (this.url !== url) {
      this.stop();
      const res = await fetch(url);
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { message?: string };
        throw new Error(`the server answered ${res.status}${body.message ? `: ${body.message}` : ''}`);
      }
      this.pieces = piecesOf(await res.text());
      const Hls = await loadHls('/hls.min.js');
      if (Hls?.isSupported()) {
        const hls = new Hls({ maxBufferLength: 20, backBufferLength: 30 });
        hls.on(Hls.Events.ERROR, (_event, data) => {
          if (data.fatal) this.video.dispatchEvent(new CustomEvent('hls-error', { detail: `${data.type}: ${data.details}` }));
        });
        hls.attachMedia(this.video);
        await new Promise<void>((resolve) => {
          hls.once(Hls.Events.MANIFEST_PARSED, () => resolve());
          hls.loadSource(url);
        });
        this.hls = hls;
      } else if (this.video.canPlayType('application/vnd.apple.mpegurl') !== '') {
        // Safari plays HLS itself; a seek is heard only once it knows the playlist's length.
        const ready = new Promise((resolve) => this.video.addEventListener('loadedmetadata', resolve, { once: true }));
        this.video.src = url;
        await ready;
      } else throw new Error('this browser plays no HLS (no MediaSource, no native HLS)');
      this.url = url;
      this.video.dataset.player = 'hls';
    }
    this.video.currentTime = this.mediaTimeOf(atMs);
    await this.video.play();
  }

  /** The player's time of a wall time: inside its piece, else the start of the next piece (a gap is skipped). */
  mediaTimeOf(wallMs: number): number {
    for (const p of this.pieces) {
      if (wallMs < p.wallMs) return p.mediaStart;
      if (wallMs < p.wallMs + p.seconds * 1000) return p.mediaStart + (wallMs - p.wallMs) / 1000;
    }
    return this.pieces.at(-1)?.mediaStart ?? 0;
  }

  /** The wall time of the player's time, or null before a playlist is loaded. */
  wallTimeOf(mediaTime: number): number | null {
    let found: Piece | undefined;
    for (const p of this.pieces) if (p.mediaStart <= mediaTime) found = p;
    return found ? found.wallMs + (mediaTime - found.mediaStart) * 1000 : null;
  }

  /** Lets the video go (before a clip plays in it). */
  stop(): void {
    this.hls?.destroy();
    this.hls = null;
    if (this.url !== null && this.video.src.endsWith('.m3u8')) this.video.removeAttribute('src');
    this.url = null;
    this.pieces = [];
    delete this.video.dataset.player;
  }
}
