// The last few HLS segments of one live stream, in memory only, and the media playlist that lists them.
// Low-latency HLS (RFC 8216bis): each fragment ffmpeg writes (at most PART_TARGET_SECONDS, or up to a keyframe)
// is a partial segment a player can fetch as soon as it exists; a segment is the parts from one keyframe to the
// next, complete when the next keyframe's part arrives.
import type { Fmp4Fragment } from './fmp4.js';

/**
 * The part target the playlist announces (EXT-X-PART-INF) at least: ffmpeg cuts at 200 ms, plus a frame. A part
 * that came out longer (a camera that skipped frames leaves a gap in its timestamps) raises it while it is listed,
 * since no part may be longer than the target; the next playlists say so (as gohlslib does). The pages' hls.js
 * backs off by this much per stall (`liveSyncOnStallIncrease` in lib/page/players.ts: change both together).
 */
export const PART_TARGET_SECONDS = 0.3;
/** ffmpeg's -frag_duration, in microseconds: a part every 200 ms, and at every keyframe. */
export const PART_MICROSECONDS = 200_000;
/** Complete segments whose parts the playlist still lists: a player joining at the live edge needs the last few. */
const SEGMENTS_WITH_PARTS = 3;

export interface HlsPart {
  readonly bytes: Buffer;
  readonly seconds: number;
  /** Starts with a keyframe: a player may start decoding here. */
  readonly independent: boolean;
}

export interface HlsSegment {
  /** Media sequence number. */
  readonly sequence: number;
  /** The parts, back to back (moof + mdat pairs): the segment as one file. */
  readonly bytes: Buffer;
  readonly seconds: number;
  /** The init section (its id) this segment decodes with. */
  readonly initId: number;
  /** Wall time of the segment's first frame, from when its first part arrived (for EXT-X-PROGRAM-DATE-TIME). */
  readonly startMs: number;
  readonly parts: readonly HlsPart[];
}

/** The segment being made: its parts so far. */
interface OpenSegment {
  readonly sequence: number;
  readonly initId: number;
  readonly startMs: number;
  readonly parts: HlsPart[];
  bytes: number;
}

export interface WindowLimits {
  /** Complete segments kept, newest last; at least 3 (a player starts three back from the live edge). */
  readonly segments: number;
  /** Bytes kept across segments and the open one's parts; the newest segment is kept even when it alone is larger. */
  readonly bytes: number;
}

/** Where a part stands: there, still to come (the next one of the open segment), or never (gone, or not made). */
export type PartLookup = { readonly state: 'ready'; readonly part: HlsPart } | { readonly state: 'coming' } | { readonly state: 'missing' };

/**
 * A bounded window: the oldest segments leave as new ones come, so memory never grows with the time a
 * stream runs or the number of viewers (they all read the same buffers).
 */
export class HlsWindow {
  private readonly segments: HlsSegment[] = [];
  private open: OpenSegment | undefined;
  private readonly inits = new Map<number, Buffer>();
  private currentInit = 0;
  private nextSequence = 0;
  private bytes = 0;
  /** Discontinuities (init changes) that have left the window, for EXT-X-DISCONTINUITY-SEQUENCE. */
  private droppedDiscontinuities = 0;
  private longestSeconds = 1;

  constructor(private readonly limits: WindowLimits) {}

  /** Complete segments held. */
  get length(): number {
    return this.segments.length;
  }

  /** A new init section (every ffmpeg run starts with one): the open segment ends, later parts decode with it. */
  addInit(bytes: Buffer): void {
    this.closeOpen();
    this.currentInit += 1;
    this.inits.set(this.currentInit, bytes);
  }

  /** Takes one fragment as a part; false before any init section (nothing can decode it). */
  add(fragment: Fmp4Fragment, arrivedMs: number): boolean {
    if (this.currentInit === 0) return false;
    // A keyframe starts a segment; so does a segment grown past half the byte limit (a camera without keyframes).
    if (this.open && (fragment.keyframe || this.open.bytes > this.limits.bytes / 2)) this.closeOpen();
    this.open ??= { sequence: this.nextSequence++, initId: this.currentInit, startMs: arrivedMs - fragment.seconds * 1000, parts: [], bytes: 0 };
    this.open.parts.push({ bytes: fragment.bytes, seconds: fragment.seconds, independent: fragment.keyframe });
    this.open.bytes += fragment.bytes.length;
    this.bytes += fragment.bytes.length;
    this.evict();
    return true;
  }

  private closeOpen(): void {
    const open = this.open;
    this.open = undefined;
    if (!open || open.parts.length === 0) return;
    // One buffer for the segment; its parts become views of it, so nothing is held twice.
    const bytes = Buffer.concat(open.parts.map((p) => p.bytes), open.bytes);
    let at = 0;
    const parts = open.parts.map((p) => {
      const view = { ...p, bytes: bytes.subarray(at, at + p.bytes.length) };
      at += p.bytes.length;
      return view;
    });
    const seconds = parts.reduce((sum, p) => sum + p.seconds, 0);
    this.segments.push({ sequence: open.sequence, bytes, seconds, initId: open.initId, startMs: open.startMs, parts });
    this.longestSeconds = Math.max(this.longestSeconds, seconds);
    this.evict();
  }

  private evict(): void {
    while (this.segments.length > 1 && (this.segments.length > this.limits.segments || this.bytes > this.limits.bytes)) {
      const gone = this.segments.shift()!;
      this.bytes -= gone.bytes.length;
      const next = this.segments[0]?.initId ?? this.open?.initId;
      if (next !== gone.initId) this.droppedDiscontinuities += 1;
    }
    const kept = new Set(this.segments.map((s) => s.initId).concat(this.currentInit));
    for (const id of this.inits.keys()) if (!kept.has(id)) this.inits.delete(id);
  }

  segment(sequence: number): HlsSegment | undefined {
    return this.segments.find((s) => s.sequence === sequence);
  }

  part(sequence: number, index: number): PartLookup {
    const complete = this.segment(sequence)?.parts[index];
    if (complete) return { state: 'ready', part: complete };
    if (this.open?.sequence === sequence) {
      const part = this.open.parts[index];
      if (part) return { state: 'ready', part };
      if (index === this.open.parts.length) return { state: 'coming' };
    }
    return { state: 'missing' };
  }

  /**
   * Whether the playlist holds segment `sequence` (complete, or `part` of it when given), or a later one: what a
   * blocking playlist reload (`_HLS_msn`, `_HLS_part`) waits for.
   */
  holds(sequence: number, part: number | undefined): boolean {
    const last = this.segments.at(-1)?.sequence ?? -1;
    if (last >= sequence) return true;
    if (this.open === undefined) return false;
    if (this.open.sequence > sequence) return true;
    return this.open.sequence === sequence && part !== undefined && this.open.parts.length > part;
  }

  /** The media sequence number the next part will belong to at the latest (a reload further ahead is refused). */
  get edgeSequence(): number {
    return this.open?.sequence ?? this.nextSequence;
  }

  init(id: number): Buffer | undefined {
    return this.inits.get(id);
  }

  /** The stream's rate over the window, for the multivariant playlist's BANDWIDTH; undefined before a segment. */
  bitsPerSecond(): number | undefined {
    const seconds = this.segments.reduce((sum, s) => sum + s.seconds, 0);
    const bytes = this.segments.reduce((sum, s) => sum + s.bytes.length, 0);
    return seconds > 0 ? (bytes * 8) / seconds : undefined;
  }

  /** Seconds a player should wait between playlist reloads, at most: the target duration. */
  get targetSeconds(): number {
    return Math.ceil(this.longestSeconds);
  }

  /** The media playlist; `suffix` (the camera query, `?…` or empty) goes on every URI in it. */
  playlist(suffix: string): string {
    const first = this.segments[0] ?? this.open;
    const withParts = this.segments.length - SEGMENTS_WITH_PARTS;
    const listed = [...this.segments.slice(Math.max(0, withParts)).flatMap((s) => s.parts), ...(this.open?.parts ?? [])];
    const partTarget = Math.max(PART_TARGET_SECONDS, ...listed.map((p) => Math.ceil(p.seconds * 1000) / 1000));
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      `#EXT-X-TARGETDURATION:${this.targetSeconds}`,
      // A player holds back three parts from the live edge and asks for the next playlist before it exists.
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(3 * partTarget).toFixed(3)}`,
      `#EXT-X-PART-INF:PART-TARGET=${partTarget.toFixed(3)}`,
      `#EXT-X-MEDIA-SEQUENCE:${first?.sequence ?? this.nextSequence}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${this.droppedDiscontinuities}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    let init: number | undefined;
    const header = (s: { initId: number; startMs: number }): void => {
      if (s.initId !== init) {
        if (init !== undefined) lines.push('#EXT-X-DISCONTINUITY');
        lines.push(`#EXT-X-MAP:URI="init-${s.initId}.mp4${suffix}"`);
        init = s.initId;
      }
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.startMs).toISOString()}`);
    };
    const partLines = (sequence: number, parts: readonly HlsPart[]): void => {
      parts.forEach((p, i) => lines.push(`#EXT-X-PART:DURATION=${p.seconds.toFixed(3)},URI="part-${sequence}.${i}.m4s${suffix}"${p.independent ? ',INDEPENDENT=YES' : ''}`));
    };
    this.segments.forEach((s, i) => {
      header(s);
      if (i >= withParts) partLines(s.sequence, s.parts);
      lines.push(`#EXTINF:${s.seconds.toFixed(3)},`, `seg-${s.sequence}.m4s${suffix}`);
    });
    if (this.open) {
      header(this.open);
      partLines(this.open.sequence, this.open.parts);
      lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-${this.open.sequence}.${this.open.parts.length}.m4s${suffix}"`);
    }
    return `${lines.join('\n')}\n`;
  }
}
