// One client's TCP connection: parses what it sends, answers requests in order, carries its interleaved RTP.
import type net from 'node:net';
import type { ServerContext } from './context.js';
import { interleavedHeader, serializeResponse, type RtspRequest, type RtspResponse } from '../lib/index.js';
import type { Answer } from './answer.js';
import type { RtspClient } from './client.js';
import { handleRequest } from './methods.js';
import { RtspParser } from '../lib/index.js';
import { Session } from './session.js';
import type { Stream } from './stream.js';

/** Bytes queued to a slow reader before its packets are dropped instead of buffered without bound. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Requests waiting behind a slow one (a DESCRIBE waiting for its publisher) before the client is cut off. */
const MAX_QUEUED_REQUESTS = 32;
/** Frames queued behind requests (a slow DESCRIBE) before further ones are dropped. */
const MAX_QUEUED_STEPS = 1024;
const SERVER_NAME = 'shifu-rtsp mock-camera';

type ChannelUse = { readonly session: Session; readonly track: number; readonly kind: 'rtp' | 'rtcp' };

export class RtspConnection implements RtspClient {
  readonly sessions = new Map<string, Session>();
  /** Paths DESCRIBEd here: players SETUP only what they have described. */
  readonly described = new Set<string>();
  /** The stream this connection ANNOUNCEd, until it unpublishes. */
  announced: Stream | undefined;
  readonly remoteAddress: string;
  readonly family: 'udp4' | 'udp6';
  droppedPackets = 0;
  private readonly parser = new RtspParser();
  private readonly channels = new Map<number, ChannelUse>();
  private queue: Promise<void> = Promise.resolve();
  /** Requests waiting or being answered. */
  private queued = 0;
  /** Everything waiting in the queue, frames included. */
  private steps = 0;
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly ctx: ServerContext,
    private readonly onClosed: (conn: RtspConnection) => void,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.family = socket.remoteFamily === 'IPv6' ? 'udp6' : 'udp4';
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // Half-close from the client: answer what it sent, then close our side.
    socket.on('end', () => this.enqueue(async () => this.end()));
    socket.on('error', (err) => ctx.log.debug({ err, client: this.remoteAddress }, 'connection error'));
    socket.on('close', () => this.cleanup());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private receive(chunk: Buffer): void {
    for (const input of this.parser.push(chunk)) {
      if (input.kind === 'interleaved') {
        // Behind a request still being answered (RECORD, then media at once), a frame waits its turn.
        const { channel, payload } = input;
        if (this.steps === 0) this.frame(channel, payload);
        else if (this.steps < MAX_QUEUED_STEPS) this.enqueue(async () => this.frame(channel, payload), false);
      } else if (input.kind === 'malformed') {
        this.ctx.log.debug({ client: this.remoteAddress, reason: input.reason, fatal: input.fatal }, 'malformed request');
        const fatal = input.fatal;
        this.enqueue(async () => {
          this.write({ status: input.status, headers: fatal ? [['Connection', 'close']] : [] }, input.cseq);
          if (fatal) this.end();
        });
      } else if (input.kind === 'response') {
        // A server-role parser never produces responses; nothing to answer.
        continue;
      } else if (this.queued >= MAX_QUEUED_REQUESTS) {
        this.ctx.log.warn({ client: this.remoteAddress }, 'too many pipelined requests; closing');
        this.socket.destroy();
        return;
      } else this.enqueue(() => this.answer(input.request));
    }
  }

  private async answer(request: RtspRequest): Promise<void> {
    const answer: Answer = await handleRequest(this.ctx, this, request);
    this.write(answer.response, request.cseq);
    // After the response, so a client never sees media before the PLAY reply.
    answer.afterSent?.();
  }

  /** Runs `step` after everything queued before it; a throw is a bug: logged, and the connection dropped. */
  private enqueue(step: () => Promise<void>, isRequest = true): void {
    this.steps += 1;
    if (isRequest) this.queued += 1;
    this.queue = this.queue
      .then(() => (this.closed ? undefined : step()))
      .catch((err: unknown) => {
        this.ctx.log.error({ err, client: this.remoteAddress }, 'internal error while answering; closing the connection');
        this.socket.destroy();
      })
      .finally(() => {
        this.steps -= 1;
        if (isRequest) this.queued -= 1;
      });
  }

  private frame(channel: number, payload: Buffer): void {
    const use = this.channels.get(channel);
    if (use === undefined) return; // frames on channels nobody set up are dropped, as RFC 2326 allows
    use.session.touch();
    if (use.session.mode === 'record' && use.session.state === 'recording') use.session.stream.publish(use.track, use.kind, payload);
  }

  private write(response: RtspResponse, cseq: string | undefined): void {
    if (!this.closed && this.socket.writable) this.socket.write(serializeResponse(response, cseq, SERVER_NAME));
  }

  sendInterleaved(channel: number, payload: Buffer): void {
    if (this.closed || !this.socket.writable) return;
    if (this.socket.writableLength > MAX_BUFFERED_BYTES) {
      this.droppedPackets += 1;
      return;
    }
    this.socket.cork();
    this.socket.write(interleavedHeader(channel, payload.length));
    this.socket.write(payload);
    this.socket.uncork();
  }

  streamEnded(session: Session): void {
    this.ctx.log.info({ client: this.remoteAddress, path: session.stream.path, session: session.id }, 'stream ended; closing its reader');
    this.end();
  }

  /** A free even channel pair: the one asked for if free, else the lowest. */
  reserveChannels(wanted: readonly [number, number] | undefined): readonly [number, number] | undefined {
    if (wanted && wanted[0] !== wanted[1] && !this.channels.has(wanted[0]) && !this.channels.has(wanted[1])) return wanted;
    for (let c = 0; c < 255; c += 2) if (!this.channels.has(c) && !this.channels.has(c + 1)) return [c, c + 1];
    return undefined;
  }

  bindChannels(session: Session, track: number, channels: readonly [number, number]): void {
    this.channels.set(channels[0], { session, track, kind: 'rtp' });
    this.channels.set(channels[1], { session, track, kind: 'rtcp' });
  }

  openSession(session: Session): void {
    this.sessions.set(session.id, session);
  }

  /** Ends a session; a publisher's session takes its stream down with it. */
  closeSession(session: Session): void {
    if (!this.sessions.delete(session.id)) return;
    for (const [channel, use] of this.channels) if (use.session === session) this.channels.delete(channel);
    session.close();
    this.ctx.log.debug({ client: this.remoteAddress, path: session.stream.path, session: session.id, mode: session.mode }, 'session closed');
    if (session.mode === 'record') this.unpublish(session.stream);
  }

  unpublish(stream: Stream): void {
    if (this.announced === stream) this.announced = undefined;
    if (!stream.ended) this.ctx.log.info({ path: stream.path, client: this.remoteAddress }, 'publisher left');
    this.ctx.paths.remove(stream);
  }

  /** Flushes what is written, then closes; a client that never closes its side is dropped shortly after. */
  end(): void {
    if (this.closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  /** Closes at once (server shutdown, idle client). */
  destroy(): void {
    this.socket.destroy();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.droppedPackets > 0) this.ctx.log.warn({ client: this.remoteAddress, droppedPackets: this.droppedPackets }, 'a slow reader missed packets');
    for (const s of [...this.sessions.values()]) this.closeSession(s);
    if (this.announced) this.unpublish(this.announced);
    this.onClosed(this);
  }
}
