// DESCRIBE, PLAY and PAUSE: what a player does.
import type { RtspClient } from './client.js';
import type { ServerContext } from './context.js';
import type { RtspRequest } from '../lib/index.js';
import { reply, requestSession, sessionHeader, type Answer } from './answer.js';
import { contentBase, requestPath } from './uri.js';

export async function describe(ctx: ServerContext, conn: RtspClient, request: RtspRequest): Promise<Answer> {
  const path = requestPath(request.uri);
  if (path === undefined) return reply(400);
  if (!ctx.paths.isKnown(path)) return reply(404);
  // A test pattern restarting, or a publisher between ANNOUNCE and RECORD: worth a short wait.
  const stream = await ctx.paths.waitLive(path, ctx.describeWaitMs);
  if (!stream) return reply(ctx.paths.isKnown(path) ? 503 : 404);
  conn.described.add(path);
  return {
    response: {
      status: 200,
      headers: [
        ['Content-Type', 'application/sdp'],
        ['Content-Base', contentBase(request.uri, path)],
      ],
      body: stream.sdp,
    },
  };
}

export function play(ctx: ServerContext, conn: RtspClient, request: RtspRequest): Answer {
  const session = requestSession(conn, request);
  if (session === undefined) return reply(455); // no SETUP yet
  if (session === 'unknown') return reply(454);
  if (session.mode !== 'play') return reply(455);
  const headers = [sessionHeader(session), ['Range', 'npt=0.000-'] as const];
  if (session.state === 'playing') return reply(200, headers);
  const transports = [...session.transports.values()].map((t) => t.lower);
  ctx.log.info({ client: conn.remoteAddress, path: session.stream.path, session: session.id, transports }, 'playing');
  return { response: { status: 200, headers }, afterSent: () => session.play() };
}

export function pause(conn: RtspClient, request: RtspRequest): Answer {
  const session = requestSession(conn, request);
  if (session === undefined) return reply(455);
  if (session === 'unknown') return reply(454);
  if (session.mode !== 'play') return reply(455);
  session.pause();
  return reply(200, [sessionHeader(session)]);
}
