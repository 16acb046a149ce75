// Where whole segments come from: the playback server (its timeline and files) or the bucket the recorder
// archives to (its day files and objects). transfer.ts copies, checks and resumes the same way from either.
import type { Readable } from 'node:stream';
import type { ExportItem } from './resume.js';

export class ExportError extends Error {
  constructor(
    readonly code: 'device_missing' | 'no_footage' | 'timeline_failed' | 'clip_failed',
    message: string,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

export interface TimeWindow {
  readonly since?: Date;
  readonly until?: Date;
}

/** One segment's bytes, or why there are none. */
export type OpenedSegment =
  | {
      readonly kind: 'body';
      readonly body: Readable;
      /** Where the body starts in the file: the offset asked for, or 0 when the source sends the whole file again. */
      readonly from: number;
      /** How many bytes the body brings, when the source says; fewer is a cut connection. */
      readonly bytes: number | null;
      readonly lastModifiedMs: number | null;
    }
  | { readonly kind: 'gone'; readonly detail: string }
  /** `final`: asking again cannot help (a refusal), so it fails at once rather than after the last pass. */
  | { readonly kind: 'failed'; readonly detail: string; readonly final: boolean };

export interface SegmentSource {
  /** Where it reads, for messages (never a secret). */
  readonly description: string;
  /**
   * The device's finished segments that overlap the window, oldest first, a batch at a time (the playback server's
   * timeline at once, the bucket's a UTC day at a time), so a year is never one answer. A failure throws
   * ExportError, never ends early.
   */
  batches(device: string, window: TimeWindow): AsyncIterable<readonly ExportItem[]>;
  /** One segment's bytes from `offset` on (continuing a `<name>.partial`); never throws. */
  open(device: string, item: ExportItem, offset: number): Promise<OpenedSegment>;
  close?(): Promise<void>;
}
