import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';
import { errorAnswer, listenOn, requestUrl, type ListeningServer } from './server-core.js';

export interface ProbeAnswer {
  readonly status: number;
  /** Sent as JSON, or as it is when `contentType` is given (then a string or Buffer). */
  readonly body: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a handler may read of its request: the parsed URL (query parameters) and the headers. */
export interface ProbeRequest {
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
}

/** A route's handler; a thrown HttpError answers with its status, anything else with 500. */
export type ProbeHandler = (request: ProbeRequest) => ProbeAnswer | Promise<ProbeAnswer>;

/**
 * A GET route that writes its own answer (a file with byte ranges, a stream being cut). It may throw an
 * HttpError before it writes the head; once the head is out, a failure can only cut the connection.
 */
export type StreamHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface ProbeRoutes {
  readonly get: Readonly<Record<string, ProbeHandler>>;
  /** Bodiless commands (the recorder's /record/on and /record/off). */
  readonly post?: Readonly<Record<string, ProbeHandler>>;
  /** GET (and HEAD) routes that stream, keyed by exact path, or by a prefix when the key ends in `/`. */
  readonly stream?: Readonly<Record<string, StreamHandler>>;
  /**
   * Routes of any method whose request body is left to the handler (the playback server's live proxy: WHEP
   * offers, DELETE), keyed by a prefix ending in `/`. The handler answers 405 itself where it must.
   */
  readonly pass?: Readonly<Record<string, StreamHandler>>;
  /** Runs before every route but those in `open` (and /metrics when `open` lists it); throws HttpError to refuse. */
  readonly authorize?: (request: ProbeRequest) => void;
  readonly open?: readonly string[];
  /** Headers on every answer, errors and streams included (the playback server's Referrer-Policy). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type ProbeServer = ListeningServer;

/**
 * A JSON server of a few fixed routes on node:http, plus GET /metrics. For lean workloads (the forwarder,
 * the recorder; one process per camera): a web framework would add a fifth to their memory for five routes
 * that take no body. Answers are JSON unless a route says otherwise; unknown paths 404, known paths with
 * another method 405. The playback server adds streaming routes (files, clips) and a bearer check.
 */
export async function startProbeServer(
  options: { readonly listen: HostPort; readonly log: Logger; readonly metrics?: Registry },
  routes: ProbeRoutes,
): Promise<ProbeServer> {
  const streamRoutes = Object.entries(routes.stream ?? {});
  const passRoutes = Object.keys(routes.pass ?? {});
  const open = new Set(routes.open ?? []);
  const everyAnswer = Object.entries(routes.headers ?? {});
  return listenOn(options.listen, (req, res) => {
    for (const [name, value] of everyAnswer) res.setHeader(name, value);
    const route = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, type: string, body: string | Buffer, headers: Readonly<Record<string, string>> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const json = (status: number, body: unknown, headers?: Readonly<Record<string, string>>): void =>
      send(status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
    const fail = (err: unknown): void => {
      if (res.headersSent) {
        // Mid-stream: the client must see a cut, not a file that looks whole.
        options.log.warn({ err, route }, 'stream failed after its head was sent');
        res.destroy();
        return;
      }
      const answer = errorAnswer(err, options.log, { route });
      json(answer.status, answer.body, answer.headers);
    };
    const passKey = passRoutes.find((key) => route.startsWith(key));
    // The body is never read (but by a pass route), yet it must be drained for keep-alive to work.
    if (passKey === undefined) req.resume();
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    let url: URL;
    try {
      url = requestUrl(req);
    } catch (err) {
      fail(err);
      return;
    }
    const request: ProbeRequest = { url, headers: req.headers };
    if (routes.authorize && !open.has(route)) {
      try {
        routes.authorize(request);
      } catch (err) {
        fail(err);
        return;
      }
    }
    if (passKey !== undefined) {
      const handler = routes.pass![passKey]!;
      Promise.resolve()
        .then(() => handler(req, res, url))
        .catch(fail);
      return;
    }
    if (route === '/metrics' && options.metrics && method === 'GET') {
      const registry = options.metrics;
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        (err: unknown) => {
          options.log.error({ err }, 'metrics failed');
          send(500, 'text/plain', 'metrics failed\n');
        },
      );
      return;
    }
    const streamer = streamRoutes.find(([key]) => key === route || (key.endsWith('/') && route.startsWith(key)))?.[1];
    if (streamer && method === 'GET') {
      Promise.resolve()
        .then(() => streamer(req, res, url))
        .catch(fail);
      return;
    }
    // Own keys only: a path is the client's text, and `in` or a lookup would find Object.prototype's names.
    const routeOf = (table: Readonly<Record<string, ProbeHandler>> | undefined): ProbeHandler | undefined =>
      table && Object.hasOwn(table, route) ? table[route] : undefined;
    const handler = method === 'GET' ? routeOf(routes.get) : method === 'POST' ? routeOf(routes.post) : undefined;
    if (!handler) {
      const allowed = [
        ...(routeOf(routes.get) || streamer || (route === '/metrics' && options.metrics) ? ['GET', 'HEAD'] : []),
        ...(routeOf(routes.post) ? ['POST'] : []),
      ];
      if (allowed.length) json(405, { error: 'method_not_allowed', message: `${route} takes ${allowed.join(', ')}` }, { allow: allowed.join(', ') });
      else json(404, { error: 'not_found', message: `no route ${route}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(request))
      .then((answer) => {
        if (answer.contentType === undefined) json(answer.status, answer.body, answer.headers);
        else send(answer.status, answer.contentType, answer.body as string | Buffer, answer.headers);
      }, fail);
  }, options.log);
}
