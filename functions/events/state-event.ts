import { randomUUID } from 'node:crypto';
import { CloudEvent } from 'cloudevents';
import { redact } from '../lib/index.js';
import type { Failure, RecorderState } from '../contracts/index.js';
import { RECORDER_STATE_TYPE, type RecorderStateChange, type RecorderStateData } from '../contracts/index.js';

const INTERRUPTIONS: ReadonlySet<RecorderState> = new Set(['reconnecting', 'unauthorized', 'error']);

/**
 * Which state transitions are news for subscribers; every other one (connecting, or moving between failure
 * states while not recording) is left out, so that subscribers see started (interrupted started)* stopped.
 * - entering `recording`, from any state (first start or resumption after an interruption): started
 * - entering `idle`: recording was switched off (POST /record/off or SIGTERM): stopped, also when it never got to record
 * - entering `reconnecting`, `unauthorized` or `error` from `recording`: interrupted (footage has a gap from here)
 */
export function stateChange(previous: RecorderState, next: RecorderState): RecorderStateChange | null {
  if (previous === next) return null;
  if (next === 'recording') return 'started';
  if (next === 'idle') return 'stopped';
  if (previous === 'recording' && INTERRUPTIONS.has(next)) return 'interrupted';
  return null;
}

export interface StateTransition {
  readonly device: string;
  readonly change: RecorderStateChange;
  readonly previous: RecorderState;
  readonly next: RecorderState;
  readonly failure: Failure | null;
  readonly at: Date;
}

/** `dev.shifu.rtsp.recorder.state.v1`; the id is random but stored with the event, so redeliveries repeat it. */
export function recorderStateEvent(t: StateTransition, source: string): CloudEvent<RecorderStateData> {
  const data: RecorderStateData = {
    device: t.device,
    change: t.change,
    state: t.next,
    previousState: t.previous,
    ...(t.failure ? { reason: t.failure.kind, message: redact(t.failure.message) } : {}),
    at: t.at.toISOString(),
  };
  return new CloudEvent<RecorderStateData>({
    specversion: '1.0',
    id: randomUUID(),
    type: RECORDER_STATE_TYPE,
    source,
    subject: t.device,
    time: data.at,
    datacontenttype: 'application/json',
    data,
  });
}
