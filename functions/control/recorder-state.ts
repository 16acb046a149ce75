import { z } from 'zod';
import type { RecorderInfo } from './backend.js';

/**
 * What control reads of a recorder's own `GET /record/status` (the rest is passed on as it came). The state
 * is any string: a newer recorder's state control does not know is "not recording", not a failure to ask.
 */
const recorderAnswerSchema = z.looseObject({ state: z.string(), recording: z.boolean() });
export type RecorderAnswer = z.infer<typeof recorderAnswerSchema>;

/** A recorder's /record/status body, or undefined when it is not one. */
export function parseRecorderAnswer(body: unknown): RecorderAnswer | undefined {
  const parsed = recorderAnswerSchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Control's state of one recorder, one rule for every backend: stopping is stopping; else the recorder's own
 * word decides, so one switched off through its own API (idle, and still Ready) is not `recording`; and while
 * it cannot be asked, `unasked`: what the backend knows without it (a child not answering yet, readiness).
 */
export function reportedState(stopping: boolean, recorder: RecorderAnswer | undefined, unasked: RecorderInfo['state']): RecorderInfo['state'] {
  if (stopping) return 'stopping';
  if (recorder === undefined) return unasked;
  return recorder.state === 'recording' ? 'recording' : 'not-ready';
}
