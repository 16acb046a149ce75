import type { Outcome } from './outcome.js';
import type { RecorderSpec } from './recorder-spec.js';
import type { RecordOffRequest, RecordOnRequest } from './request.js';

export type BackendKind = 'local' | 'kubernetes';

/** One recorder as the control functions report it. */
export interface RecorderInfo {
  readonly device: string;
  readonly backend: BackendKind;
  /**
   * recording: the recorder itself says so; not-ready: it runs but does not record (camera down, switched off
   * on its own API); starting: not asked or ready yet; stopping. Readiness stands in while it cannot be asked.
   */
  readonly state: 'starting' | 'recording' | 'not-ready' | 'stopping';
  readonly settings: RecorderSpec;
  readonly since: string | null;
  /** Backend detail: the Deployment and its pods, or the child process; `recorder`: its own /record/status. */
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface StartResult {
  /** false: the same recorder already ran and nothing was created. */
  readonly created: boolean;
  readonly recorder: RecorderInfo;
  /** Settings the backend could not honour, or conditions the caller should know about. */
  readonly warnings: readonly string[];
}

export interface StopResult {
  readonly device: string;
  readonly deleted: true;
  /** true once the recorder is gone (its last segment closed); false while it is still stopping. */
  readonly stopped: boolean;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** Where recorders run: Deployments in a cluster, or child processes on this machine. */
export interface RecorderBackend {
  readonly kind: BackendKind;
  /** Idempotent: `created: false` when the same recorder runs; a recorder with other settings is a conflict. */
  start(request: RecordOnRequest): Promise<Outcome<StartResult>>;
  /** `wait`: resolve once the recorder is gone (bounded by `timeoutSeconds`). */
  stop(request: RecordOffRequest): Promise<Outcome<StopResult>>;
  status(device: string): Promise<Outcome<RecorderInfo>>;
  list(): Promise<Outcome<readonly RecorderInfo[]>>;
  /** Stops what this process owns (local recorders); a no-op where recorders outlive it. */
  close(): Promise<void>;
}
