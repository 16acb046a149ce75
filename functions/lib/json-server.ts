// A JSON API server on node:http: what `shifu-rtsp control` serves locally (on Knative, functions-framework).
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';
import { HttpError, isJsonMediaType } from './http.js';
import { errorAnswer, listenOn, requestUrl, type ListeningServer } from './server-core.js';

export interface JsonRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The parsed JSON body; undefined when there is none. */
  readonly body: unknown;
}

export interface JsonResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export type JsonServer = ListeningServer;

/** Bodies larger than this are refused with 413 (requests here are a few hundred bytes). */
const BODY_LIMIT = 1 << 20;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        // Stop reading and answer: the 413 goes out with `connection: close` (destroying the request here
        // cut the connection before the client could read why).
        req.off('data', onData);
        req.pause();
        reject(new HttpError(413, `body larger than ${BODY_LIMIT} bytes`, 'payload_too_large'));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  if (!isJsonMediaType(contentType)) {
    throw new HttpError(415, `expected Content-Type: application/json (got ${contentType ?? 'none'})`, 'unsupported_media_type');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, `body: not JSON (${(err as Error).message})`);
  }
}

/** Every request goes to `handle`; a thrown HttpError answers with its status, anything else with 500. */
export async function startJsonServer(options: { readonly listen: HostPort; readonly log: Logger }, handle: (request: JsonRequest) => Promise<JsonResponse>): Promise<JsonServer> {
  return listenOn(options.listen, (req, res) => {
    const send = (answer: JsonResponse): void => {
      const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        ...(answer.body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
        'content-length': Buffer.byteLength(text),
        // The rest of a body we stopped reading is still on the connection: it cannot carry another request.
        ...(req.readableEnded ? {} : { connection: 'close' }),
        ...answer.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    let url: URL;
    try {
      url = requestUrl(req);
    } catch (err) {
      req.resume();
      send(errorAnswer(err, options.log));
      return;
    }
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    readBody(req)
      .then((text) =>
        handle({
          method: req.method ?? 'GET',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers,
          body: parseBody(text, headers['content-type']),
        }),
      )
      .then(send, (err: unknown) => send(errorAnswer(err, options.log)));
  }, options.log);
}
