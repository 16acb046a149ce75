// One TCP connection to the camera speaking RTSP as a client: requests in order, responses matched by CSeq,
// RTP and RTCP interleaved on the same connection.
import net from 'node:net';
import {
  interleavedHeader,
  RtspParser,
  serializeMessage,
  type HeaderList,
  type HostPort,
  type RtspIncomingResponse,
} from '../lib/index.js';

/** A camera that does not answer a request within this is treated as gone. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Frames that arrive before the session owning them is attached (right after the PLAY reply). */
const MAX_EARLY_FRAMES = 512;
/** Bytes queued toward a camera that does not read (client RTCP) before more are dropped. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** The camera connection ended (reset, closed, timed out, or sent what cannot be parsed). */
export class CameraLinkClosed extends Error {}
/** The camera connection never opened. */
export class CameraUnreachable extends CameraLinkClosed {}

interface Pending {
  readonly cseq: string;
  readonly resolve: (response: RtspIncomingResponse) => void;
  readonly reject: (err: Error) => void;
}

export type FrameHandler = (channel: number, payload: Buffer) => void;

export class CameraLink {
  bytesToCamera = 0;
  bytesFromCamera = 0;
  private readonly socket: net.Socket;
  private readonly parser = new RtspParser(undefined, 'client');
  private nextCseq = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Pending | undefined;
  private frameHandler: FrameHandler | undefined;
  private batchEnd: (() => void) | undefined;
  private early: Array<[number, Buffer]> = [];
  private closedWith: Error | undefined;
  private readonly closeHandlers: Array<(err: Error) => void> = [];
  private connected = false;

  constructor(upstream: HostPort, dialTimeoutMs: number, keepAliveDelayMs: number) {
    this.socket = net.connect({ host: upstream.host, port: upstream.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveDelayMs });
    const dialTimer = setTimeout(() => this.fail(new CameraUnreachable('dial timeout')), dialTimeoutMs);
    this.socket.once('connect', () => {
      this.connected = true;
      clearTimeout(dialTimer);
    });
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(this.connected ? new CameraLinkClosed(err.code ?? err.message) : new CameraUnreachable(err.code ?? err.message)),
    );
    this.socket.on('close', () => {
      clearTimeout(dialTimer);
      this.fail(this.connected ? new CameraLinkClosed('camera closed the connection') : new CameraUnreachable('camera closed the connection'));
    });
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Called once when the connection ends, for whatever reason. */
  onClose(handler: (err: Error) => void): void {
    if (this.closedWith) handler(this.closedWith);
    else this.closeHandlers.push(handler);
  }

  /**
   * Where interleaved frames go; frames that came before are handed over first. `batchEnd` runs after
   * the frames of each read, so that receivers can write them out in one go.
   */
  onFrame(handler: FrameHandler, batchEnd?: () => void): void {
    this.frameHandler = handler;
    this.batchEnd = batchEnd;
    const early = this.early;
    this.early = [];
    for (const [channel, payload] of early) handler(channel, payload);
    batchEnd?.();
  }

  /** Sends one request after the previous one was answered; `fields` must not hold CSeq. */
  request(method: string, uri: string, fields: HeaderList, body: Buffer = Buffer.alloc(0)): Promise<RtspIncomingResponse> {
    const run = async (): Promise<RtspIncomingResponse> => {
      if (this.closedWith) throw this.closedWith;
      const cseq = String(this.nextCseq++);
      const bytes = serializeMessage(`${method} ${uri} RTSP/1.0`, [['CSeq', cseq], ...fields], body);
      return new Promise<RtspIncomingResponse>((resolve, reject) => {
        const timer = setTimeout(() => this.fail(new CameraLinkClosed(`no answer to ${method} within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
        this.pending = {
          cseq,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        this.bytesToCamera += bytes.length;
        this.socket.write(bytes);
      });
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  sendFrame(channel: number, payload: Buffer): void {
    if (this.closedWith || !this.socket.writable || this.socket.writableLength > MAX_BUFFERED_BYTES) return;
    this.bytesToCamera += payload.length + 4;
    this.socket.cork();
    this.socket.write(interleavedHeader(channel, payload.length));
    this.socket.write(payload);
    this.socket.uncork();
  }

  close(): void {
    this.fail(new CameraLinkClosed('closed by the forwarder'));
  }

  private receive(chunk: Buffer): void {
    this.bytesFromCamera += chunk.length;
    for (const input of this.parser.push(chunk)) {
      if (input.kind === 'interleaved') {
        if (this.frameHandler) this.frameHandler(input.channel, input.payload);
        else if (this.early.length < MAX_EARLY_FRAMES) this.early.push([input.channel, Buffer.from(input.payload)]);
      } else if (input.kind === 'response') {
        const pending = this.pending;
        if (pending && (input.response.cseq === undefined || input.response.cseq === pending.cseq)) {
          this.pending = undefined;
          pending.resolve(input.response);
        }
      } else if (input.kind === 'request') {
        // A camera's own keep-alive (GET_PARAMETER/OPTIONS) gets 200; anything else is not for a viewer to do.
        const ok = input.request.method === 'GET_PARAMETER' || input.request.method === 'OPTIONS';
        const status = ok ? 'RTSP/1.0 200 OK' : 'RTSP/1.0 501 Not Implemented';
        this.socket.write(serializeMessage(status, [['CSeq', input.request.cseq]], Buffer.alloc(0)));
      } else {
        this.fail(new CameraLinkClosed(`camera sent a malformed message: ${input.reason}`));
        return;
      }
    }
    this.batchEnd?.();
  }

  private fail(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.pending?.reject(err);
    this.pending = undefined;
    this.early = [];
    this.socket.destroy();
    for (const handler of this.closeHandlers.splice(0)) handler(err);
  }
}
