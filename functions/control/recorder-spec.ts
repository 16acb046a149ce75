import type { AudioMode, ContainerFormat } from '../contracts/index.js';
import type { RecordOnRequest } from './request.js';

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  readonly tolerationSeconds?: number;
}

/** Everything a recorder runs with, defaults filled in: what a backend starts and what it compares. */
export interface RecorderSpec {
  readonly device: string;
  /** The stream without credentials. */
  readonly url: string;
  readonly credentialsSecret: string;
  readonly segmentSeconds: number;
  readonly format: ContainerFormat;
  readonly audio: AudioMode;
  /** Relative to the volume root ('' is the root itself). */
  readonly storagePath: string;
  readonly pvc: string;
  /** Delete segments older than this (0: keep). */
  readonly retainHours: number;
  /**
   * Keep at most this much footage (0: no limit). Null until the backend fills it in: the kubernetes
   * backend takes RETAIN_OF_CAPACITY of the PVC's capacity, so retention is on by default.
   */
  readonly retainBytes: number | null;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly Toleration[];
  /** Upload finished segments to control's archive bucket, when control has one (functions/archive). */
  readonly archive: boolean;
}

export const DEFAULT_SEGMENT_SECONDS = 3600;
export const DEFAULT_FORMAT: ContainerFormat = 'mp4';
export const DEFAULT_AUDIO: AudioMode = 'auto';
/** Share of the PVC's capacity a recorder keeps by default; the free-space floor guards the rest. */
export const RETAIN_OF_CAPACITY = 0.9;

export const defaultCredentialsSecret = (device: string): string => `${device}-rtsp`;
export const defaultPvc = (device: string): string => `${device}-pvc`;

/** The request's settings with defaults; `url` is resolved by the backend (it may come from the EdgeDevice). */
export function specFromRequest(request: RecordOnRequest, url: string): RecorderSpec {
  return {
    device: request.device,
    url,
    credentialsSecret: request.credentialsSecret ?? defaultCredentialsSecret(request.device),
    segmentSeconds: request.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS,
    format: request.format ?? DEFAULT_FORMAT,
    audio: request.audio ?? DEFAULT_AUDIO,
    storagePath: request.storagePath ?? '',
    pvc: request.pvc ?? defaultPvc(request.device),
    retainHours: request.retainHours ?? 0,
    retainBytes: request.retainBytes ?? null,
    nodeSelector: request.nodeSelector ?? {},
    tolerations: request.tolerations ?? [],
    archive: request.archive ?? true,
  };
}

export interface SettingDifference {
  readonly field: keyof RecorderSpec;
  readonly running: unknown;
  readonly asked: unknown;
}

const COMPARED: ReadonlyArray<keyof RecorderSpec> = [
  'url',
  'credentialsSecret',
  'segmentSeconds',
  'format',
  'audio',
  'storagePath',
  'pvc',
  'retainHours',
  'retainBytes',
  'nodeSelector',
  'tolerations',
  'archive',
];

/**
 * The settings a request states that differ from the running recorder's. Fields the request leaves out
 * accept whatever runs, so a bare `{device}` means "make sure it records". `path` counts as stating `url`.
 */
export function differences(running: RecorderSpec, request: RecordOnRequest, asked: RecorderSpec): SettingDifference[] {
  const stated = (field: keyof RecorderSpec): boolean =>
    field === 'url' ? request.url !== undefined || request.path !== undefined : request[field as keyof RecordOnRequest] !== undefined;
  return COMPARED.filter((field) => stated(field) && canonical(running[field]) !== canonical(asked[field])).map((field) => ({
    field,
    running: running[field],
    asked: asked[field],
  }));
}

export function describeDifferences(diffs: readonly SettingDifference[]): string {
  return diffs.map((d) => `${d.field} (running ${JSON.stringify(d.running)}, asked ${JSON.stringify(d.asked)})`).join(', ');
}

/** JSON with sorted keys, so {a,b} equals {b,a}. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** Reads a spec back from its JSON form (the Deployment annotation); undefined when it is not one. */
export function parseStoredSpec(text: string | undefined): RecorderSpec | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<RecorderSpec>;
    // Recorders started before the archive existed archive like any other (the default).
    return typeof value.device === 'string' && typeof value.url === 'string' ? ({ archive: true, ...value } as RecorderSpec) : undefined;
  } catch {
    return undefined;
  }
}
