// The last few HLS segments of one live stream, in memory only, and the media playlist that lists them.
import type { Fmp4Fragment } from './fmp4.js';

export interface HlsSegment {
  /** Media sequence number. */
  readonly sequence: number;
  readonly bytes: Buffer;
  readonly seconds: number;
  /** The init section (its id) this segment decodes with. */
  readonly initId: number;
  /** Wall time of the segment's first frame, from when its fragment arrived (for EXT-X-PROGRAM-DATE-TIME). */
  readonly startMs: number;
}

export interface WindowLimits {
  /** Segments kept, newest first; at least 3 (a player starts three back from the live edge). */
  readonly segments: number;
  /** Bytes kept across segments; the newest segment is kept even when it alone is larger. */
  readonly bytes: number;
}

/**
 * A bounded window: the oldest segments leave as new ones come, so memory never grows with the time a
 * stream runs or the number of viewers (they all read the same buffers).
 */
export class HlsWindow {
  private readonly segments: HlsSegment[] = [];
  private readonly inits = new Map<number, Buffer>();
  private currentInit = 0;
  private nextSequence = 0;
  private bytes = 0;
  /** Discontinuities (init changes) that have left the window, for EXT-X-DISCONTINUITY-SEQUENCE. */
  private droppedDiscontinuities = 0;
  private longestSeconds = 1;

  constructor(private readonly limits: WindowLimits) {}

  get length(): number {
    return this.segments.length;
  }

  /** A new init section (every ffmpeg run starts with one): segments after it decode with it. */
  addInit(bytes: Buffer): void {
    this.currentInit += 1;
    this.inits.set(this.currentInit, bytes);
  }

  add(fragment: Fmp4Fragment, arrivedMs: number): HlsSegment | undefined {
    if (this.currentInit === 0) return undefined;
    const segment: HlsSegment = {
      sequence: this.nextSequence++,
      bytes: fragment.bytes,
      seconds: fragment.seconds,
      initId: this.currentInit,
      startMs: arrivedMs - fragment.seconds * 1000,
    };
    this.segments.push(segment);
    this.bytes += segment.bytes.length;
    this.longestSeconds = Math.max(this.longestSeconds, segment.seconds);
    while (this.segments.length > 1 && (this.segments.length > this.limits.segments || this.bytes > this.limits.bytes)) {
      const gone = this.segments.shift()!;
      this.bytes -= gone.bytes.length;
      if (this.segments[0]!.initId !== gone.initId) this.droppedDiscontinuities += 1;
    }
    const kept = new Set(this.segments.map((s) => s.initId).concat(this.currentInit));
    for (const id of this.inits.keys()) if (!kept.has(id)) this.inits.delete(id);
    return segment;
  }

  segment(sequence: number): HlsSegment | undefined {
    return this.segments.find((s) => s.sequence === sequence);
  }

  init(id: number): Buffer | undefined {
    return this.inits.get(id);
  }

  /** The stream's rate over the window, for the multivariant playlist's BANDWIDTH; undefined before a segment. */
  bitsPerSecond(): number | undefined {
    const seconds = this.segments.reduce((sum, s) => sum + s.seconds, 0);
    return seconds > 0 ? (this.bytes * 8) / seconds : undefined;
  }

  /** Seconds a player should wait between playlist reloads, at most: the target duration. */
  get targetSeconds(): number {
    return Math.ceil(this.longestSeconds);
  }

  /** The media playlist; `suffix` (the camera query, `?…` or empty) goes on every URI in it. */
  playlist(suffix: string): string {
    const first = this.segments[0];
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      `#EXT-X-TARGETDURATION:${this.targetSeconds}`,
      `#EXT-X-MEDIA-SEQUENCE:${first?.sequence ?? this.nextSequence}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${this.droppedDiscontinuities}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    let init: number | undefined;
    for (const s of this.segments) {
      if (s.initId !== init) {
        if (init !== undefined) lines.push('#EXT-X-DISCONTINUITY');
        lines.push(`#EXT-X-MAP:URI="init-${s.initId}.mp4${suffix}"`);
        init = s.initId;
      }
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.startMs).toISOString()}`, `#EXTINF:${s.seconds.toFixed(3)},`, `seg-${s.sequence}.m4s${suffix}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
