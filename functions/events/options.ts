import { z } from 'zod';
import { DNS_1123_LABEL, zSeconds, type ConfigOf, type OptionSpecs } from '../lib/index.js';
import { zCeOverrides } from './overrides.js';
import { EVENT_MODES } from './wire.js';

/** The event settings of the recorder command; merged into its options. */
export const eventOptions = {
  sink: {
    flag: 'sink',
    env: ['K_SINK'],
    schema: z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' }).optional(),
    description: 'where CloudEvents go (a Knative SinkBinding sets K_SINK); unset: no events',
  },
  eventMode: {
    flag: 'event-mode',
    env: ['EVENT_MODE'],
    schema: z.enum(EVENT_MODES),
    default: 'binary',
    description: 'CloudEvents HTTP content mode: binary (ce-* headers) | structured (one JSON document)',
  },
  namespace: {
    flag: 'namespace',
    env: ['POD_NAMESPACE'],
    schema: z
      .string()
      .regex(DNS_1123_LABEL, 'expected a Kubernetes namespace: lowercase letters, digits and -, at most 63'),
    default: 'default',
    description: 'namespace named in the event source /shifu-rtsp/namespaces/<namespace>/devices/<device>',
  },
  ceOverrides: {
    flag: 'ce-overrides',
    env: ['K_CE_OVERRIDES'],
    schema: zCeOverrides.optional(),
    description: 'JSON {"extensions":{"name":"value"}} merged into every event (a SinkBinding sets K_CE_OVERRIDES)',
  },
  eventFlushSeconds: {
    flag: 'event-flush-seconds',
    env: ['EVENT_FLUSH_SECONDS'],
    schema: zSeconds(0, 300),
    default: '5',
    description: 'on shutdown, how long to try to deliver pending events; the rest is sent after the next start',
  },
  outboxRescanSeconds: {
    flag: 'outbox-rescan-seconds',
    env: ['EVENT_OUTBOX_RESCAN_SECONDS'],
    schema: zSeconds(0, 3600),
    default: '60',
    description: 'how often the outbox folder is read again, so that dead letters moved back are delivered without a restart (0: never)',
  },
} satisfies OptionSpecs;

export type EventConfig = ConfigOf<typeof eventOptions>;
