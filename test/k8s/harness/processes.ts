// Child-process plumbing for the k8s global setup: building/locating the binaries, free ports,
// starting etcd and kube-apiserver, readiness probes and shutdown. Node built-ins only.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function log(message: string): void {
  process.stderr.write(`[k8s-setup ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Assets

export interface AssetsResult {
  dir: string;
  seconds: number;
}

/**
 * Run test/k8s/assets/ensure-assets.sh (honours $KUBEBUILDER_ASSETS, otherwise builds into the
 * user cache once) and return the directory holding kube-apiserver and etcd. Its progress
 * (stderr) is passed through; the last stdout line is the directory.
 */
export async function ensureAssets(script: string, timeoutMs: number): Promise<AssetsResult> {
  if (!existsSync(script)) throw new Error(`k8s assets script not found: ${script}`);
  const started = Date.now();
  const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    process.stderr.write(chunk);
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) {
    const why = signal ? `was killed by ${signal}${signal === 'SIGTERM' ? ` (timeout ${timeoutMs} ms)` : ''}` : `exited with code ${code}`;
    throw new Error(
      `${script} ${why}: kube-apiserver/etcd are not available. Either install Go (it builds them from ` +
        `test/k8s/assets/go.mod through the Go module proxy) or point KUBEBUILDER_ASSETS at a directory ` +
        `holding kube-apiserver and etcd.`,
    );
  }
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const dir = lines.at(-1);
  if (!dir) throw new Error(`${script} printed no asset directory`);
  for (const bin of ['kube-apiserver', 'etcd']) {
    const p = path.join(dir, bin);
    if (!existsSync(p) || !statSync(p).isFile()) throw new Error(`${script} returned ${dir}, which has no ${bin}`);
  }
  return { dir, seconds: (Date.now() - started) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Ports

/** `count` distinct free TCP ports on 127.0.0.1 (all held open together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('could not read a listening port');
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

// ---------------------------------------------------------------------------------------------
// Managed processes

export class ManagedProcess {
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
  }

  static start(name: string, binary: string, args: string[], logFile: string): ManagedProcess {
    const fd = openSync(logFile, 'a');
    try {
      const child = spawn(binary, args, { stdio: ['ignore', fd, fd], env: { ...process.env } });
      if (child.pid === undefined) throw new Error(`could not start ${binary}`);
      const managed = new ManagedProcess(name, child, logFile);
      liveProcesses.add(managed);
      return managed;
    } finally {
      closeSync(fd); // the child holds its own copy
    }
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error(`${this.name} has no pid`);
    return pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Throws (with the log tail) if the process has exited. */
  assertRunning(): void {
    if (this.exitInfo) {
      const { code, signal } = this.exitInfo;
      throw new Error(`${this.name} exited early (code ${code}, signal ${signal}). Last log lines:\n${this.logTail()}`);
    }
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timedOut = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut && this.running) {
        log(`${this.name} (pid ${this.pid}) ignored SIGTERM for ${graceMs} ms; sending SIGKILL`);
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    liveProcesses.delete(this);
  }

  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

// Backstop: never leave an etcd or kube-apiserver behind when this process goes away.
const liveProcesses = new Set<ManagedProcess>();
process.once('exit', () => {
  for (const p of liveProcesses) p.killNow();
});

// ---------------------------------------------------------------------------------------------
// HTTP probes

interface ProbeResult {
  status: number;
  body: string;
}

function get(url: string, options: https.RequestOptions): Promise<ProbeResult> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise<ProbeResult>((resolve, reject) => {
    const req = mod.get(url, { ...options, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout GET ${url}`)));
    req.on('error', reject);
  });
}

async function waitUntil(
  what: string,
  proc: ManagedProcess,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  lastState: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    proc.assertRunning();
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready after ${timeoutMs} ms (${lastState()}). Last log lines of ${proc.name}:\n${proc.logTail()}`);
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// etcd

export interface Etcd {
  process: ManagedProcess;
  clientUrl: string;
}

export async function startEtcd(binary: string, workDir: string, timeoutMs = 60_000): Promise<Etcd> {
  const [clientPort, peerPort] = await freePorts(2);
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const dataDir = path.join(workDir, 'etcd-data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const args = [
    '--name=test',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=test=${peerUrl}`,
    '--initial-cluster-state=new',
    // Throw-away data: no fsync keeps a 2-core CI machine's disk out of the critical path.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
  const proc = ManagedProcess.start('etcd', binary, args, path.join(workDir, 'etcd.log'));
  let last = 'no answer';
  try {
    await waitUntil('etcd', proc, timeoutMs, async () => {
      const r = await get(`${clientUrl}/health`, {});
      last = `HTTP ${r.status} ${r.body.trim()}`;
      return r.status === 200 && r.body.includes('"health":"true"');
    }, () => last);
  } catch (err) {
    await proc.stop(2_000);
    throw err;
  }
  return { process: proc, clientUrl };
}

// ---------------------------------------------------------------------------------------------
// kube-apiserver

export interface ApiServer {
  process: ManagedProcess;
  url: string;
  /** PEM of the self-signed serving certificate chain (certificate + its CA). */
  caPem: string;
  adminToken: string;
}

export const ADMIN_USER = 'admin';

export async function startApiServer(binary: string, workDir: string, etcdUrl: string, timeoutMs = 180_000): Promise<ApiServer> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const url = `https://127.0.0.1:${port}`;
  const certDir = path.join(workDir, 'certs');
  await mkdir(certDir, { recursive: true, mode: 0o700 });

  // Static token file: the admin token is in group system:masters (full access under RBAC).
  const adminToken = randomBytes(24).toString('hex');
  const tokenFile = path.join(workDir, 'tokens.csv');
  writeFileSync(tokenFile, `${adminToken},${ADMIN_USER},${ADMIN_USER}-uid,"system:masters"\n`, { mode: 0o600 });

  // Service-account token signing (TokenRequest API) with a fresh RSA key.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const saKey = path.join(workDir, 'sa.key');
  const saPub = path.join(workDir, 'sa.pub');
  writeFileSync(saKey, privateKey, { mode: 0o600 });
  writeFileSync(saPub, publicKey);

  const args = [
    '--advertise-address=127.0.0.1',
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    // No --tls-cert-file: kube-apiserver generates a self-signed serving cert (and its CA) here.
    `--cert-dir=${certDir}`,
    `--etcd-servers=${etcdUrl}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--authorization-mode=RBAC',
    `--token-auth-file=${tokenFile}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    // There is no controller-manager to create each namespace's `default` ServiceAccount, so the
    // admission plugin that requires it would refuse every Pod.
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    // The endpoint reconciler would publish 127.0.0.1 as the `kubernetes` Service endpoint.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ];
  const proc = ManagedProcess.start('kube-apiserver', binary, args, path.join(workDir, 'kube-apiserver.log'));

  let caPem = '';
  let last = 'no answer';
  try {
    const certFile = path.join(certDir, 'apiserver.crt');
    await waitUntil('kube-apiserver', proc, timeoutMs, async () => {
      if (!caPem) {
        if (!existsSync(certFile)) {
          last = `waiting for ${certFile}`;
          return false;
        }
        caPem = readFileSync(certFile, 'utf8');
      }
      const r = await get(`${url}/readyz?verbose`, { ca: caPem, headers: { Authorization: `Bearer ${adminToken}` } });
      last = `HTTP ${r.status}: ${r.body.split('\n').filter((l) => l.includes('failed')).join('; ') || r.body.slice(0, 200)}`;
      return r.status === 200;
    }, () => last);
  } catch (err) {
    await proc.stop(5_000);
    throw err;
  }
  return { process: proc, url, caPem, adminToken };
}

/** A kubeconfig (YAML, also valid JSON) for the admin user. */
export function adminKubeconfig(server: ApiServer): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'shifu-rtsp-envtest',
    clusters: [
      {
        name: 'shifu-rtsp-envtest',
        cluster: { server: server.url, 'certificate-authority-data': Buffer.from(server.caPem).toString('base64') },
      },
    ],
    users: [{ name: ADMIN_USER, user: { token: server.adminToken } }],
    contexts: [{ name: 'shifu-rtsp-envtest', context: { cluster: 'shifu-rtsp-envtest', user: ADMIN_USER, namespace: 'default' } }],
  };
  return JSON.stringify(config, null, 2) + '\n';
}
