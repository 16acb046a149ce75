// Waiting for a live stream's first media (the HLS window's first segment, the RTP source's codecs): one rule
// for both. It resolves once the media is there, fails with the stream's own failure, with 503 once the stream
// closed, and with 504 when the camera sent no video in time (or with `onTimeout()`'s answer: a blocking playlist
// reload that times out is not the camera's failure). `waiters` is the stream's set of wake-ups, which it calls
// whenever its progress changes.
import { HttpError } from '../lib/index.js';

export interface StreamProgress<T> {
  /** The media waited for, once there. */
  readonly media: T | undefined;
  readonly failure: HttpError | undefined;
  readonly ended: boolean;
}

export async function firstMedia<T>(key: string, waiters: Set<() => void>, timeoutMs: number, progress: () => StreamProgress<T>, onTimeout?: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        const now = progress();
        if (now.media !== undefined) resolve(now.media);
        else if (now.failure) reject(now.failure);
        else if (now.ended) reject(new HttpError(503, `stream: ${key} closed`, 'stream_closed'));
        else return false;
        return true;
      };
      if (check()) return;
      wake = () => void check();
      waiters.add(wake);
      timer = setTimeout(() => (onTimeout ? resolve(onTimeout()) : reject(new HttpError(504, `camera: no video from ${key} within ${timeoutMs / 1000} s`, 'camera_timeout'))), timeoutMs);
    });
  } finally {
    clearTimeout(timer);
    if (wake) waiters.delete(wake);
  }
}
