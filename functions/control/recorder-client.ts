import { http } from '../lib/index.js';
import { parseRecorderAnswer, type RecorderAnswer } from './recorder-state.js';

export type Asked = { readonly ok: true; readonly status: RecorderAnswer } | { readonly ok: false; readonly reason: string };

/** More than any status a recorder sends: a longer answer is not one. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * A recorder pod's own `GET /record/status`, with its API token. Never throws: what went wrong comes back as
 * a reason that names the address and the cause, never the token. node:http, not fetch (which loads undici).
 */
export function askRecorderStatus(address: { host: string; port: number }, token: string | undefined, timeoutMs: number): Promise<Asked> {
  const where = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: Asked): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const req = http.request(
      { host: address.host, port: address.port, path: '/record/status', method: 'GET', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          const why = status === 401 ? ' (it refused the token: the pod runs with another RECORDER_API_TOKEN than its Deployment says)' : '';
          done({ ok: false, reason: `the recorder at ${where} answered HTTP ${status}${why}` });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.once('error', (err) => done({ ok: false, reason: `the recorder at ${where} broke off its answer: ${err.message}` }));
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) req.destroy(new Error(`an answer over ${MAX_BODY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.once('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          const parsed = parseRecorderAnswer(body);
          done(parsed ? { ok: true, status: parsed } : { ok: false, reason: `the recorder at ${where} answered something that is not a recorder status` });
        });
      },
    );
    // A pod address is unreachable from outside the cluster: a connect that hangs ends here, not in minutes.
    const timer = setTimeout(() => {
      done({ ok: false, reason: `no answer from the recorder at ${where} within ${timeoutMs} ms (control outside the cluster cannot reach pod addresses; a NetworkPolicy may not admit control)` });
      req.destroy();
    }, timeoutMs);
    req.once('error', (err) => done({ ok: false, reason: `cannot ask the recorder at ${where}: ${err.message}` }));
    req.end();
  });
}
