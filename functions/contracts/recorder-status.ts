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
