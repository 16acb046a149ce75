// The answer to one request, and the helpers every method handler uses.
import type { RtspClient } from './client.js';
import { header, type RtspRequest, type RtspResponse } from '../lib/index.js';
import { SESSION_TIMEOUT_SECONDS, type Session } from './session.js';

/** A response, and what to start once it is on the wire. */
export interface Answer {
  readonly response: RtspResponse;
  readonly afterSent?: () => void;
}

export const reply = (status: number, headers: RtspResponse['headers'] = []): Answer => ({ response: { status, headers } });

export function sessionHeader(session: Session): readonly [string, string] {
  return ['Session', `${session.id};timeout=${SESSION_TIMEOUT_SECONDS}`];
}

/** The session a request names: undefined without a Session header, 'unknown' for an id this connection does not hold. */
export function requestSession(conn: RtspClient, request: RtspRequest): Session | 'unknown' | undefined {
  const value = header(request, 'session');
  if (value === undefined) return undefined;
  const session = conn.sessions.get(value.split(';')[0]?.trim() ?? '');
  if (!session) return 'unknown';
  session.touch();
  return session;
}

