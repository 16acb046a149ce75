import { access } from 'node:fs/promises';
import type { CloudEvent } from 'cloudevents';
import type { Registry } from 'prom-client';
import { redact, type BackoffPolicy, type Logger } from '../lib/index.js';
import { absoluteSegmentPath, eventFoldersOf, journaledAfter, journalPathOf, lastJournaled, type ArchiveRecord, type Failure, type RecorderSignals, type RecorderState, type Segment } from '../contracts/index.js';
import { Dispatcher } from './dispatcher.js';
import type { DurableFs } from '../lib/index.js';
import { JournalCursor } from './journal-cursor.js';
import { registerEventMetrics } from './metrics.js';
import type { EventConfig } from './options.js';
import { Outbox } from './outbox.js';
import { segmentArchivedEvent } from './archive-event.js';
import { segmentFinishedEvent } from './segment-event.js';
import { Sink } from './sink.js';
import { eventSource } from './source.js';
import { recorderStateEvent, stateChange } from './state-event.js';

/** Announces a recorder's finished segments and state changes to the sink. */
export interface Announcer {
  /** The sink URL, or null when events are off. */
  readonly sink: string | null;
  /** Adds the event metrics to the recorder's Prometheus registry. */
  metrics(registry: Registry): void;
  /**
   * Queues `dev.shifu.rtsp.segment.archived.v1` durably (resolves once it is in the outbox; nothing without a sink).
   * The archive calls it before it journals the archive record, so a crash between the two announces it again.
   */
  archived(record: ArchiveRecord): Promise<void>;
  /** Queues what the recorder announced last, tries to deliver pending events (--event-flush-seconds), then stops. */
  close(): Promise<void>;
}

/** What the announcer needs of a recorder (the recorder module's `Recorder` is one): whose, where, and its signals. */
export interface AnnouncedRecorder {
  readonly settings: { readonly device: string; readonly out: string };
  readonly events: {
    on(event: 'segment', listener: (...args: RecorderSignals['segment']) => void): unknown;
    on(event: 'state', listener: (...args: RecorderSignals['state']) => void): unknown;
    off(event: 'segment', listener: (...args: RecorderSignals['segment']) => void): unknown;
    off(event: 'state', listener: (...args: RecorderSignals['state']) => void): unknown;
  };
  status(): { readonly state: RecorderState };
}

/** Knobs for tests and benchmarks; the command uses the defaults. */
export interface AnnouncerTuning {
  readonly backoff?: BackoffPolicy;
  readonly requestTimeoutMs?: number;
  readonly fs?: DurableFs;
}

/**
 * Listens to the recorder's `segment` and `state` events. Call it before `recorder.open()`, which announces
 * the segments crash recovery finishes (`recovered: true`).
 *
 * Without a sink nothing is queued (debug log only): the outbox would grow on the footage volume forever
 * with nobody to drain it, and the journal (segments.jsonl) already lists every segment.
 */
export async function attachEvents(recorder: AnnouncedRecorder, config: EventConfig, log: Logger, tuning: AnnouncerTuning = {}): Promise<Announcer> {
  const device = recorder.settings.device;
  const elog = log.child({ module: 'events' });
  if (!config.sink) return silentAnnouncer(recorder, elog);

  const source = eventSource(config.namespace, device);
  const folders = eventFoldersOf(recorder.settings.out, device);
  const outbox = await Outbox.open({
    dir: folders.outbox,
    deadLetterDir: folders.deadLetter,
    ...(tuning.fs ? { fs: tuning.fs } : {}),
  });
  const sink = new Sink({
    url: config.sink,
    mode: config.eventMode,
    extensions: config.ceOverrides ?? {},
    ...(tuning.requestTimeoutMs ? { timeoutMs: tuning.requestTimeoutMs } : {}),
  });
  const dispatcher = new Dispatcher({ outbox, sink, log: elog, rescanMs: config.outboxRescanSeconds * 1000, ...(tuning.backoff ? { backoff: tuning.backoff } : {}) });
  const cursor = await JournalCursor.open(folders.cursor, tuning.fs);
  const enqueue = async (event: CloudEvent<unknown>): Promise<void> => {
    await outbox.enqueue(event);
    dispatcher.wake();
  };

  // One feed: the journal. The recorder's `segment` signal says only up to which number the journal's segments
  // are finished (journaled, then moved to their names); the segments themselves are read from the journal, from
  // the cursor on, in order, so each is announced once and as the journal says. Read from the end back to the
  // cursor: a journal of years costs what one of a day does.
  const journalPath = journalPathOf(recorder.settings.out, device);
  const last = (await lastJournaled(journalPath))?.sequence ?? 0;
  if (cursor.sequence === null || cursor.sequence > last) {
    // First start with a sink (the past is not news), or the journal was reset: begin at its end.
    if (cursor.sequence !== null) elog.warn({ cursor: cursor.sequence, journal: last }, 'journal is behind the event cursor; starting over at its end');
    await cursor.write(last);
  }
  /** Queues the journal's segments after the cursor up to `upTo`, the newest the recorder said is finished. */
  const follow = async (upTo: number): Promise<number> => {
    let queued = 0;
    for (const segment of await journaledAfter(journalPath, cursor.sequence ?? last)) {
      if (segment.sequence > upTo) break;
      // Retention may have deleted it meanwhile: announcing a missing file helps nobody.
      const present = await access(absoluteSegmentPath(recorder.settings.out, segment.file)).then(
        () => true,
        () => false,
      );
      // A failed enqueue throws before the cursor moves: the next signal, or the next start, tries it again.
      if (present) {
        await enqueue(segmentFinishedEvent(segment, source));
        queued++;
      }
      await cursor.write(segment.sequence);
    }
    return queued;
  };
  // At start, everything journaled before it is finished.
  const replayed = await follow(last);
  if (replayed > 0) elog.info({ replayed }, 'queued events for journaled segments that had none');

  let chain: Promise<void> = Promise.resolve();
  const queue = (what: string, work: () => Promise<unknown>): void => {
    chain = chain.then(work).then(
      () => undefined,
      (err: unknown) => elog.error({ err, what }, 'could not queue event'),
    );
  };
  let previous: RecorderState = recorder.status().state;
  // Each signal reads only up to its own segment, so its event keeps its place among the state events.
  const onSegment = (segment: Segment): void => queue(segment.file, () => follow(segment.sequence));
  const onState = (state: RecorderState, failure: Failure | null): void => {
    const change = stateChange(previous, state);
    const transition = { device, change, previous, next: state, failure, at: new Date() };
    previous = state;
    if (transition.change === null) return;
    const event = recorderStateEvent({ ...transition, change: transition.change }, source);
    queue(`state ${state}`, () => enqueue(event));
  };
  recorder.events.on('segment', onSegment);
  recorder.events.on('state', onState);
  dispatcher.start();
  elog.info({ sink: redact(config.sink), mode: config.eventMode, source, pending: outbox.size }, 'announcing segments');

  return {
    sink: config.sink,
    archived: (record) => enqueue(segmentArchivedEvent(record, source)),
    metrics(registry) {
      registerEventMetrics(registry, {
        device,
        pending: () => outbox.size,
        oldestEnqueuedAt: () => outbox.oldestEnqueuedAt(),
        delivered: () => dispatcher.counters.delivered,
        retried: () => dispatcher.counters.retried,
        refused: () => dispatcher.counters.refused,
        deadLettered: () => dispatcher.counters.deadLettered,
        sinkGone: () => dispatcher.sinkGone,
      });
    },
    async close() {
      recorder.events.off('segment', onSegment);
      recorder.events.off('state', onState);
      await chain;
      await dispatcher.close(config.eventFlushSeconds * 1000);
      elog.info({ pending: outbox.size, delivered: dispatcher.counters.delivered }, 'event delivery stopped');
    },
  };
}

function silentAnnouncer(recorder: AnnouncedRecorder, log: Logger): Announcer {
  const onSegment = (segment: Segment): void => log.debug({ file: segment.file }, 'no sink configured; segment not announced');
  recorder.events.on('segment', onSegment);
  log.info('no sink configured (--sink / K_SINK): segment events are off');
  return {
    sink: null,
    archived: async () => undefined,
    metrics(registry) {
      registerEventMetrics(registry, {
        device: recorder.settings.device,
        pending: () => 0,
        oldestEnqueuedAt: () => null,
        delivered: () => 0,
        retried: () => 0,
        refused: () => 0,
        deadLettered: () => 0,
        sinkGone: () => false,
      });
    },
    async close() {
      recorder.events.off('segment', onSegment);
    },
  };
}
