// How the recorder waits after an attempt failed: what each kind of failure shows and how fast it is retried
// (one table), how many refused logins stop it, and the wait itself, cut short when the camera answers again.
import { sleep, type BackoffPolicy } from '../lib/index.js';
import type { CameraAddress, RecorderState } from '../contracts/index.js';
import type { FailureKind } from './failure.js';
import { askRtsp } from './rtsp-check.js';

const RETRY: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

/**
 * What each kind of failure means, in one table: the state it shows, how fast to retry, and whether to poll
 * the camera with RTSP OPTIONS during the wait so that recording resumes as soon as it answers again.
 */
export const ON_FAILURE: Readonly<Record<FailureKind, { state: RecorderState; retry: BackoffPolicy; pollCamera: boolean }>> = {
  unreachable: { state: 'reconnecting', retry: RETRY, pollCamera: true },
  stalled: { state: 'reconnecting', retry: RETRY, pollCamera: true },
  'not-found': { state: 'reconnecting', retry: RETRY, pollCamera: false },
  media: { state: 'reconnecting', retry: RETRY, pollCamera: false },
  // Retried soon, but only until the login budget is spent: cameras lock the account after a few (see Recorder.supervise).
  unauthorized: { state: 'unauthorized', retry: { baseMs: 2000, maxMs: 10_000 }, pollCamera: false },
  disk: { state: 'error', retry: RETRY, pollCamera: false },
  'refused-plan': { state: 'error', retry: { baseMs: 60_000, maxMs: 600_000 }, pollCamera: false },
  // A web UI, TLS or garbage on the port: someone must fix the address; retried 30 s up to 10 min apart.
  'not-rtsp': { state: 'error', retry: { baseMs: 60_000, maxMs: 600_000 }, pollCamera: false },
};

/**
 * Failed logins (counted at the camera relay, see LoginBudget) after which the recorder sends no credentials and
 * stops trying until the next /record/on or restart: cameras lock the account (and, behind the forwarder's one
 * address, every viewer) after 3 to 5. Also how many refusals in a row stop it when it has no login to send.
 */
export const MAX_FAILED_LOGINS = 3;

/** Waits out the backoff, but returns early when an unreachable camera starts answering RTSP again. */
export async function waitForRetry(camera: CameraAddress, delayMs: number, pollCamera: boolean, signal: AbortSignal): Promise<void> {
  if (!pollCamera) return sleep(delayMs, signal);
  const deadline = Date.now() + delayMs;
  const { host, port, displayUrl } = camera;
  while (!signal.aborted && Date.now() < deadline) {
    await sleep(Math.min(1000, deadline - Date.now()), signal);
    if (signal.aborted || Date.now() >= deadline) return;
    // Back as RTSP: retry now. Something else answering: retry now too, and learn it is not-rtsp (no polling).
    if ((await askRtsp(host, port, displayUrl)).kind !== 'none') return;
  }
}
