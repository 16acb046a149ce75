import net, { type OnReadOpts } from 'node:net';

/** The parts of libuv's stream handle that tell us the accepted socket really has one. */
interface StreamHandle {
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
}

function isStreamHandle(value: unknown): value is StreamHandle {
  if (typeof value !== 'object' || value === null) return false;
  const handle = value as Partial<StreamHandle>;
  return typeof handle.readStart === 'function' && typeof handle.useUserBuffer === 'function';
}

export interface AdoptOptions {
  readonly onread: OnReadOpts;
  readonly writableHighWaterMark: number;
}

/**
 * Moves an accepted socket's handle into a new Socket that reads through `onread`, which `net.Server`
 * cannot offer. The accepted Socket is destroyed without its handle, so the server's count stays right.
 * The socket must still be paused (`pauseOnConnect`). Returns undefined, touching nothing, if Node's
 * internals do not look as expected; the caller then keeps the accepted socket (slower, still correct).
 */
export function adoptWithOnread(accepted: net.Socket, options: AdoptOptions): net.Socket | undefined {
  const holder = accepted as unknown as { _handle?: unknown };
  const handle = holder._handle;
  if (!isStreamHandle(handle) || accepted.destroyed || accepted.readableFlowing !== false) return undefined;
  const socketOptions: Omit<net.SocketConstructorOpts, 'handle'> & {
    handle: StreamHandle;
    pauseOnCreate: boolean;
    writableHighWaterMark: number;
  } = {
    handle,
    allowHalfOpen: true,
    // Read nothing until the device connection is up.
    pauseOnCreate: true,
    writableHighWaterMark: options.writableHighWaterMark,
    onread: options.onread,
  };
  let adopted: net.Socket;
  try {
    // The typings only know BoundSocket handles; net.Socket takes an accepted handle the same way net.Server does.
    adopted = new net.Socket(socketOptions as unknown as net.SocketConstructorOpts);
  } catch {
    return undefined;
  }
  // Only now let go of the accepted Socket: without its handle, destroying it closes nothing.
  holder._handle = null;
  accepted.destroy();
  return adopted;
}
