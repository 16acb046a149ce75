// One RTSP OPTIONS by hand: tells a camera that is back, or an address that answers but is no RTSP camera.
import net from 'node:net';

export type RtspAnswer =
  | { readonly kind: 'rtsp' }
  /** Something answered, but not RTSP (a web UI, TLS, garbage): `answer` says what, for lastError. */
  | { readonly kind: 'other'; readonly answer: string }
  /** Nothing answered: refused, timed out, or closed without a byte. */
  | { readonly kind: 'none' };

/** What the first bytes of an answer were, in one short line that is safe to show. */
export function describeAnswer(bytes: Buffer): string {
  const first = bytes[0];
  // 0x15 alert, 0x16 handshake: a TLS port (RTSPS, or the camera's HTTPS UI).
  if (first === 0x15 || first === 0x16) return `a TLS record (${hex(bytes)}): the port speaks TLS, not plain RTSP`;
  const line = bytes.toString('latin1').split(/\r?\n/, 1)[0] ?? '';
  if (/^[\x20-\x7e\t]+$/.test(line)) return JSON.stringify(line.slice(0, 100));
  return `${bytes.length} bytes that are not text (${hex(bytes)})`;
}

function hex(bytes: Buffer): string {
  return [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Sends OPTIONS and reads the answer's first bytes (`url` carries no credentials). */
export function askRtsp(host: string, port: number, url: string, timeoutMs = 1500): Promise<RtspAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    const done = (answer: RtspAnswer): void => {
      socket.destroy();
      resolve(answer);
    };
    const judge = (): void => {
      if (received.length === 0) return done({ kind: 'none' });
      done(received.subarray(0, 5).toString('latin1') === 'RTSP/' ? { kind: 'rtsp' } : { kind: 'other', answer: describeAnswer(received) });
    };
    socket.setTimeout(timeoutMs, judge);
    socket.on('error', judge);
    socket.on('connect', () => socket.write(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: shifu-rtsp\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 5 || !'RTSP/'.startsWith(received.toString('latin1'))) judge();
    });
    socket.on('end', judge);
  });
}
