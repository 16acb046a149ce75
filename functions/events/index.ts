// CloudEvents for finished segments and recorder state: event model, HTTP wire mapping, sink transport, durable outbox.
export {
  EVENT_TYPES,
  RECORDER_STATE_CHANGES,
  RECORDER_STATE_TYPE,
  SEGMENT_ARCHIVED_TYPE,
  SEGMENT_FINISHED_TYPE,
  recorderStateDataSchema,
  segmentArchivedDataSchema,
  segmentFinishedDataSchema,
  type EventType,
  type RecorderStateChange,
  type RecorderStateData,
  type SegmentArchivedData,
  type SegmentFinishedData,
} from '../contracts/index.js';
export { segmentArchivedEvent } from './archive-event.js';
export { eventSource } from './source.js';
export { segmentEventId, segmentFinishedData, segmentFinishedEvent } from './segment-event.js';
export { recorderStateEvent, stateChange, type StateTransition } from './state-event.js';
export { withOverrides, zCeOverrides, type Extensions } from './overrides.js';
export { EVENT_MODES, fromHttpMessage, toHttpMessage, type EventMode, type HttpMessage } from './wire.js';
export { parseRetryAfter, RETRY_AFTER_CAP_MS } from './retry-after.js';
export { classifyResponse, Sink, type DeliveryOutcome, type SinkOptions } from './sink.js';
export { Outbox, type DeadLetterReason, type OutboxEntry, type OutboxOptions } from './outbox.js';
export { DELIVERY_BACKOFF, Dispatcher, type DeliveryCounters, type DispatcherOptions } from './dispatcher.js';
export { JournalCursor } from './journal-cursor.js';
export { registerEventMetrics, type EventMetricsSource } from './metrics.js';
export { eventOptions, type EventConfig } from './options.js';
export { attachEvents, type Announcer, type AnnouncerTuning } from './announcer.js';
export { EventRejectedError, parseAnnouncedEvent, type AnnouncedEvent } from '../contracts/event-receive.js';
export { startLocalSink, type LocalSink, type LocalSinkOptions } from './local-sink.js';
