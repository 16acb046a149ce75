// A loopback relay between ffmpeg (or ffprobe) and the camera, for two things ffmpeg cannot be trusted with:
// - The password. ffmpeg takes credentials only inside its input URL, and its argv is readable by every user
//   on the node (/proc/<pid>/cmdline). So ffmpeg opens rtsp://127.0.0.1:<port>/<path> with no user or password,
//   and the relay answers the camera's 401 (Digest or Basic) and signs every later request itself.
// - A clean end. ffprobe has no signal handler (SIGTERM and SIGINT kill it without a TEARDOWN, measured with
//   ffprobe 5.1); a probe that runs out of time would leave its session holding one of the camera's few stream
//   slots. The relay sends that TEARDOWN.
// Requests and responses are parsed (RtspParser); interleaved media passes through as frames.
import net from 'node:net';
import tls from 'node:tls';
import { ReadBuffers } from '../lib/index.js';
import { cameraLogin, type CameraAddress } from '../contracts/index.js';
import type { Failure } from './failure.js';
import type { LoginBudget } from './login-budget.js';
import { Leg } from './relay-leg.js';
import { peerIsOneOf } from './socket-owner.js';

/** One read from the camera: what a leg's coalescing (COALESCE_MS, relay-leg.ts) gathers at up to ~5 Mbit/s; a full read is followed by another at once. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Socket error codes as ffmpeg words them, so that messages (and their classification) read the same. */
const DIAL_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ECONNRESET: 'Connection reset by peer',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Name or service not known (temporary failure in name resolution)',
};

export interface CameraRelay {
  /** The URL ffmpeg opens: the camera's path on the relay's loopback port, with no credentials. */
  readonly url: string;
  /** Lets process `pid` (an ffmpeg or ffprobe we started) connect; any other connection is closed unanswered. */
  admit(pid: number | undefined): void;
  /**
   * A failure as ffmpeg or ffprobe reported it, told about the camera: what the relay saw of it when ffmpeg
   * only saw its loopback socket close (refused, no route), else the same failure naming the camera's address.
   */
  explain(failure: Failure): Failure;
  /** ffmpeg's messages name the relay's address: name the camera's, which is what the user configured. */
  toCameraText(text: string): string;
  /** Sends TEARDOWN for every session on the relay, waits for the answers (at most `waitMs`), then closes. */
  teardown(waitMs?: number): Promise<void>;
  close(): void;
}

function formatPeer(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
}

export interface CameraRelayOptions {
  /** A connection from a process that is not one we admitted was closed unanswered. */
  readonly onRefused?: (peer: string) => void;
  /** Failed logins so far, shared by every relay of one recorder: once spent, no credentials are sent. */
  readonly logins?: LoginBudget;
}

/** Starts a relay toward `camera` on a free loopback port. */
export async function startCameraRelay(camera: CameraAddress, options: CameraRelayOptions = {}): Promise<CameraRelay> {
  const target = new URL(camera.displayUrl);
  const cameraOrigin = `${target.protocol}//${target.host}`;
  const login = cameraLogin(camera);
  const legs = new Set<Leg>();
  let failure: Failure | null = null;
  let relayOrigin = '';
  const relay = {
    login,
    logins: options.logins,
    toCameraUri: (uri: string): string => (uri.toLowerCase().startsWith(relayOrigin.toLowerCase()) ? cameraOrigin + uri.slice(relayOrigin.length) : uri),
    dialFailed: (err: NodeJS.ErrnoException): void => {
      const words = DIAL_ERRORS[err.code ?? ''] ?? err.code ?? err.message;
      failure = { kind: 'unreachable', message: `${camera.displayUrl}: ${words}` };
    },
    done: (leg: Leg): void => {
      legs.delete(leg);
    },
  };
  const admitted = new Set<number>();
  let port = 0;
  const server = net.createServer((client) => {
    // Only our own ffmpeg or ffprobe: the relay logs in for whoever connects.
    void peerIsOneOf(port, client.remotePort ?? 0, [...admitted]).then((ours) => {
      if (!ours) {
        options.onRefused?.(formatPeer(client));
        client.destroy();
        return;
      }
      if (!client.destroyed) legs.add(openLeg(client));
    });
  });
  const openLeg = (client: net.Socket): Leg => {
    const options = { host: camera.host, port: camera.port };
    let leg: Leg | undefined;
    let socket: net.Socket;
    if (target.protocol === 'rtsps:') {
      // RTSPS: TLS toward the camera, plain on loopback. Not verified, as ffmpeg's own default (tls_verify=0):
      // cameras ship self-signed certificates.
      socket = tls.connect({ ...options, rejectUnauthorized: false, ...(net.isIP(camera.host) === 0 ? { servername: camera.host } : {}) });
      socket.on('data', (chunk: Buffer) => leg?.fromCamera(chunk));
    } else {
      // Media reads land in reused buffers (`onread`), not a new Buffer and a stream event per read: the
      // camera side carries every byte of the recording. A buffer is reused once ffmpeg's socket has taken
      // what was written from it.
      const buffers = new ReadBuffers(() => client.writableLength, READ_BUFFER_BYTES);
      socket = net.connect({
        ...options,
        onread: {
          buffer: buffers.next,
          callback: (length: number, buffer: Uint8Array): boolean => {
            leg?.fromCamera(Buffer.from(buffer.buffer, buffer.byteOffset, length));
            // A full buffer means more is waiting: read on at once, or a fast camera would fall behind.
            if (length < buffer.length) leg?.coalesce();
            return true;
          },
        },
      });
    }
    socket.once(target.protocol === 'rtsps:' ? 'secureConnect' : 'connect', () => {
      failure = null;
    });
    leg = new Leg(client, socket, relay);
    return leg;
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  port = (server.address() as net.AddressInfo).port;
  const url = new URL(camera.displayUrl);
  url.protocol = 'rtsp:';
  url.hostname = '127.0.0.1';
  url.port = String(port);
  relayOrigin = `rtsp://127.0.0.1:${port}`;
  const toCameraText = (text: string): string => text.split(relayOrigin).join(cameraOrigin).split(`127.0.0.1:${port}`).join(target.host);
  const close = (): void => {
    for (const leg of legs) leg.end(true);
    server.close();
  };
  return {
    url: url.toString(),
    admit: (pid) => {
      if (pid !== undefined) admitted.add(pid);
    },
    explain: (f) => (failure !== null && (f.kind === 'unreachable' || f.kind === 'media') ? failure : { ...f, message: toCameraText(f.message) }),
    toCameraText,
    close,
    async teardown(waitMs = 1000) {
      await Promise.all([...legs].filter((leg) => leg.live).map((leg) => leg.teardown(waitMs)));
      close();
    },
  };
}
