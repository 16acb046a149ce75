// What the request handlers (methods.ts and the files it calls) need of one client connection. The
// connection implements it and calls the handlers, so the handlers depend on this contract, not on the
// connection class: no import cycle between them.
import type { Session, SessionLink } from './session.js';
import type { Stream } from './stream.js';

/** Sessions one connection may hold at once; more get 453 Not Enough Bandwidth. */
export const MAX_SESSIONS_PER_CONNECTION = 16;

export interface RtspClient extends SessionLink {
  readonly sessions: ReadonlyMap<string, Session>;
  /** Paths DESCRIBEd here: players SETUP only what they have described. */
  readonly described: Set<string>;
  /** The stream this connection ANNOUNCEd, until it unpublishes. */
  announced: Stream | undefined;
  readonly remoteAddress: string;
  readonly family: 'udp4' | 'udp6';
  readonly isClosed: boolean;
  /** A free pair of interleaved channels: the ones asked for when both are free, else the lowest free pair. */
  reserveChannels(wanted: readonly [number, number] | undefined): readonly [number, number] | undefined;
  bindChannels(session: Session, track: number, channels: readonly [number, number]): void;
  openSession(session: Session): void;
  closeSession(session: Session): void;
}
