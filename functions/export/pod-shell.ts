import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ApiException, CoreV1Api, Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
// Not re-exported by the package index; needed so that stream-close frames end our streams, not process.stdout.
import { execTransport } from './exec-socket.js';

export interface ShellResult {
  readonly exitCode: number;
  /** The command's stderr (last few KB), for messages. */
  readonly stderr: string;
}

/** Runs a command where the footage is (the export pod) and streams its stdout into `stdout`. */
export interface PodShell {
  /** Resolves once the command exited and `stdout` has finished (all its writes done); rejects on stream errors. */
  run(argv: readonly string[], stdout: Writable): Promise<ShellResult>;
}

export class PodShellError extends Error {
  constructor(
    readonly code: 'pod_missing' | 'pod_not_running' | 'exec_failed',
    message: string,
  ) {
    super(message);
    this.name = 'PodShellError';
  }
}

const STDERR_KEEP = 8192;

/** Collects a command's stderr as text, keeping the end. */
export function stderrCollector(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, callback) {
      text = (text + chunk.toString('utf8')).slice(-STDERR_KEEP);
      callback();
    },
  });
  return { stream, text: () => text };
}

/** 0 on Success; the ExitCode cause of a NonZeroExitCode failure; 1 otherwise. */
export function exitCodeOf(status: V1Status | undefined): number | undefined {
  if (status === undefined) return undefined;
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  return Number.isInteger(code) ? code : 1;
}

export interface PodRef {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

/** `kubectl exec` through the API server (pods/exec): what `kubectl cp` does under the hood. */
export class KubernetesPodShell implements PodShell {
  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly ref: PodRef,
  ) {}

  /** Fails with a message that says what to do unless the export pod runs and its container is ready. */
  async check(): Promise<void> {
    const { namespace, pod, container } = this.ref;
    let found;
    try {
      found = await this.kubeConfig.makeApiClient(CoreV1Api).readNamespacedPod({ namespace, name: pod });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) {
        throw new PodShellError('pod_missing', `export pod ${namespace}/${pod} not found: apply storage/ (kubectl apply -k storage/), or name it with --pod`);
      }
      throw err;
    }
    const phase = found.status?.phase ?? 'Unknown';
    if (phase !== 'Running') {
      throw new PodShellError('pod_not_running', `export pod ${namespace}/${pod} is ${phase}, not Running: see kubectl -n ${namespace} describe pod ${pod}`);
    }
    if (!found.spec?.nodeName) {
      throw new PodShellError('pod_not_running', `export pod ${namespace}/${pod} is not scheduled on a node: see kubectl -n ${namespace} describe pod ${pod}`);
    }
    if (!found.spec.containers.some((c) => c.name === container)) {
      throw new PodShellError('pod_missing', `export pod ${namespace}/${pod} has no container ${container} (use --container)`);
    }
  }

  async run(argv: readonly string[], stdout: Writable): Promise<ShellResult> {
    const { namespace, pod, container } = this.ref;
    const stderr = stderrCollector();
    let status: V1Status | undefined;
    let socket;
    try {
      socket = await new Exec(this.kubeConfig, execTransport(this.kubeConfig)).exec(namespace, pod, container, [...argv], stdout, stderr.stream, null, false, (s) => {
        status = s;
      });
    } catch (err) {
      stdout.destroy();
      throw new PodShellError('exec_failed', `cannot exec in pod ${namespace}/${pod}: ${describeExecError(err)}${execHint(err, namespace)}`);
    }
    const ws = socket;
    // A failing sink (bad tar data, full disk) stops the transfer at once.
    stdout.once('error', () => ws.close());
    await new Promise<void>((resolve) => {
      if (ws.readyState === ws.CLOSED) resolve();
      else ws.once('close', () => resolve());
    });
    // What arrived is written out before anything is judged: complete files stay complete.
    if (!stdout.writableEnded && !stdout.destroyed) stdout.end();
    const flushError = await finished(stdout).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    const exitCode = exitCodeOf(status);
    if (exitCode === undefined) {
      const why = flushError ? ` (${flushError.message})` : '';
      throw new PodShellError('exec_failed', `the exec connection to ${namespace}/${pod} closed before the command reported its exit status${why}`);
    }
    if (flushError) throw flushError;
    return { exitCode, stderr: stderr.text() };
  }
}

/** The API server answers a refused upgrade with a bare status: say what usually causes it. */
function execHint(err: unknown, namespace: string): string {
  const status = /\b(\d{3})\b/.exec(describeExecError(err))?.[1];
  if (status === '401' || status === '403') return ` (your account needs "create" on pods/exec in namespace ${namespace})`;
  if (status === '400' || status === '404' || status === '500' || status === '502') return ' (the API server could not reach the kubelet of the pod\'s node, or the container is not running)';
  return '';
}

function describeExecError(err: unknown): string {
  if (err instanceof Error) return err.message;
  // ws reports upgrade failures as ErrorEvent-like objects.
  if (typeof err === 'object' && err !== null && 'message' in err && typeof (err as { message: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

/** Collects a command's whole stdout as text: for listings and the journal. */
export function textSink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
