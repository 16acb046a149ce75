// Where each device's live view is: the forwarder's live port and the camera path on it. From a list given
// at start-up (PLAYBACK_LIVE_URLS: a local demo, tests) or from the EdgeDevices (live-edgedevices.ts).
import { z } from 'zod';
import { DNS_1123_LABEL, HttpError } from '../lib/index.js';

/** One device's live view: `base` is the forwarder's live URL of its camera path (`http://host:8889/Streaming/Channels/101`). */
export interface LiveCamera {
  readonly device: string;
  /** Origin and camera path, no trailing slash; the camera's own query (a Dahua channel) in its search. */
  readonly base: URL;
}

export interface LiveDirectory {
  /** Every device with live view, by name; throws (503) when the list cannot be known, never a short list. */
  cameras(): readonly LiveCamera[];
  /** One device's live view; 404 naming the device when it has none. */
  camera(device: string): LiveCamera;
  close(): Promise<void>;
}

/** A live base URL: http(s), with a camera path, and no login in it (the token goes in a header). */
export function parseLiveBase(text: string, where: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${where}: ${JSON.stringify(text.slice(0, 200))} is not a URL (e.g. http://127.0.0.1:8889/Streaming/Channels/101)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${where}: ${url.protocol} is not http: or https:`);
  if (url.username !== '' || url.password !== '') throw new Error(`${where}: a URL with a login; the live token goes in PLAYBACK_LIVE_TOKEN`);
  if (url.hash !== '') throw new Error(`${where}: a URL with a fragment`);
  const path = url.pathname.replace(/\/+$/, '');
  if (path === '') throw new Error(`${where}: the URL names no camera path (e.g. http://127.0.0.1:8889/Streaming/Channels/101)`);
  url.pathname = path;
  return url;
}

/** `cam1=http://127.0.0.1:8889/stream,cam2=...`: device names (DNS-1123 labels) to live base URLs. */
export const zLiveUrls = z
  .string()
  .transform((text, ctx): LiveCamera[] => {
    const cameras: LiveCamera[] = [];
    for (const entry of text.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
      const eq = entry.indexOf('=');
      const device = eq < 0 ? '' : entry.slice(0, eq);
      if (!DNS_1123_LABEL.test(device)) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry.slice(0, 100))}: expected DEVICE=URL, DEVICE a device name (DNS-1123 label)` });
        return z.NEVER;
      }
      if (cameras.some((c) => c.device === device)) {
        ctx.addIssue({ code: 'custom', message: `${device} is listed twice` });
        return z.NEVER;
      }
      try {
        cameras.push({ device, base: parseLiveBase(entry.slice(eq + 1), device) });
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }
    return cameras;
  });

/** A device without live view: 404 naming it. */
export const noLiveView = (device: string): HttpError =>
  new HttpError(404, `device: ${device} has no live view (not in PLAYBACK_LIVE_URLS, or no EdgeDevice of that name)`, 'not_found');

/** The list given at start-up. */
export function staticLiveDirectory(cameras: readonly LiveCamera[]): LiveDirectory {
  const byName = new Map(cameras.map((c) => [c.device, c]));
  return {
    cameras: () => cameras,
    camera: (device) => {
      const found = byName.get(device);
      if (!found) throw noLiveView(device);
      return found;
    },
    close: async () => undefined,
  };
}

