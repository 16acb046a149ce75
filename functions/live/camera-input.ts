// Where live view's ffmpeg reads the camera, and what its failure means to a viewer: shared by HLS and WebRTC.
import { HttpError, type Logger } from '../lib/index.js';
import type { CameraRelay } from '../recorder/index.js';

export interface CameraLogin {
  readonly username: string;
  readonly password: string;
}

/**
 * The forwarder's RTSP port on loopback, or, for a camera with a login, the recorder's camera relay in front of
 * it: ffmpeg never gets the login (argv is readable by every user); the relay answers the camera's 401 itself
 * and admits only the ffmpeg processes we started. The relay is loaded only then: otherwise the forwarder needs
 * no recorder code.
 */
export class CameraInput {
  private relay: CameraRelay | undefined;
  private closed = false;

  constructor(
    private readonly source: string,
    private readonly login: CameraLogin | undefined,
    private readonly key: string,
    private readonly log: Logger,
  ) {}

  async url(): Promise<string> {
    if (!this.login) return this.source;
    if (!this.relay) {
      const { parseCameraAddress, startCameraRelay } = await import('../recorder/index.js');
      const relay = await startCameraRelay(parseCameraAddress(this.source, this.login.username, this.login.password), {
        onRefused: (peer) => this.log.warn({ stream: this.key, peer }, 'refused a connection to the live camera relay'),
      });
      if (this.closed) void relay.teardown(0);
      this.relay = relay;
    }
    return this.relay.url;
  }

  admit(pid: number | undefined): void {
    this.relay?.admit(pid);
  }

  /** The relay ends the camera session ffmpeg had on it (TEARDOWN), then closes. */
  close(): void {
    this.closed = true;
    void this.relay?.teardown(2_000);
  }
}

/** ffmpeg's reason for a run that ended before any media, as the answer a viewer gets. */
export function cameraFailure(stderr: string, key: string): HttpError {
  if (/404 Not Found/.test(stderr)) return new HttpError(404, `path: the camera has no stream ${key}`, 'not_found');
  if (/401 Unauthorized/.test(stderr)) return new HttpError(502, 'camera: refused the login (401)', 'camera_refused');
  const last = stderr.trim().split('\n').pop()?.trim() || 'ended without video';
  return new HttpError(502, `camera: ${last}`, 'camera_failed');
}

/** A failure to reach the camera at all (the relay would not start). */
export function inputFailure(err: unknown): HttpError {
  return new HttpError(502, `camera: ${err instanceof Error ? err.message : String(err)}`, 'camera_failed');
}
