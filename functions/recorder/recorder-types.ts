// What the recorder's parts (the supervisor, its attempts, the finisher, the upkeep) share: the settings it was
// started with, its counters and the events it emits. A file of its own so that none of them imports another's.
import type { EventEmitter } from 'node:events';
import type { CameraAddress, RecorderSignals } from '../contracts/index.js';
import type { AudioMode, ContainerFormat } from './plan.js';
import type { Deletion, RetentionPolicy } from './retention.js';

export interface RecorderSettings {
  readonly device: string;
  readonly camera: CameraAddress;
  readonly out: string;
  readonly segmentSeconds: number;
  readonly format: ContainerFormat;
  readonly audio: AudioMode;
  readonly transport: 'tcp' | 'udp';
  readonly alignToClock: boolean;
  readonly watchdogSeconds: number;
  readonly retention: RetentionPolicy;
  readonly ffmpeg: string;
  readonly ffprobe: string;
}

export interface RecorderCounters {
  segmentsFinished: number;
  segmentsRecovered: number;
  bytesWritten: number;
  ffmpegRestarts: number;
  reconnects: number;
  retentionDeletions: number;
  /** Deleted below the archive's hard floor before they were archived (`hard-floor`): footage lost. */
  segmentsLost: number;
}

/** Events a recorder emits: the events module and metrics listen. */
export interface RecorderEvents extends RecorderSignals {
  deletion: [Deletion];
}

/** Where the parts report: the recorder's events and counters (one of each per recorder). */
export interface RecorderReports {
  readonly events: EventEmitter<RecorderEvents>;
  readonly counters: RecorderCounters;
}
