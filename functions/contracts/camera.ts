import { z } from 'zod';
import type { Login } from '../lib/index.js';

/** The camera's RTSP address, with credentials kept apart from anything printable (and from any URL). */
export interface CameraAddress {
  /** Without credentials: safe for logs, status and events. */
  readonly displayUrl: string;
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
}

const DEFAULT_RTSP_PORT = 554;

/**
 * Accepts `rtsp://[user[:pass]@]host[:port][/path]` or `host[:port][/path]` (port 554 by default), as users
 * paste them. `username`/`password` given apart override those inside the URL.
 */
export function parseCameraAddress(raw: string, username?: string, password?: string): CameraAddress {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `rtsp://${text}`;
  // Pasted passwords often hold unescaped @ : / — take everything up to the last @ as credentials.
  const schemeEnd = withScheme.indexOf('://') + 3;
  const at = withScheme.lastIndexOf('@');
  let urlUser: string | undefined;
  let urlPass: string | undefined;
  let rest = withScheme;
  if (at > schemeEnd) {
    const credentials = withScheme.slice(schemeEnd, at);
    const colon = credentials.indexOf(':');
    urlUser = safeDecode(colon < 0 ? credentials : credentials.slice(0, colon));
    urlPass = colon < 0 ? undefined : safeDecode(credentials.slice(colon + 1));
    rest = withScheme.slice(0, schemeEnd) + withScheme.slice(at + 1);
  }
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw new Error('expected rtsp://host[:port]/path or host[:port][/path]');
  }
  if (url.protocol !== 'rtsp:' && url.protocol !== 'rtsps:') {
    throw new Error(`expected an rtsp:// URL, not ${url.protocol}//`);
  }
  if (url.hostname === '') throw new Error('the URL has no host');
  const user = username ?? (urlUser !== '' ? urlUser : undefined);
  const pass = password ?? urlPass;
  if (url.port === '') url.port = String(DEFAULT_RTSP_PORT);
  // No URL carries the credentials: ffmpeg would put them in its argv. The camera relay signs requests instead.
  return {
    displayUrl: url.toString(),
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port),
    ...(user !== undefined ? { username: user } : {}),
    ...(pass !== undefined ? { password: pass } : {}),
  };
}

/** The login the camera is given, if it has one (a password alone logs in as the empty user). */
export function cameraLogin(camera: CameraAddress): Login | undefined {
  if (camera.username === undefined && camera.password === undefined) return undefined;
  return { username: camera.username ?? '', password: camera.password ?? '' };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** zod rule for `--url`: checks the form at start-up, keeps the raw text (credentials joined later). */
export const zCameraUrl = z
  .string({ message: 'required: the camera RTSP URL (rtsp://host:554/path)' })
  .trim()
  .min(1, 'required: the camera RTSP URL (rtsp://host:554/path)')
  .superRefine((value, ctx) => {
    try {
      parseCameraAddress(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
