// Where the export reads footage: the playback server in the export pod, reached directly (a port-forward)
// or through the Kubernetes API's pod proxy. Both speak the same HTTP routes.
import type { IncomingMessage, RequestOptions } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { requestFor } from '../lib/index.js';

/** One GET against the playback server; the answer streams (files, clips). */
export interface FootageSource {
  /** Where it points, for messages (never with a token). */
  readonly description: string;
  /** `route` is a path with its query, e.g. `/files/cam1/cam1_20261124T100000Z.mp4`. */
  get(route: string, headers?: Readonly<Record<string, string>>): Promise<IncomingMessage>;
}

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

function get(url: URL, options: RequestOptions, description: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = requestFor(url)(url, { ...options, method: 'GET' }, resolve);
    req.on('error', (err) => reject(new SourceError(`${description}: ${err.message}`)));
    req.end();
  });
}

/** A playback server at `base` (e.g. http://localhost:9996 after `kubectl port-forward pod/<device>-export 9996`). */
export function httpSource(base: URL, token?: string): FootageSource {
  const root = base.href.replace(/\/$/, '');
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    description: `playback server ${root}`,
    get: (route, headers = {}) => get(new URL(root + route), { headers: { ...auth, ...headers } }, `playback server ${root}`),
  };
}

export interface PodProxyRef {
  readonly namespace: string;
  readonly pod: string;
  readonly port: number;
}

/**
 * The playback server through the API server: `/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/...`, with the
 * kubeconfig's credentials and CA (your account needs `get` on `pods/proxy`). A playback token, when the pod
 * has one, goes in the query: the Authorization header carries the API server's credentials.
 */
export async function podProxySource(kc: KubeConfig, ref: PodProxyRef, token?: string): Promise<FootageSource> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new SourceError('no current cluster in the kubeconfig');
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
  const root = `${cluster.server.replace(/\/$/, '')}/api/v1/namespaces/${ref.namespace}/pods/${ref.pod}:${ref.port}/proxy`;
  const description = `pod proxy ${ref.namespace}/${ref.pod}:${ref.port}`;
  return {
    description,
    get: (route, headers = {}) => {
      const url = new URL(root + route);
      if (token) url.searchParams.set('access_token', token);
      return get(url, { ...options, headers: { ...(options.headers as Record<string, string> | undefined), ...headers } }, description);
    },
  };
}

/** The whole body as text (for JSON answers and error messages), at most `limit` bytes. */
export async function bodyText(res: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

/** The server's `{message}`, or the body's start, for a failed request. */
export async function failureOf(res: IncomingMessage): Promise<string> {
  const text = await bodyText(res, 4096);
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return `${res.statusCode}: ${parsed.message}`;
  } catch {
    // not JSON (an API server's or a proxy's page)
  }
  return `${res.statusCode}: ${text.trim().slice(0, 300)}`;
}
