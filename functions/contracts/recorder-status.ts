// A recorder's state and the reasons it gives, as its status API, its CloudEvents and control report them.
import type { Segment } from './segment.js';

export type RecorderState = 'idle' | 'connecting' | 'recording' | 'reconnecting' | 'unauthorized' | 'error';
export const RECORDER_STATES: readonly RecorderState[] = ['idle', 'connecting', 'recording', 'reconnecting', 'unauthorized', 'error'];

export type FailureKind =
  | 'unauthorized' // 401 or 403: wrong user or password; 3 refused logins in a start and the recorder stops trying (LoginBudget)
  | 'unreachable' // refused, reset, timed out: the camera or forwarder is down
  | 'not-found' // 404 or similar: wrong path
  | 'disk' // ENOSPC or the volume is read-only
  | 'stalled' // the watchdog saw no media
  | 'refused-plan' // codec/container combination cannot work
  | 'not-rtsp' // something answers at the address, but not RTSP (web UI, TLS, garbage)
  | 'media'; // anything else ffmpeg gave up on

export interface Failure {
  readonly kind: FailureKind;
  /** One line, already free of credentials. */
  readonly message: string;
}

/**
 * What a recorder tells those who follow it in its process (the announcer): `segment` once a segment is
 * journaled and under its final name, `state` on every change. Its `events` emitter carries these and more.
 */
export interface RecorderSignals {
  segment: [Segment];
  state: [RecorderState, Failure | null];
}

/**
 * What the archive tells retention while it runs (issue 25's tiered retention): which finished files are in the
 * bucket, how long an archived file stays on the volume, and the hard floor below which even an unarchived
 * file goes.
 */
export interface ArchiveGuard {
  /**
   * Whether the file (its name in the device folder) is archived, as the archive knows it now. Archived files
   * are a prefix of the oldest-first names, since the archive uploads in journal order.
   */
  archived(): (name: string) => boolean;
  /** Archived files older than this go (ARCHIVE_KEEP_LOCAL); 0: they stay until another limit. */
  readonly keepLocalMs: number;
  /** ARCHIVE_HARD_MIN_FREE_PERCENT: below it the oldest file goes, archived or not. */
  readonly hardMinFreePercent: number;
}

/** What the archive needs of a recorder (the recorder module's `Recorder` is one): whose and where, its segments, its retention. */
export interface ArchivedRecorder {
  readonly settings: { readonly device: string; readonly out: string };
  readonly events: {
    on(event: 'segment', listener: (...args: RecorderSignals['segment']) => void): unknown;
    off(event: 'segment', listener: (...args: RecorderSignals['segment']) => void): unknown;
  };
  status(): { readonly lastSegment: Segment | null };
  guardRetention(guard: ArchiveGuard): void;
}
