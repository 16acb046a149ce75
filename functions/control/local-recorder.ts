import { spawn, type ChildProcess } from 'node:child_process';
import { freeLoopbackPort, redact, sleep, type Logger } from '../lib/index.js';
import { PASSWORD_ENV_NAMES, RECORDER_ENV, recorderEnvName as envName, type RecorderEnvSetting } from '../contracts/index.js';
import type { RecorderSpec } from './recorder-spec.js';
import { askRecorderStatus } from './recorder-client.js';
import type { RecorderAnswer } from './recorder-state.js';

export interface LocalRecorderOptions {
  /** The Node binary and the built CLI (`dist/functions/cli.js`). */
  readonly node: string;
  readonly cli: string;
  /** FileSavePath of the child. */
  readonly out: string;
  readonly credentials: { readonly username?: string; readonly passwordFile?: string };
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
}

export type ProcessState = 'running' | 'stopping' | 'exited';

/** Output kept to explain a child that died at start. */
const TAIL_BYTES = 4096;

/** Recorder settings each request decides; other recorder variables (RETAIN_HOURS, K_SINK...) pass down to every child. */
const PER_RECORDER: readonly RecorderEnvSetting[] = ['url', 'username', 'passwordFile', 'out', 'device', 'segmentSeconds', 'format', 'audio', 'retainHours', 'retainBytes', 'httpListen', 'idle'];

/** The control's environment minus what must not leak into a recorder: per-recorder settings and the token. */
function inheritedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const drop = new Set<string>(['CONTROL_TOKEN', ...PASSWORD_ENV_NAMES, envName('apiToken')]);
  for (const key of PER_RECORDER) for (const name of RECORDER_ENV[key]) drop.add(name);
  return Object.fromEntries(Object.entries(env).filter(([name]) => !drop.has(name)));
}

/** One `shifu-rtsp recorder` child process with its own HTTP port on the loopback interface. */
export class LocalRecorder {
  state: ProcessState = 'running';
  readonly startedAt = new Date();
  private tail = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly spec: RecorderSpec,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly log: Logger,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => this.keep(chunk, process.stdout));
    child.stderr?.on('data', (chunk: Buffer) => this.keep(chunk, process.stderr));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.state = 'exited';
        if (signal !== null) log.warn({ device: spec.device, signal }, 'recorder process killed');
        resolve(code);
      });
    });
  }

  static async spawn(spec: RecorderSpec, o: LocalRecorderOptions): Promise<LocalRecorder> {
    const port = await freeLoopbackPort();
    // Settings go in the environment, never argv: `ps` shows argv to every user.
    const inherited = inheritedEnv(o.env);
    // Opted out: none of control's archive settings (an endpoint alone would be a configuration error).
    if (!spec.archive) for (const name of Object.keys(inherited)) if (name.startsWith('ARCHIVE_')) delete inherited[name];
    const env: NodeJS.ProcessEnv = {
      ...inherited,
      [envName('url')]: spec.url,
      [envName('out')]: o.out,
      [envName('device')]: spec.device,
      [envName('segmentSeconds')]: String(spec.segmentSeconds),
      [envName('format')]: spec.format,
      [envName('audio')]: spec.audio,
      [envName('retainHours')]: String(spec.retainHours),
      ...(spec.retainBytes !== null ? { [envName('retainBytes')]: String(spec.retainBytes) } : {}),
      [envName('httpListen')]: `127.0.0.1:${port}`,
      ...(o.credentials.username !== undefined ? { [envName('username')]: o.credentials.username } : {}),
      ...(o.credentials.passwordFile !== undefined ? { [envName('passwordFile')]: o.credentials.passwordFile } : {}),
    };
    const child = spawn(o.node, [o.cli, 'recorder'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const recorder = new LocalRecorder(spec, port, child, o.log);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return recorder;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The child's last output, credentials masked. */
  lastOutput(): string {
    return redact(this.tail);
  }

  private keep(chunk: Buffer, sink: NodeJS.WriteStream): void {
    // The recorder's JSON log lines join ours, so one stream tells the whole story.
    sink.write(chunk);
    this.tail = (this.tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
  }

  /** Resolves true once /health answers, false when the child exits or time runs out. */
  async waitHealthy(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.state !== 'exited') {
      const res = await this.request('GET', '/health', 2000).catch(() => undefined);
      if (res?.status === 200) return true;
      await sleep(200);
    }
    return false;
  }

  async request(method: 'GET' | 'POST', route: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.baseUrl}${route}`, { method, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body };
  }

  /** The child's /record/status, or undefined while it does not answer. */
  async recorderStatus(): Promise<RecorderAnswer | undefined> {
    if (this.state === 'exited') return undefined;
    // The same client control asks a recorder pod with (local recorders get no API token).
    const asked = await askRecorderStatus({ host: '127.0.0.1', port: this.port }, undefined, 3000);
    return asked.ok ? asked.status : undefined;
  }

  /**
   * Graceful stop: POST /record/off (answers once the last segment is closed), then SIGTERM, then SIGKILL
   * if the process outlives `timeoutMs`. Resolves with what /record/off said.
   */
  async stop(timeoutMs: number): Promise<{ off: unknown; exitCode: number | null }> {
    this.state = this.state === 'exited' ? 'exited' : 'stopping';
    let off: unknown = null;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const res = await this.request('POST', '/record/off', timeoutMs).catch((err: unknown) => {
        this.log.warn({ device: this.spec.device, err }, 'recorder did not answer /record/off; sending SIGTERM');
        return undefined;
      });
      off = res?.body ?? null;
      this.child.kill('SIGTERM');
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exitCode = await this.exited;
    clearTimeout(timer);
    return { off, exitCode };
  }
}
