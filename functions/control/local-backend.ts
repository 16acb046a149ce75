import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/index.js';
import type { RecorderBackend, RecorderInfo, StartResult, StopResult } from './backend.js';
import { LocalRecorder } from './local-recorder.js';
import { fail, succeed, type Outcome } from './outcome.js';
import { describeDifferences, differences, specFromRequest } from './recorder-spec.js';
import { reportedState } from './recorder-state.js';
import type { RecordOffRequest, RecordOnRequest } from './request.js';

export interface LocalBackendOptions {
  /** Recordings go to `<dataDir>/<storagePath>`, as `/data/<storagePath>` in a pod. */
  readonly dataDir: string;
  readonly node: string;
  readonly cli: string;
  /** Like a mounted Secret: `<secretsDir>/<credentialsSecret>/username` and `/password`. */
  readonly secretsDir?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  readonly startTimeoutSeconds: number;
  readonly stopTimeoutSeconds: number;
}

/** Request fields that only mean something in a cluster. */
const CLUSTER_ONLY = ['pvc', 'nodeSelector', 'tolerations'] as const;

/** Recorders as child processes of this one: `shifu-rtsp control --backend local`, no cluster needed. */
export class LocalBackend implements RecorderBackend {
  readonly kind = 'local' as const;
  private readonly recorders = new Map<string, LocalRecorder>();
  /** One operation per device at a time: on and off never interleave. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly o: LocalBackendOptions) {}

  private serial<T>(device: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(device) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.queues.set(device, settled);
    void settled.then(() => {
      if (this.queues.get(device) === settled) this.queues.delete(device);
    });
    return next;
  }

  start(request: RecordOnRequest): Promise<Outcome<StartResult>> {
    return this.serial(request.device, async () => {
      const running = this.recorders.get(request.device);
      if (running && running.state === 'stopping') {
        return fail('recorder_stopping', `the recorder of ${request.device} is stopping; retry in a few seconds`, { retryAfterSeconds: 2 });
      }
      if (running && running.state === 'running') {
        const diffs = differences(running.spec, request, specFromRequest(request, request.url ?? running.spec.url));
        if (diffs.length > 0) {
          return fail('recorder_conflict', `${request.device} already records with other settings: ${describeDifferences(diffs)}. POST /record/off first, then /record/on`, {
            details: { running: running.spec },
          });
        }
        return succeed({ created: false, recorder: await this.info(running), warnings: [] });
      }
      if (request.url === undefined) {
        return fail('bad_request', 'url: required with the local backend (there is no EdgeDevice to take it from)');
      }
      const asked = specFromRequest(request, request.url);
      const warnings = CLUSTER_ONLY.filter((f) => request[f] !== undefined).map((f) => `${f}: ignored by the local backend`);
      const credentials = this.credentials(asked.credentialsSecret, warnings);
      const out = path.join(this.o.dataDir, asked.storagePath);
      await mkdir(out, { recursive: true });
      const recorder = await LocalRecorder.spawn(asked, { node: this.o.node, cli: this.o.cli, out, credentials, env: this.o.env, log: this.o.log });
      this.recorders.set(asked.device, recorder);
      void recorder.exited.then((code) => {
        if (this.recorders.get(asked.device) !== recorder) return;
        this.recorders.delete(asked.device);
        if (recorder.state !== 'stopping') this.o.log.error({ device: asked.device, code }, 'recorder process exited on its own');
      });
      if (!(await recorder.waitHealthy(this.o.startTimeoutSeconds * 1000))) {
        await recorder.stop(5000);
        this.recorders.delete(asked.device);
        return fail('recorder_failed', `the recorder of ${asked.device} did not start: ${recorder.lastOutput().trim().split('\n').slice(-3).join(' | ')}`);
      }
      this.o.log.info({ device: asked.device, pid: recorder.pid, port: recorder.port, out }, 'recorder process started');
      return succeed({ created: true, recorder: await this.info(recorder), warnings });
    });
  }

  stop(request: RecordOffRequest): Promise<Outcome<StopResult>> {
    const recorder = this.recorders.get(request.device);
    if (!recorder || recorder.state === 'exited') {
      return Promise.resolve(fail('not_recording', `no recorder runs for ${request.device}`));
    }
    const timeoutMs = Math.min(request.timeoutSeconds ?? this.o.stopTimeoutSeconds, this.o.stopTimeoutSeconds) * 1000;
    const stopping = this.serial(request.device, async () => {
      if (recorder.state === 'exited') return { off: null, exitCode: null };
      const result = await recorder.stop(timeoutMs);
      if (this.recorders.get(request.device) === recorder) this.recorders.delete(request.device);
      this.o.log.info({ device: request.device, exitCode: result.exitCode }, 'recorder process stopped');
      return result;
    });
    if (request.wait !== true) {
      recorder.state = 'stopping';
      void stopping.catch((err: unknown) => this.o.log.error({ err, device: request.device }, 'stopping the recorder failed'));
      return Promise.resolve(succeed({ device: request.device, deleted: true, stopped: false, detail: { pid: recorder.pid } }));
    }
    return stopping.then((result) =>
      succeed({ device: request.device, deleted: true, stopped: true, detail: { pid: recorder.pid, exitCode: result.exitCode, off: result.off } }),
    );
  }

  async status(device: string): Promise<Outcome<RecorderInfo>> {
    const recorder = this.recorders.get(device);
    if (!recorder) return fail('not_recording', `no recorder runs for ${device}`);
    return succeed(await this.info(recorder));
  }

  async list(): Promise<Outcome<readonly RecorderInfo[]>> {
    const all = await Promise.all([...this.recorders.values()].map((r) => this.info(r)));
    return succeed(all.sort((a, b) => a.device.localeCompare(b.device)));
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.recorders.keys()].map((device) => this.stop({ device, wait: true }).catch(() => undefined)),
    );
  }

  private async info(recorder: LocalRecorder): Promise<RecorderInfo> {
    const status = await recorder.recorderStatus();
    return {
      device: recorder.spec.device,
      backend: 'local',
      // A child that does not answer (yet) is starting.
      state: reportedState(recorder.state === 'stopping', status, 'starting'),
      settings: recorder.spec,
      since: recorder.startedAt.toISOString(),
      detail: { pid: recorder.pid, api: recorder.baseUrl, out: path.join(this.o.dataDir, recorder.spec.storagePath), recorder: status ?? null },
    };
  }

  /** Reads `<secretsDir>/<secret>/username` and points the child at `/password`; neither is required. */
  private credentials(secret: string, warnings: string[]): { username?: string; passwordFile?: string } {
    if (this.o.secretsDir === undefined) return {};
    const dir = path.join(this.o.secretsDir, secret);
    const userFile = path.join(dir, 'username');
    const passwordFile = path.join(dir, 'password');
    const out: { username?: string; passwordFile?: string } = {};
    try {
      if (existsSync(userFile)) out.username = readFileSync(userFile, 'utf8').replace(/\r?\n$/, '');
    } catch {
      warnings.push(`credentialsSecret: cannot read ${userFile}`);
    }
    if (existsSync(passwordFile)) out.passwordFile = passwordFile;
    return out;
  }
}
