// Sample subscriber: a functions-framework CloudEvent function that keeps an index of finished segments.
//   functions-framework --target=segmentIndex --signature-type=cloudevent --source=dist/functions/subscriber/index.js
import { cloudEvent } from '@google-cloud/functions-framework';
import type { CloudEventV1 } from 'cloudevents';
import { SEGMENT_FINISHED_TYPE } from '../contracts/events.js';
import { parseAnnouncedEvent } from '../contracts/event-receive.js';
import { SegmentIndex } from './segment-index.js';

export { SegmentIndex } from './segment-index.js';

export const DEFAULT_INDEX_FILE = '/data/index.jsonl';

const indexes = new Map<string, SegmentIndex>();

/** One index per file, so its dedup memory lives as long as the process. */
export function segmentIndexFor(file: string): SegmentIndex {
  let index = indexes.get(file);
  if (!index) {
    index = new SegmentIndex(file);
    indexes.set(file, index);
  }
  return index;
}

export type IndexOutcome = 'indexed' | 'duplicate' | 'ignored';

/**
 * Validates the event (CloudEvents 1.0, our type, the zod schema of its data) and appends it to the index
 * unless its id is there. Other event types are acknowledged and skipped: retrying them cannot help.
 * An invalid event throws, which functions-framework answers with 500, so the Broker retries and dead-letters it.
 */
export async function indexSegmentEvent(event: CloudEventV1<unknown>, file: string = process.env.INDEX_FILE || DEFAULT_INDEX_FILE): Promise<IndexOutcome> {
  const announced = parseAnnouncedEvent(event);
  if (announced.type !== SEGMENT_FINISHED_TYPE) return 'ignored';
  return (await segmentIndexFor(file).add(announced.event)) ? 'indexed' : 'duplicate';
}

/** The functions-framework target `segmentIndex`. */
export async function segmentIndex(event: CloudEventV1<unknown>): Promise<void> {
  try {
    const outcome = await indexSegmentEvent(event);
    console.log(JSON.stringify({ level: 'info', component: 'subscriber', id: event.id, type: event.type, subject: event.subject, outcome }));
  } catch (err) {
    console.log(JSON.stringify({ level: 'error', component: 'subscriber', id: event.id, type: event.type, error: (err as Error).message }));
    throw err;
  }
}

cloudEvent('segmentIndex', segmentIndex);
