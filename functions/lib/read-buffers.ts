/** Buffers a pending write may still point into, before the reader must wait for the sink to flush. */
const MAX_HELD = 4;

/**
 * The buffers a socket reads into through `net` `onread`: no allocation per chunk.
 * A buffer is handed out again only once the sink has flushed every write, since a pending write still points into it.
 */
export class ReadBuffers {
  private current: Buffer;
  private readonly spare: Buffer[] = [];
  private held: Buffer[] = [];

  /** `pending` is the sink's `writableLength`: bytes it has accepted but not yet handed to the kernel. */
  constructor(
    private readonly pending: () => number,
    private readonly size: number,
  ) {
    // allocUnsafeSlow: no zero fill and no shared pool; pages are touched only as far as reads reach.
    this.current = Buffer.allocUnsafeSlow(size);
  }

  /** True when one more queued write would hold the last buffer we may take: the reader should wait for a flush. */
  get crowded(): boolean {
    return this.pending() > 0 && this.held.length >= MAX_HELD - 1;
  }

  /** The `onread.buffer` function: called once at socket creation and after every read callback. */
  readonly next = (): Buffer => {
    if (this.pending() === 0) {
      // Nothing pending in the sink: every buffer is free again.
      if (this.held.length > 0) {
        for (const buffer of this.held) this.spare.push(buffer);
        this.held = [];
      }
      return this.current;
    }
    this.held.push(this.current);
    this.current = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.size);
    return this.current;
  };
}
