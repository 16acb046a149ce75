// SETUP: one track of a session, delivered interleaved in the RTSP connection or over UDP.
import { reply, requestSession, sessionHeader, type Answer } from './answer.js';
import { MAX_SESSIONS_PER_CONNECTION, type RtspClient } from './client.js';
import type { ServerContext } from './context.js';
import { header, type RtspRequest } from '../lib/index.js';
import { Session, type TrackTransport } from './session.js';
import type { Stream } from './stream.js';
import { formatTransport, parseTransport, type DeliveryMode } from '../lib/index.js';
import { relativeTo, requestPath } from './uri.js';

type Target = { readonly stream: Stream; readonly track: number } | { readonly status: number };

/** Which stream and track a SETUP names, under the rules of its mode and session. */
function target(conn: RtspClient, ctx: ServerContext, path: string, mode: DeliveryMode, session: Session | undefined): Target {
  if (session && (session.mode !== mode || session.state !== 'ready')) return { status: 455 };
  let stream: Stream | undefined;
  if (session) stream = session.stream;
  else if (mode === 'record') {
    stream = conn.announced;
    if (!stream) return { status: 455 }; // ANNOUNCE first
    if (stream.ended) return { status: 404 };
  } else {
    stream = ctx.paths.liveAncestor(path);
    if (!stream) return { status: 404 };
    if (!conn.described.has(stream.path)) return { status: 455 }; // DESCRIBE first
  }
  const rest = relativeTo(stream.path, path);
  const track = rest === undefined ? undefined : stream.trackFor(rest, mode);
  if (track === undefined) return { status: rest === '' ? 459 : 404 };
  if (session?.transports.has(track)) return { status: 455 };
  return { stream, track };
}

export async function setup(ctx: ServerContext, conn: RtspClient, request: RtspRequest): Promise<Answer> {
  const transportHeader = header(request, 'transport');
  const path = requestPath(request.uri);
  if (transportHeader === undefined || path === undefined) return reply(400);
  const wanted = parseTransport(transportHeader);
  if (!wanted) return reply(461);
  const existing = requestSession(conn, request);
  if (existing === 'unknown') return reply(454);
  const found = target(conn, ctx, path, wanted.mode, existing);
  if ('status' in found) return reply(found.status);
  if (!existing && conn.sessions.size >= MAX_SESSIONS_PER_CONNECTION) return reply(453);

  let transport: TrackTransport;
  let answer: string;
  if (wanted.lower === 'tcp') {
    const channels = conn.reserveChannels(wanted.interleaved);
    if (!channels) return reply(453);
    transport = { lower: 'tcp', channels };
    answer = formatTransport({ lower: 'tcp', channels, mode: wanted.mode });
  } else {
    const pair = await ctx.ports.allocate(conn.family);
    if (!pair) return reply(453);
    // While the ports were bound the client may have gone or the publisher left: give them back.
    if (conn.isClosed || found.stream.ended || (existing && !conn.sessions.has(existing.id))) {
      pair.close();
      return reply(404);
    }
    // RTP goes to the address the request came from, never to a `destination` the client names.
    transport = { lower: 'udp', pair, clientAddress: conn.remoteAddress, clientPorts: wanted.clientPorts };
    answer = formatTransport({ lower: 'udp', clientPorts: wanted.clientPorts, serverPorts: pair.ports, mode: wanted.mode });
  }
  const session = existing ?? new Session(wanted.mode, found.stream, conn);
  if (!existing) conn.openSession(session);
  session.addTrack(found.track, transport);
  if (transport.lower === 'tcp') conn.bindChannels(session, found.track, transport.channels);
  ctx.log.debug({ client: conn.remoteAddress, path: found.stream.path, track: found.track, transport: answer, session: session.id }, 'setup');
  return reply(200, [
    ['Transport', answer],
    sessionHeader(session),
  ]);
}
