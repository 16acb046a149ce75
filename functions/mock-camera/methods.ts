// Request handling: which method, whether the client may, and the per-method rules.
import type { RtspClient } from './client.js';
import type { ServerContext } from './context.js';
import { header, type RtspRequest } from '../lib/index.js';
import { reply, requestSession, sessionHeader, type Answer } from './answer.js';
import { describe, pause, play } from './play-methods.js';
import { announce, record } from './record-methods.js';
import { setup } from './setup.js';

export const METHODS = ['OPTIONS', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'RECORD', 'TEARDOWN', 'GET_PARAMETER'] as const;
type Method = (typeof METHODS)[number];
const PUBLIC = METHODS.join(', ');

function isMethod(method: string): method is Method {
  return (METHODS as readonly string[]).includes(method);
}

export async function handleRequest(ctx: ServerContext, conn: RtspClient, request: RtspRequest): Promise<Answer> {
  if (!isMethod(request.method)) return reply(501, [['Public', PUBLIC]]);
  const required = header(request, 'require');
  if (required !== undefined) return reply(551, [['Unsupported', required]]);
  // OPTIONS stays open, as on real cameras: clients probe it before they have credentials.
  if (request.method !== 'OPTIONS' && !ctx.access.allows(request, 'client')) return { response: ctx.access.challenge() };
  switch (request.method) {
    case 'OPTIONS':
      requestSession(conn, request);
      return reply(200, [['Public', PUBLIC]]);
    case 'DESCRIBE':
      return describe(ctx, conn, request);
    case 'ANNOUNCE':
      return announce(ctx, conn, request);
    case 'SETUP':
      return setup(ctx, conn, request);
    case 'PLAY':
      return play(ctx, conn, request);
    case 'PAUSE':
      return pause(conn, request);
    case 'RECORD':
      return record(ctx, conn, request);
    case 'TEARDOWN': {
      const session = requestSession(conn, request);
      if (session === undefined || session === 'unknown') return reply(454);
      conn.closeSession(session);
      return reply(200);
    }
    case 'GET_PARAMETER': {
      // The usual keep-alive: answering it is all a camera has to do.
      const session = requestSession(conn, request);
      if (session === 'unknown') return reply(454);
      return reply(200, session ? [sessionHeader(session)] : []);
    }
  }
}
