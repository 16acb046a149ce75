// One RTSP-mode client's connection as bytes, apart from what its requests mean (rtsp-client.ts): requests are
// parsed and answered one at a time in their order, reading pauses while too many wait or the client leaves
// too much unread, answers and interleaved media go out (one camera read's frames corked into one writev), and
// the connection ends softly (answers first) or at once.
import type net from 'node:net';
import { RtspParser, serializeMessage, STATUS_TEXT, type HeaderList, type RtspRequest } from '../lib/index.js';

/** Bytes queued to a slow TCP viewer before its packets are dropped (it then rejoins at a keyframe). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/**
 * Requests read but not yet answered, past which the client is no longer read: a client that pipelines
 * requests behind one a slow camera holds (or never reads our answers) must not fill the forwarder's memory.
 */
const MAX_QUEUED_REQUESTS = 16;
/** Bytes written but not yet taken by the client, past which the client is no longer read. */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** Bytes parsed at a time, so that a full queue stops the parsing of a large read part way. */
const PARSE_SLICE_BYTES = 4096;
const SERVER = 'shifu-rtsp forwarder';

/** What the wire hands to the client that owns it. */
export interface WireHandlers {
  /** Answers one request; requests run one at a time, in order. */
  request(request: RtspRequest): Promise<void>;
  /** An interleaved frame from the client (RTCP of its session, or a publisher's media). */
  frame(channel: number, payload: Buffer): void;
  /** A request the parser could not read (answered with `status` and the connection ended by the wire). */
  malformed(reason: string): void;
  /** A request's answer threw: what it means for the connection is the client's to decide. */
  failed(err: unknown): void;
}

export class ClientWire {
  bytesToClient = 0;
  bytesFromClient = 0;
  private readonly parser = new RtspParser();
  private queue: Promise<void> = Promise.resolve();
  /** Steps in `queue` not yet done. */
  private queued = 0;
  /** Reading paused because the queue or the unread answers are full. */
  private held = false;
  /** Nothing more is read: the parser gave up on the connection. */
  private deaf = false;
  private corked = false;
  closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly handlers: WireHandlers,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.throttle());
  }

  /** Starts reading, after the bytes already read (the head `--mode auto` looked at). */
  start(head: Buffer | undefined): void {
    if (head !== undefined && head.length > 0) this.receive(head);
    // The head alone may have filled the queue (the rest of it went back to the socket): then wait for room.
    if (!this.held) this.socket.resume();
  }

  /** Runs `step` after every request and step queued before it. */
  enqueue(step: () => Promise<void>): void {
    this.queued += 1;
    this.throttle();
    this.queue = this.queue
      .then(() => (this.closed ? undefined : step()))
      .finally(() => {
        this.queued -= 1;
        this.throttle();
      })
      .catch((err: unknown) => this.handlers.failed(err));
  }

  /** A response of our own. */
  answer(status: number, cseq: string | undefined, fields: HeaderList = [], body?: string): void {
    const head = `RTSP/1.0 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
    const text = body === undefined ? Buffer.alloc(0) : Buffer.from(`${body}\n`, 'utf8');
    const all: HeaderList = [...(cseq === undefined ? [] : [['CSeq', cseq] as const]), ['Server', SERVER], ...fields, ...(body === undefined ? [] : [['Content-Type', 'text/plain'] as const])];
    this.write(serializeMessage(head, all, text));
  }

  write(bytes: Buffer): void {
    if (this.closed || !this.socket.writable) return;
    this.flush();
    this.bytesToClient += bytes.length;
    this.socket.write(bytes);
  }

  /** Queues one interleaved frame; frames of one camera read leave together at `flush` (one writev). False: dropped, the client reads too slowly. */
  sendFramed(frame: Buffer): boolean {
    if (this.closed || !this.socket.writable) return true;
    if (this.socket.writableLength > MAX_BUFFERED_BYTES) return false;
    this.bytesToClient += frame.length;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
    }
    this.socket.write(frame);
    return true;
  }

  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
    // A viewer's media fills the same buffer: reading resumes once it has taken enough, even without a 'drain'.
    if (this.held) this.throttle();
  }

  /** Ends after what is written (a TEARDOWN's answer, a 400), and for good two seconds later. */
  end(): void {
    if (this.closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** Reads from the client only while its queue of requests and of answers it has not taken are short. */
  private throttle(): void {
    if (this.closed || this.deaf) return;
    const full = this.queued >= MAX_QUEUED_REQUESTS || this.socket.writableLength >= MAX_UNREAD_BYTES;
    if (full && !this.held) {
      this.held = true;
      this.socket.pause();
    } else if (!full && this.held) {
      this.held = false;
      this.socket.resume();
    }
  }

  private receive(chunk: Buffer): void {
    for (let at = 0; at < chunk.length; at += PARSE_SLICE_BYTES) {
      if (this.deaf) return;
      if (this.held) {
        // Back to the socket, read again once the queue has room.
        this.socket.unshift(chunk.subarray(at));
        return;
      }
      const slice = chunk.subarray(at, at + PARSE_SLICE_BYTES);
      this.bytesFromClient += slice.length;
      this.parse(slice);
    }
  }

  private parse(slice: Buffer): void {
    for (const input of this.parser.push(slice)) {
      if (input.kind === 'interleaved') this.handlers.frame(input.channel, input.payload);
      else if (input.kind === 'malformed') {
        // A request we cannot read is answered 400 and the connection closed: nothing after it can be trusted.
        this.handlers.malformed(input.reason);
        this.enqueue(async () => {
          this.answer(input.status, input.cseq, [['Connection', 'close']]);
          this.end();
        });
        this.deaf = true;
        this.socket.pause();
        return;
      } else if (input.kind === 'request') {
        const request = input.request;
        this.enqueue(() => this.handlers.request(request));
      }
    }
  }
}
