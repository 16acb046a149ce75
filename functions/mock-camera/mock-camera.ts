// The mock camera: an RTSP publish/play relay plus one ffmpeg test-pattern publisher per configured path.
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { createLogger, locateFfmpeg, registerSecret, zHostPort, type HostPort, type Logger } from '../lib/index.js';
import { AccessPolicy } from './access.js';
import { Authenticator, type AuthScheme } from './auth.js';
import { TestPatternPublisher } from './publisher.js';
import { RtspServer } from './server.js';
import { parseStreamSpecs, type TestPattern } from './stream-spec.js';
import { zPortRange, type PortRange } from '../lib/index.js';

export interface MockCameraOptions {
  /** `HOST:PORT` or {host, port}; default 127.0.0.1:0 (a free port, this machine only). */
  readonly listen?: HostPort | string;
  /** Test patterns, or a spec list such as `/cam:h264:320x240:15:15:pcma`; default none (publish-only). */
  readonly streams?: readonly TestPattern[] | string;
  /** UDP ports for RTP/RTCP, `MIN-MAX` or {min, max}; default 30000-30999. */
  readonly rtpPortRange?: PortRange | string;
  /** Camera credentials every client needs (OPTIONS excepted); default none. */
  readonly auth?: { readonly user: string; readonly password: string; readonly scheme?: AuthScheme };
  /** ffmpeg binary; default located like every other command (FFMPEG_PATH, ffmpeg-static, PATH). */
  readonly ffmpeg?: string;
  readonly log?: Logger;
  /** How long start-up waits for every test pattern to be live; default 20 s (then it resolves anyway, with a warning). */
  readonly readyTimeoutMs?: number;
}

export interface MockCamera {
  readonly host: string;
  readonly port: number;
  /** Test-pattern paths, in the order given. */
  readonly paths: readonly string[];
  /** `rtsp://HOST:PORT/path` of a path (default: the first test pattern); credentials only when given. */
  url(path?: string, credentials?: { readonly user: string; readonly password: string }): string;
  /** Paths with a live publisher right now (test patterns and pushed streams). */
  livePaths(): string[];
  close(): Promise<void>;
}

export const DEFAULT_RTP_PORT_RANGE = '30000-30999';

function parsed<T>(value: string, schema: z.ZodType<T>, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`invalid ${what}: ${r.error.issues[0]?.message ?? 'invalid value'}`);
  return r.data;
}

/** Starts the server and its test patterns; resolves once they are live (or the ready timeout passed). */
export async function startMockCamera(options: MockCameraOptions = {}): Promise<MockCamera> {
  const log = options.log ?? createLogger('mock-camera');
  const listen = typeof options.listen === 'string' ? parsed(options.listen, zHostPort(), 'listen') : (options.listen ?? { host: '127.0.0.1', port: 0 });
  const patterns = typeof options.streams === 'string' ? parseStreamSpecs(options.streams) : (options.streams ?? []);
  const range = options.rtpPortRange ?? DEFAULT_RTP_PORT_RANGE;
  const rtpPorts = typeof range === 'string' ? parsed(range, zPortRange, 'rtpPortRange') : range;
  const ffmpeg = patterns.length > 0 ? (options.ffmpeg ?? locateFfmpeg()) : '';

  // The built-in publishers have their own account, so nobody else can take over a test-pattern path.
  const publisher = { user: 'test-pattern', password: randomBytes(12).toString('hex') };
  registerSecret(publisher.password);
  if (options.auth) registerSecret(options.auth.password);
  const access = new AccessPolicy(new Authenticator(options.auth?.scheme ?? 'both'), options.auth, publisher);
  const server = await RtspServer.start({ listen, rtpPorts, access, reservedPaths: patterns.map((p) => p.path), log });
  const port = server.port;
  const host = listen.host === '0.0.0.0' || listen.host === '' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

  const publishers = patterns.map(
    (p) => new TestPatternPublisher(p, ffmpeg, `rtsp://${publisher.user}:${publisher.password}@${authority}${p.path}`, log),
  );
  for (const p of publishers) p.start();
  log.info({ listen: `${listen.host}:${port}`, rtpPorts: `${rtpPorts.min}-${rtpPorts.max}`, auth: options.auth ? (options.auth.scheme ?? 'both') : 'none', streams: patterns }, 'mock camera listening');

  const readyMs = options.readyTimeoutMs ?? 20_000;
  const live = await Promise.all(patterns.map((p) => server.paths.waitLive(p.path, readyMs)));
  const late = patterns.filter((_, i) => live[i] === undefined).map((p) => p.path);
  if (late.length > 0) log.warn({ paths: late, waitedMs: readyMs }, 'test patterns not live yet; their publishers keep retrying');
  else if (patterns.length > 0) log.info({ paths: patterns.map((p) => p.path) }, 'test patterns live');

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    paths: patterns.map((p) => p.path),
    url(path = patterns[0]?.path ?? '/', credentials) {
      const user = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : '';
      return `rtsp://${user}${authority}${path.startsWith('/') ? path : `/${path}`}`;
    },
    livePaths: () => server.paths.livePaths(),
    close() {
      closing ??= (async () => {
        await Promise.all(publishers.map((p) => p.stop()));
        await server.close();
        log.info('mock camera stopped');
      })();
      return closing;
    },
  };
}
