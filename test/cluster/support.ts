// What the cluster scenarios share: kubectl (the one built with the cluster), waiting with diagnostics,
// the recorder's journal on the node, a CloudEvents sink on the node's bridge address, and file checks.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import type { ClusterEnvironment } from './harness/context.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; never throws for a non-zero exit (the caller says what it expects). */
export function runProgram(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // No input: no pipe to write to. A program that exits before reading its input (kubectl refusing early) makes
    // the write fail with EPIPE: that is the program's answer, told by its exit code and stderr, not an error here
    // (unhandled, it failed a cluster run whose 18 scenarios all passed).
    const child = spawn(cmd, args, { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', reject);
    // 'close', not 'exit': 'exit' can come before the last of stdout is read (seen in CI: kubectl ... -o json
    // exited 0 and the JSON was not there yet). These programs leave no background child holding the pipes.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') reject(err);
      });
      child.stdin.end(options.input);
    }
  });
}

export class Kubectl {
  constructor(private readonly env: ClusterEnvironment) {}

  /** stdout of a kubectl call that must succeed. */
  async run(args: string[], input?: string): Promise<string> {
    const r = await runProgram(this.env.kubectl, ['--kubeconfig', this.env.kubeconfig, ...args], input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited with ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  async json<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.run([...args, '-o', 'json'])) as T;
  }

  /** The object, or undefined when it does not exist. */
  async find<T>(args: string[]): Promise<T | undefined> {
    const r = await runProgram(this.env.kubectl, ['--kubeconfig', this.env.kubeconfig, ...args, '-o', 'json', '--ignore-not-found']);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited with ${r.code}: ${r.stderr.trim()}`);
    return r.stdout.trim() === '' ? undefined : (JSON.parse(r.stdout) as T);
  }

  /** Pods, events and the last log lines of a namespace: attached to every timeout. */
  async diagnostics(namespace: string): Promise<string> {
    const parts: string[] = [];
    for (const args of [
      ['get', 'pods', '-A', '-o', 'wide'],
      ['-n', namespace, 'get', 'events', '--sort-by=.lastTimestamp'],
      ['-n', namespace, 'logs', '--all-containers', '--prefix', '--tail=30', '-l', 'app.kubernetes.io/name=shifu-rtsp'],
    ]) {
      const r = await runProgram(this.env.kubectl, ['--kubeconfig', this.env.kubeconfig, ...args]).catch((e: unknown) => ({ stdout: '', stderr: String(e) }));
      parts.push(`$ kubectl ${args.join(' ')}\n${r.stdout}${r.stderr}`);
    }
    return parts.join('\n');
  }
}

/** Polls until `probe` gives a value; on timeout, fails with `what` and the diagnostics. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false | null>,
  diagnostics?: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const diag = diagnostics ? await diagnostics().catch((e: unknown) => String(e)) : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}\n${diag}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export interface Probed {
  durationSeconds: number;
  codecs: string[];
}

/** Debian's ffprobe on a file: its duration and the codec of every stream. */
export async function probeFile(file: string): Promise<Probed> {
  const r = await runProgram('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file]);
  if (r.code !== 0) throw new Error(`ffprobe ${file}: ${r.stderr.trim()}`);
  const out = JSON.parse(r.stdout) as { format?: { duration?: string }; streams?: Array<{ codec_name?: string }> };
  return { durationSeconds: Number(out.format?.duration ?? NaN), codecs: (out.streams ?? []).map((s) => s.codec_name ?? '?') };
}

export interface ReceivedEvent {
  type: string;
  id: string;
  data: Record<string, unknown>;
}

/** A CloudEvents sink (binary mode, as the recorder sends by default) on an address pods can reach. */
export class EventSink {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    readonly events: readonly ReceivedEvent[],
  ) {}

  static async start(host: string): Promise<EventSink> {
    const events: ReceivedEvent[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        try {
          events.push({ type: String(req.headers['ce-type'] ?? ''), id: String(req.headers['ce-id'] ?? ''), data: JSON.parse(body) as Record<string, unknown> });
          res.writeHead(202).end();
        } catch {
          res.writeHead(400).end('not JSON');
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('sink has no port');
    return new EventSink(server, `http://${host}:${addr.port}/`, events);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A JSON request to a pod (from the node: pod addresses are on its bridge). */
export function postJson(url: string, body: unknown, headers: Readonly<Record<string, string>> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }, timeout: 300_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout POST ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A GET to a pod; the body as JSON. */
export function getJson<T>(url: string, headers: Readonly<Record<string, string>> = {}): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 30_000, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
        } catch {
          reject(new Error(`GET ${url}: HTTP ${res.statusCode ?? 0}, not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout GET ${url}`)));
    req.on('error', reject);
  });
}

/** A Knative Service as `kustomize` renders it: what the stand-in below needs of it. */
export interface KnativeService {
  metadata: { name: string };
  spec: Record<string, unknown>;
}

interface RevisionTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { timeoutSeconds?: number; containerConcurrency?: number; containers: Array<Record<string, unknown> & { ports?: Array<{ containerPort: number }> }> } & Record<string, unknown>;
}

/**
 * Knative's controllers cannot run here (knative.dev/pkg and networking are not served), so a Knative
 * Service's revision runs as the Deployment Knative would make of its template, held to the runtime contract
 * as far as a plain pod can be (knative.dev/serving's revision resources, v0.51.0): PORT set by the platform to
 * the container port; K_SERVICE, K_CONFIGURATION and K_REVISION set; a TCP readiness probe on the serving port
 * (the queue-proxy's default probe of the user container, here run by the kubelet every second); the revision's
 * timeoutSeconds as the termination grace period; revision labels. Knative's webhook refuses a template that
 * sets PORT or K_* itself, so they are added, never overwritten.
 */
export function knativeRevisionStandIn(ksvc: KnativeService, namespace: string, replicas: number): { deployment: object; revision: string } {
  const name = ksvc.metadata.name;
  const revision = `${name}-00001`;
  const template = structuredClone(ksvc.spec['template']) as RevisionTemplate;
  const { timeoutSeconds, containerConcurrency: _concurrency, containers, ...podSpec } = template.spec;
  const [user, ...sidecars] = containers;
  if (!user) throw new Error(`Knative Service ${name} has no container`);
  const port = user.ports?.[0]?.containerPort ?? 8080;
  const env = (user['env'] as Array<{ name: string }> | undefined) ?? [];
  for (const reserved of ['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION']) {
    if (env.some((e) => e.name === reserved)) throw new Error(`Knative Service ${name} sets ${reserved}, which Knative reserves`);
  }
  const labels = { ...template.metadata.labels, 'serving.knative.dev/service': name, 'serving.knative.dev/configuration': name, 'serving.knative.dev/revision': revision };
  const selector = { 'serving.knative.dev/revision': revision };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels, annotations: template.metadata.annotations ?? {} },
        spec: {
          ...podSpec,
          terminationGracePeriodSeconds: timeoutSeconds ?? 300,
          containers: [
            {
              ...user,
              env: [
                ...env,
                { name: 'PORT', value: String(port) },
                { name: 'K_SERVICE', value: name },
                { name: 'K_CONFIGURATION', value: name },
                { name: 'K_REVISION', value: revision },
              ],
              readinessProbe: { tcpSocket: { port }, periodSeconds: 1, successThreshold: 1, failureThreshold: 3 },
            },
            ...sidecars,
          ],
        },
      },
    },
  };
  return { deployment, revision };
}
