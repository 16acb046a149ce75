// The subscriber side: an incoming CloudEvent checked against the spec, our types and their data schemas. An entry
// point of its own, not in index.ts: it loads the CloudEvents SDK (about 11 MiB), which readers of the other
// contracts never need.
import { CloudEvent, type CloudEventV1 } from 'cloudevents';
import { z } from 'zod';
import {
  RECORDER_STATE_TYPE,
  SEGMENT_ARCHIVED_TYPE,
  SEGMENT_FINISHED_TYPE,
  recorderStateDataSchema,
  segmentArchivedDataSchema,
  segmentFinishedDataSchema,
  type RecorderStateData,
  type SegmentArchivedData,
  type SegmentFinishedData,
} from './events.js';

export type AnnouncedEvent =
  | { readonly type: typeof SEGMENT_FINISHED_TYPE; readonly event: CloudEvent<unknown>; readonly data: SegmentFinishedData }
  | { readonly type: typeof RECORDER_STATE_TYPE; readonly event: CloudEvent<unknown>; readonly data: RecorderStateData }
  | { readonly type: typeof SEGMENT_ARCHIVED_TYPE; readonly event: CloudEvent<unknown>; readonly data: SegmentArchivedData };

/** Not one of our events, or its data breaks the schema; `field: rule` in the message. */
export class EventRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventRejectedError';
  }
}

/** Validates an event (an SDK instance or the plain object functions-framework hands over) and parses its data. */
export function parseAnnouncedEvent(input: CloudEvent<unknown> | CloudEventV1<unknown>): AnnouncedEvent {
  const event = input instanceof CloudEvent ? input : new CloudEvent<unknown>(input);
  event.validate();
  const data: unknown = typeof event.data === 'string' ? safeJson(event.data) : event.data;
  if (event.type === SEGMENT_FINISHED_TYPE) return { type: SEGMENT_FINISHED_TYPE, event, data: check(segmentFinishedDataSchema, data) };
  if (event.type === RECORDER_STATE_TYPE) return { type: RECORDER_STATE_TYPE, event, data: check(recorderStateDataSchema, data) };
  if (event.type === SEGMENT_ARCHIVED_TYPE) return { type: SEGMENT_ARCHIVED_TYPE, event, data: check(segmentArchivedDataSchema, data) };
  throw new EventRejectedError(`unexpected event type ${JSON.stringify(event.type)}`);
}

function check<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const result = schema.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `data.${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new EventRejectedError(issues);
  }
  return result.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
