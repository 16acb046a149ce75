// ANNOUNCE and RECORD: what a publisher (ffmpeg -f rtsp, a test pattern) does.
import type { RtspClient } from './client.js';
import type { ServerContext } from './context.js';
import { header, type RtspRequest } from '../lib/index.js';
import { reply, requestSession, sessionHeader, type Answer } from './answer.js';
import { parseSdp } from './sdp.js';
import { requestPath } from './uri.js';

export function announce(ctx: ServerContext, conn: RtspClient, request: RtspRequest): Answer {
  const path = requestPath(request.uri);
  if (path === undefined || path === '/') return reply(400);
  if ((header(request, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/sdp') return reply(415);
  const description = parseSdp(request.body.toString('utf8'));
  if (!description) return reply(400);
  if (ctx.paths.isReserved(path) && !ctx.access.allows(request, 'publisher')) return { response: ctx.access.challenge() };
  if (conn.announced) return reply(455); // one publication per connection
  const stream = ctx.paths.announce(path, description);
  if (stream === 'busy') return reply(403);
  conn.announced = stream;
  ctx.log.info({ path, client: conn.remoteAddress, tracks: stream.tracks.map((t) => t.kind) }, 'publisher announced');
  return reply(200);
}

export function record(ctx: ServerContext, conn: RtspClient, request: RtspRequest): Answer {
  const session = requestSession(conn, request);
  if (session === undefined) return reply(455); // no SETUP yet
  if (session === 'unknown') return reply(454);
  if (session.mode !== 'record' || session.state !== 'ready') return reply(455);
  session.state = 'recording';
  ctx.paths.goLive(session.stream);
  ctx.log.info({ path: session.stream.path, client: conn.remoteAddress }, 'publishing');
  return reply(200, [sessionHeader(session)]);
}
