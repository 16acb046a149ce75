import { CloudEvent, HTTP } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import {
  RECORDER_STATE_TYPE,
  SEGMENT_FINISHED_TYPE,
  eventOptions,
  eventSource,
  fromHttpMessage,
  parseAnnouncedEvent,
  recorderStateDataSchema,
  recorderStateEvent,
  segmentFinishedDataSchema,
  segmentFinishedEvent,
  stateChange,
  toHttpMessage,
  withOverrides,
  zCeOverrides,
} from '../../functions/events/index.js';
import { ConfigError, parseConfig } from '../../functions/lib/index.js';
import type { RecorderState, Segment } from '../../functions/recorder/index.js';
import { segmentFixture } from '../support/segment.js';

const segment: Segment = segmentFixture(
  { device: 'cam1', start: '2026-11-24T10:00:00.000Z', seconds: 3600.12 },
  { sequence: 42, bytes: 123_456_789, sha256: 'ab'.repeat(32), video: { codec: 'h264', width: 1920, height: 1080, fps: 25 }, audio: { codec: 'aac', transcodedFrom: 'pcm_alaw' } },
);
const source = eventSource('video', 'cam1');

describe('segment finished event', () => {
  it('carries the type, source, subject, time and a data object that passes the exported schema', () => {
    const event = segmentFinishedEvent(segment, source);
    expect(event.type).toBe('dev.shifu.rtsp.segment.finished.v1');
    expect(event.source).toBe('/shifu-rtsp/namespaces/video/devices/cam1');
    expect(event.subject).toBe('cam1/cam1_20261124T100000Z.mp4');
    expect(event.time).toBe(segment.endTime);
    expect(event.datacontenttype).toBe('application/json');
    expect(event.validate()).toBe(true);
    const data = segmentFinishedDataSchema.parse(event.data);
    expect(data).toMatchObject({ device: 'cam1', file: segment.file, bytes: segment.bytes, sha256: segment.sha256, sequence: 42 });
    expect(data.audio).toEqual({ codec: 'aac', transcodedFrom: 'pcm_alaw' });
    // The pod's mount path means nothing to a subscriber.
    expect(JSON.stringify(event.data)).not.toContain('/data/cam1');
  });

  it('has an id that is the same on every build for one segment and differs for another', () => {
    const a = segmentFinishedEvent(segment, source).id;
    expect(segmentFinishedEvent({ ...segment }, source).id).toBe(a);
    expect(segmentFinishedEvent({ ...segment, sequence: 43 }, source).id).not.toBe(a);
    expect(segmentFinishedEvent({ ...segment, sha256: 'cd'.repeat(32) }, source).id).not.toBe(a);
  });

  it('accepts a segment without audio or video, and with recovered: true', () => {
    const event = segmentFinishedEvent({ ...segment, audio: null, video: null, recovered: true, gapBeforeSeconds: 12.5 }, source);
    const data = segmentFinishedDataSchema.parse(event.data);
    expect(data.audio).toBeNull();
    expect(data.recovered).toBe(true);
  });

  it('rejects data that breaks the schema, naming the field', () => {
    const bad = { ...segmentFinishedEvent(segment, source).data, sha256: 'nothex', file: '/abs/path.mp4' };
    const result = segmentFinishedDataSchema.safeParse(bad);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['file', 'sha256']);
  });
});

describe('HTTP wire mapping, read back by the SDK receiver', () => {
  for (const mode of ['binary', 'structured'] as const) {
    it(`round-trips in ${mode} mode with K_CE_OVERRIDES extensions`, () => {
      const event = withOverrides(segmentFinishedEvent(segment, source), { team: 'video', site: 'plant7' });
      const message = toHttpMessage(event, mode);
      if (mode === 'binary') {
        expect(message.headers['ce-id']).toBe(event.id);
        expect(message.headers['ce-team']).toBe('video');
        expect(message.headers['content-type']).toMatch(/^application\/json/);
      } else {
        expect(message.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
        expect(JSON.parse(message.body)).toMatchObject({ id: event.id, team: 'video', specversion: '1.0' });
      }
      const received = HTTP.toEvent({ headers: message.headers, body: message.body }) as CloudEvent<unknown>;
      expect(received.validate()).toBe(true);
      expect(received.id).toBe(event.id);
      expect(received.team).toBe('video');
      expect(received.site).toBe('plant7');
      const announced = parseAnnouncedEvent(fromHttpMessage(message.headers, message.body));
      expect(announced.type).toBe(SEGMENT_FINISHED_TYPE);
      expect(announced.data).toEqual(segmentFinishedDataSchema.parse(event.data));
    });
  }

  it('refuses an event of another type and a segment event with broken data', () => {
    const other = new CloudEvent({ type: 'com.example.other', source: '/x', id: '1', data: {} });
    expect(() => parseAnnouncedEvent(other)).toThrow(/unexpected event type/);
    const broken = segmentFinishedEvent(segment, source).cloneWith({ data: { ...segment, bytes: -1 } });
    expect(() => parseAnnouncedEvent(broken)).toThrow(/data\.bytes/);
  });
});

describe('recorder state events', () => {
  const cases: Array<[RecorderState, RecorderState, string | null]> = [
    ['idle', 'connecting', null],
    ['connecting', 'recording', 'started'],
    ['reconnecting', 'recording', 'started'],
    ['recording', 'reconnecting', 'interrupted'],
    ['recording', 'unauthorized', 'interrupted'],
    ['recording', 'error', 'interrupted'],
    ['connecting', 'reconnecting', null],
    ['reconnecting', 'unauthorized', null],
    ['recording', 'idle', 'stopped'],
    ['reconnecting', 'idle', 'stopped'],
    ['connecting', 'idle', 'stopped'],
  ];
  it.each(cases)('%s -> %s is %s', (previous, next, change) => {
    expect(stateChange(previous, next)).toBe(change);
  });

  it('builds a valid state event with the failure as reason and message', () => {
    const event = recorderStateEvent(
      {
        device: 'cam1',
        change: 'interrupted',
        previous: 'recording',
        next: 'reconnecting',
        failure: { kind: 'unreachable', message: 'Connection refused' },
        at: new Date('2026-11-24T10:00:00Z'),
      },
      source,
    );
    expect(event.type).toBe(RECORDER_STATE_TYPE);
    expect(event.validate()).toBe(true);
    expect(recorderStateDataSchema.parse(event.data)).toEqual({
      device: 'cam1',
      change: 'interrupted',
      state: 'reconnecting',
      previousState: 'recording',
      reason: 'unreachable',
      message: 'Connection refused',
      at: '2026-11-24T10:00:00.000Z',
    });
  });
});

describe('event settings', () => {
  it('reads the sink and overrides a SinkBinding injects, and the event mode', () => {
    const { config, sources } = parseConfig(eventOptions, [], {
      K_SINK: 'http://broker-ingress.knative-eventing.svc.cluster.local/video/default',
      K_CE_OVERRIDES: '{"extensions":{"team":"video","priority":2}}',
      EVENT_MODE: 'structured',
      POD_NAMESPACE: 'video',
    });
    expect(config.sink).toBe('http://broker-ingress.knative-eventing.svc.cluster.local/video/default');
    expect(config.ceOverrides).toEqual({ team: 'video', priority: '2' });
    expect(config.eventMode).toBe('structured');
    expect(config.namespace).toBe('video');
    expect(sources.sink).toBe('K_SINK');
  });

  it('has no sink, binary mode and namespace default when nothing is set; flags win over env', () => {
    expect(parseConfig(eventOptions, [], {}).config).toMatchObject({ sink: undefined, eventMode: 'binary', namespace: 'default' });
    const { config } = parseConfig(eventOptions, ['--sink', 'http://127.0.0.1:9/', '--event-mode', 'binary'], {
      K_SINK: 'http://other/',
      EVENT_MODE: 'structured',
    });
    expect(config).toMatchObject({ sink: 'http://127.0.0.1:9/', eventMode: 'binary' });
  });

  it.each([
    [{ K_SINK: 'ftp://x/' }, /K_SINK.*http/],
    [{ EVENT_MODE: 'batch' }, /EVENT_MODE/],
    [{ K_CE_OVERRIDES: '{extensions' }, /K_CE_OVERRIDES.*JSON/],
    [{ K_CE_OVERRIDES: '{"extensions":{"Team":"x"}}' }, /K_CE_OVERRIDES.*lowercase/],
    [{ K_CE_OVERRIDES: '{"extensions":{"id":"x"}}' }, /K_CE_OVERRIDES.*core/],
    [{ K_CE_OVERRIDES: '{"extensions":{"site":"Zürich"}}' }, /K_CE_OVERRIDES.*ASCII/],
  ])('stops at start-up on a bad value %j', (env, message) => {
    expect(() => parseConfig(eventOptions, [], env)).toThrow(ConfigError);
    expect(() => parseConfig(eventOptions, [], env)).toThrow(message);
  });

  it('parses an empty overrides object to no extensions', () => {
    expect(zCeOverrides.parse('{}')).toEqual({});
  });

  it('reads the archived event a subscriber gets: where the segment object now is, over the wire, with its data checked', () => {
    const data = { device: 'cam1', file: 'cam1/cam1_20261124T100000Z.mp4', sha256: 'ab'.repeat(32), bucket: 'footage', key: 'ns/cam1/cam1_20261124T100000Z.mp4', etag: '"e1"', at: '2026-11-24T11:00:05.000Z' };
    const event = new CloudEvent({ specversion: '1.0', type: 'dev.shifu.rtsp.segment.archived.v1', source: '/shifu-rtsp/namespaces/ns/devices/cam1', id: 'cam1.archived.abababababababab', datacontenttype: 'application/json', data });
    const message = toHttpMessage(event, 'binary');
    const announced = parseAnnouncedEvent(fromHttpMessage(message.headers, message.body));
    expect([announced.type, announced.data]).toEqual(['dev.shifu.rtsp.segment.archived.v1', data]);
    expect(() => parseAnnouncedEvent(event.cloneWith({ data: { ...data, sha256: 'x' } }))).toThrow(/data\.sha256/);
  });
});
