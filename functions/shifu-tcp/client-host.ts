// The contract between an RTSP-mode client connection (rtsp-client.ts) and the service that accepted it
// (rtsp-service.ts): what the client asks of the service, and the account it gives when it closes.
import type { Logger, UdpPortPool } from '../lib/index.js';
import type { CameraLink } from './rtsp-camera-link.js';
import type { CameraSession, CameraSessionOptions } from './rtsp-camera-session.js';

export type ClientEndReason =
  | 'client-closed'
  | 'client-error'
  | 'malformed'
  | 'camera-gone'
  | 'camera-unreachable'
  | 'session-timeout'
  | 'idle-timeout'
  | 'shutdown';

/**
 * What a client needs of the service that accepted it (RtspService implements it): the shared camera sessions,
 * the camera connections, the UDP ports. A contract of its own, so that the client does not import the service
 * that creates it (`Client` is the client's type, which the service keeps).
 */
export interface ClientHost<Client = unknown> {
  readonly streams: ReadonlyMap<string, CameraSession>;
  readonly cameraOrigin: string;
  readonly udpPorts: UdpPortPool;
  readonly log: Logger;
  readonly idleTimeoutMs: number;
  openLink(): CameraLink;
  /** Marks a stream's camera session as being opened by one client; others wait for it. Returns the release. */
  opening(key: string): () => void;
  /** Waits (up to `timeoutMs`) while another client is opening the stream's camera session. */
  opened(key: string, timeoutMs: number): Promise<void>;
  /** A client's PLAY succeeded on its own camera connection: that connection becomes the stream's shared session. */
  share(options: Pick<CameraSessionOptions, 'key' | 'link' | 'sessionId' | 'timeoutSeconds' | 'controlUrl' | 'tracks'>): CameraSession;
  clientClosed(client: Client, end: RtspClientEnd): void;
}

/** The account of one RTSP client connection, logged once when it closes. */
export interface RtspClientEnd {
  readonly peer: string;
  readonly reason: ClientEndReason;
  /** errno code when the client's socket failed. */
  readonly error?: string;
  readonly streams: readonly string[];
  readonly transport: string;
  /** True when the client joined a camera session another client had opened. */
  readonly shared: boolean;
  readonly bytesToClient: number;
  readonly bytesFromClient: number;
  readonly durationMs: number;
}
