// A TCP relay in front of a test camera that counts what clients send it: how many sessions and logins a
// recorder costs the camera, as the camera itself would count them.
import net from 'node:net';
import type { Scratch } from '../../support/scratch.js';

/** A TCP relay in front of the camera that counts what clients send: RTSP requests and login attempts. */
export interface Tap {
  readonly port: number;
  readonly connections: number;
  /** Requests carrying credentials (`Authorization:`): each is one login the camera judges. */
  readonly logins: number;
  /** Requests carrying credentials that the camera answered 401 or 403: failed logins, as the camera counts them. */
  readonly failedLogins: number;
  /** RTSP requests by method (DESCRIBE: one per session a client opens). */
  readonly methods: Record<string, number>;
  /** Resets the next connection as soon as it arrives: a network blip. */
  cutNext(): void;
}

/** Complete message heads (up to the blank line) at the start of `text`, and what is left after them. */
function heads(text: string): { heads: string[]; rest: string } {
  const out: string[] = [];
  let rest = text;
  for (let end = rest.indexOf('\r\n\r\n'); end >= 0; end = rest.indexOf('\r\n\r\n')) {
    out.push(rest.slice(0, end));
    // Without a login there is no media: a body (SDP) is the only thing between heads, and it is skipped.
    const length = Number(/^Content-Length:\s*(\d+)/im.exec(rest.slice(0, end))?.[1] ?? 0);
    rest = rest.slice(end + 4 + length);
  }
  return { heads: out, rest };
}

/** Starts the tap on a loopback port; `scratch` closes it (and every connection through it) after the test. */
export async function tapRtsp(targetPort: number, scratch: Scratch): Promise<Tap> {
  const counts = { connections: 0, logins: 0, failedLogins: 0, cut: false };
  const methods: Record<string, number> = {};
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    counts.connections++;
    if (counts.cut) {
      counts.cut = false;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    /** CSeq of each request that carried credentials, on this connection. */
    const signed = new Set<string>();
    let fromClient = '';
    let fromCamera = '';
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      counts.logins += (text.match(/^Authorization:/gim) ?? []).length;
      for (const m of text.matchAll(/^([A-Z_]+) rtsp:\/\/\S+ RTSP\/1\.0\r?$/gm)) methods[m[1]!] = (methods[m[1]!] ?? 0) + 1;
      const parsed = heads(fromClient + text);
      fromClient = parsed.rest;
      for (const head of parsed.heads) {
        const cseq = /^CSeq:\s*(\S+)/im.exec(head)?.[1];
        if (cseq !== undefined && /^Authorization:/im.test(head)) signed.add(cseq);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      const parsed = heads(fromCamera + chunk.toString('latin1'));
      fromCamera = parsed.rest;
      for (const head of parsed.heads) {
        const status = /^RTSP\/1\.0 (\d{3})/.exec(head)?.[1];
        const cseq = /^CSeq:\s*(\S+)/im.exec(head)?.[1];
        if ((status === '401' || status === '403') && cseq !== undefined && signed.has(cseq)) counts.failedLogins++;
      }
    });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scratch.defer(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(resolve);
      }),
  );
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get connections() {
      return counts.connections;
    },
    get logins() {
      return counts.logins;
    },
    get failedLogins() {
      return counts.failedLogins;
    },
    methods,
    cutNext: () => {
      counts.cut = true;
    },
  };
}
