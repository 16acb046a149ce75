import type { OnReadOpts, Socket } from 'node:net';
import { ReadBuffers } from '../lib/index.js';

/** One direction of a relay: bytes read from `source` are written to `sink` in order, pausing the source on backpressure. */
export class Pump {
  bytes = 0;
  private source: Socket | undefined;
  private sink: Socket | undefined;
  private paused = false;
  private readonly buffers: ReadBuffers;
  /** For the source socket's constructor: reads land in our buffers (the fast path). */
  readonly onread: OnReadOpts;

  constructor(bufferSize: number) {
    this.buffers = new ReadBuffers(() => this.sink?.writableLength ?? 0, bufferSize);
    this.onread = { buffer: this.buffers.next, callback: this.read };
  }

  /** Joins the two sockets; the source stays paused until `start`. */
  connect(source: Socket, sink: Socket): void {
    this.source = source;
    this.sink = sink;
    sink.on('drain', this.resume);
  }

  start(): void {
    // Flowing mode also makes an `onread` socket emit 'end', though it never pushes data.
    this.source?.resume();
  }

  /** The slow path, for a source that could not be given `onread`: Node allocates every chunk. */
  readonly chunk = (chunk: Buffer): void => {
    this.bytes += chunk.length;
    if (!this.sink?.write(chunk)) this.pause();
  };

  /** Always true: backpressure pauses the source explicitly, so that `resume()` restarts it. */
  private readonly read = (length: number, buffer: Uint8Array): boolean => {
    const sink = this.sink;
    // Never true in practice: connect() runs in the same tick that creates the sockets, before any read.
    if (sink === undefined) return true;
    this.bytes += length;
    const chunk = length === buffer.length ? buffer : buffer.subarray(0, length);
    if (this.buffers.crowded) {
      // Every spare buffer is still queued: read again only once this write has gone out.
      this.pause();
      sink.write(chunk, this.resume);
    } else if (!sink.write(chunk)) {
      this.pause();
    }
    return true;
  };

  private pause(): void {
    this.paused = true;
    this.source?.pause();
  }

  private readonly resume = (): void => {
    if (!this.paused || this.source === undefined || this.source.destroyed) return;
    this.paused = false;
    this.source.resume();
  };
}
