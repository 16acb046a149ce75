// The TCP proxies the forwarder bench compares, each a child process on loopback, plus /proc
// readings (CPU time, RSS) over a proxy's whole process tree (socat forks one child per connection).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import { processTree, pssMiB, rssMiB } from './support/procfs.js';

export { processTree, treeCpuSeconds as cpuSeconds } from './support/procfs.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The built CLI, beside this file once compiled (dist/test/bench -> dist/functions). */
export const CLI = path.resolve(here, '../../functions/cli.js');

export interface Proxy {
  readonly name: string;
  /** Where clients connect; the target itself for the `direct` baseline. */
  readonly port: number;
  /** Root of the process tree to measure; undefined for `direct`. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
/** Children we are stopping on purpose: their exit status is not news. */
const stopping = new WeakSet<ChildProcess>();

/** Kills every child still running (bench watchdog, or a failure mid-run). */
export function killAll(): void {
  for (const child of children) {
    stopping.add(child);
    child.kill('SIGKILL');
  }
}

/** Stops a child without reporting its exit status. */
export function quietKill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  stopping.add(child);
  child.kill(signal);
}

export function startChild(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-2000);
  });
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (!stopping.has(child) && code !== 0 && code !== null && signal === null) process.stderr.write(`[bench] ${command} exited ${code}: ${stderr}\n`);
  });
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  quietKill(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

export const freePort = freeLoopbackPort;

/** Resolves once something accepts TCP connections on the port; fails at once if `child` exits first. */
export async function waitListening(port: number, child?: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${child.spawnfile} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function proxy(name: string, port: number, child: ChildProcess): Proxy {
  return { name, port, pid: child.pid, stop: () => stopChild(child) };
}

export function direct(targetPort: number): Proxy {
  return { name: 'direct (no proxy)', port: targetPort, pid: undefined, stop: async () => undefined };
}

/** haproxy in TCP mode with a plain config (no splice, Debian's defaults otherwise). */
export async function startHaproxy(targetPort: number, workDir: string): Promise<Proxy> {
  const port = await freePort();
  const config = path.join(workDir, `haproxy-${port}.cfg`);
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 4096',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 1h',
      '  timeout server 1h',
      'listen forward',
      `  bind 127.0.0.1:${port}`,
      `  server device 127.0.0.1:${targetPort}`,
      '',
    ].join('\n'),
  );
  const child = startChild('haproxy', ['-db', '-f', config]);
  await waitListening(port, child);
  return proxy('haproxy 2.6', port, child);
}

export async function startSocat(targetPort: number): Promise<Proxy> {
  const port = await freePort();
  const child = startChild('socat', [
    `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,backlog=2048`,
    `TCP:127.0.0.1:${targetPort}`,
  ]);
  await waitListening(port, child);
  return proxy('socat (fork)', port, child);
}

/** The forwarder in TCP mode by default (the row compared with haproxy); `extra` flags go last. */
export async function startForwarderProcess(targetPort: number, extra: readonly string[] = ['--mode', 'tcp']): Promise<Proxy> {
  const port = await freePort();
  const child = startChild(
    process.execPath,
    [
      CLI,
      'forwarder',
      '--upstream',
      `127.0.0.1:${targetPort}`,
      '--listen',
      `127.0.0.1:${port}`,
      '--health-listen',
      '127.0.0.1:0',
      '--max-connections',
      '5000',
      // Every load client comes from one loopback address.
      '--max-connections-per-client',
      '5000',
      '--drain-timeout',
      '0',
      // The device probe connects to the device every few seconds: iperf3's one-test server answers the
      // next real client "busy" when a probe lands first. One probe at start is enough here.
      '--probe-interval',
      '3600',
      ...extra,
    ],
    // Connection-close lines are the product's behaviour; they are written, just not shown.
    { ...process.env, LOG_LEVEL: 'info' },
  );
  await waitListening(port, child);
  const at = extra.indexOf('--mode');
  const mode = at >= 0 ? (extra[at + 1] ?? 'auto') : 'auto';
  return proxy(`shifu-rtsp forwarder (${mode})`, port, child);
}

/**
 * Memory of the tree in MiB: VmRSS for a single process; for a forking proxy the sum of PSS, since
 * summed RSS would count every shared page once per fork.
 */
export function memoryMiB(root: number): { mib: number; processes: number } {
  const tree = processTree(root);
  const mib = tree.length === 1 ? (rssMiB(root) ?? 0) : tree.reduce((sum, pid) => sum + (pssMiB(pid) ?? 0), 0);
  return { mib, processes: tree.length };
}
