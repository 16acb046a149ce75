// `--mode auto`: a connection whose first line is an RTSP request line gets RTSP mode, anything else goes byte for byte.
import type { Socket } from 'node:net';

/** Longer than any request line a camera client sends; past it, the bytes are not RTSP. */
const MAX_LINE_BYTES = 8 * 1024;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$/;
const VERSION = 'RTSP/1.0';

export type Sniffed =
  | { readonly kind: 'rtsp'; readonly head: Buffer }
  | { readonly kind: 'bytes'; readonly head: Buffer; readonly ended: boolean }
  | { readonly kind: 'gone' };

/** Whether `line` (no line end) is an RTSP 1.0 request line: `METHOD URI RTSP/1.0`. */
export function isRtspRequestLine(line: string): boolean {
  const parts = line.split(' ');
  return parts.length === 3 && parts[0] !== '' && TOKEN.test(parts[0] ?? '') && parts[1] !== '' && parts[2] === VERSION;
}

/** Whether more bytes could still turn `partial` (no line end yet) into an RTSP request line. */
export function couldBeRtspRequestLine(partial: string): boolean {
  const parts = partial.split(' ');
  if (parts.length > 3 || !TOKEN.test(parts[0] ?? '')) return false;
  if (parts.length < 3) return parts.length === 1 || !/[\x00-\x20\x7f]/.test(parts[1] ?? '');
  return parts[1] !== '' && VERSION.startsWith(parts[2] ?? '');
}

/** The verdict on what has arrived so far, or undefined to wait for more. */
export function classify(head: Buffer): 'rtsp' | 'bytes' | undefined {
  const lf = head.indexOf(0x0a);
  const end = lf < 0 ? head.length : lf > 0 && head[lf - 1] === 0x0d ? lf - 1 : lf;
  const line = head.toString('latin1', 0, end);
  if (lf >= 0) return isRtspRequestLine(line) ? 'rtsp' : 'bytes';
  // A lone CR at the end may be the first half of CRLF.
  const partial = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (head.length > MAX_LINE_BYTES || !couldBeRtspRequestLine(partial) || partial.includes('\r')) return 'bytes';
  return undefined;
}

/**
 * Reads the client's first bytes until they decide the mode. A client that says nothing within
 * `timeoutMs` (a protocol where the server speaks first) goes byte for byte. The socket is left paused.
 */
export function sniff(socket: Socket, timeoutMs: number): Promise<Sniffed> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (result: Sniffed): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.pause();
      resolve(result);
    };
    const head = (): Buffer => Buffer.concat(chunks);
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const verdict = classify(head());
      if (verdict !== undefined) settle(verdict === 'rtsp' ? { kind: 'rtsp', head: head() } : { kind: 'bytes', head: head(), ended: false });
    };
    const onEnd = (): void => settle({ kind: 'bytes', head: head(), ended: true });
    const onClose = (): void => settle({ kind: 'gone' });
    const timer = setTimeout(() => settle({ kind: 'bytes', head: head(), ended: false }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.resume();
  });
}
