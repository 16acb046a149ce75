// Shared pieces of the forwarder tests: devices to forward to, clients, and the forwarder itself
// (in-process, or as the real `shifu-rtsp forwarder` child process).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLogger, type HostPort } from '../../functions/lib/index.js';
import { startForwarder, type Forwarder, type ForwarderSettings } from '../../functions/shifu-tcp/index.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Built by `npx tsc -p tsconfig.json` before the e2e and k8s tiers run. */
export const cliPath = path.join(repoRoot, 'dist', 'functions', 'cli.js');

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A TCP server on 127.0.0.1 with an ephemeral port; closing it also ends every open connection. */
export interface TestServer {
  readonly address: HostPort;
  readonly connections: Set<net.Socket>;
  close(): Promise<void>;
}

export async function listenTcp(onConnection: (socket: net.Socket) => void, allowHalfOpen = true): Promise<TestServer> {
  const connections = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen }, (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const bound = server.address() as net.AddressInfo;
  return {
    address: { host: '127.0.0.1', port: bound.port },
    connections,
    close: async () => {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads everything until EOF, then answers `<bytes> <sha256>` and closes: a reply sent after the client's half-close. */
export function digestAfterEof(socket: net.Socket): void {
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  socket.on('end', () => socket.end(`${bytes} ${hash.digest('hex')}\n`));
}

/** Writes every byte back. */
export function echo(socket: net.Socket): void {
  socket.pipe(socket);
}

export function connect(address: HostPort): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Everything the socket delivers until it ends, or the error that cut it short. */
export function readAll(socket: net.Socket): Promise<{ data: Buffer; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Half-open clients must answer the peer's FIN themselves before the socket closes.
    socket.once('end', () => socket.end());
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), error }));
    socket.once('close', () => resolve({ data: Buffer.concat(chunks) }));
  });
}

/** Resolves with how the socket closed: 'end' (clean FIN), an errno code, or 'close'. */
export function closedHow(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let how = 'close';
    socket.on('data', () => undefined);
    socket.once('end', () => {
      how = 'end';
      socket.end();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      how = err.code ?? 'error';
    });
    socket.once('close', () => resolve(how));
  });
}

/** How a connection attempt ends: 'refused' when even the connect failed, else as `closedHow`. */
export function connectOutcome(address: HostPort): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.host, port: address.port, allowHalfOpen: true });
    socket.once('error', () => resolve('refused'));
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(closedHow(socket));
    });
  });
}

export function defaultSettings(upstream: HostPort, overrides: Partial<ForwarderSettings> = {}): ForwarderSettings {
  return {
    // The byte tests pin TCP mode; RTSP and auto mode have their own tests.
    mode: 'tcp',
    lingerMs: 10_000,
    rtpPorts: { min: 40000, max: 40999 },
    liveListen: undefined,
    liveToken: undefined,
    liveMaxViewers: 50,
    liveAllowOrigins: [],
    liveWebRtc: { udpPorts: { min: 8189, max: 8199 }, addresses: [], iceServers: [] },
    upstream,
    listen: { host: '127.0.0.1', port: 0 },
    healthListen: { host: '127.0.0.1', port: 0 },
    dialTimeoutMs: 2000,
    idleTimeoutMs: 0,
    maxConnections: 1024,
    maxConnectionsPerClient: 1024,
    drainTimeoutMs: 1000,
    probeIntervalMs: 200,
    edgeDevice: undefined,
    ...overrides,
  };
}

/** The forwarder in this process, logging nothing. */
export function startQuietForwarder(upstream: HostPort, overrides: Partial<ForwarderSettings> = {}): Promise<Forwarder> {
  return startForwarder(defaultSettings(upstream, overrides), { log: createLogger('forwarder-test', 'silent') });
}

export async function getJson(address: HostPort, route: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://${address.host}:${address.port}${route}`);
  return { status: res.status, body: (await res.json()) as unknown };
}

export async function metricValue(address: HostPort, name: string): Promise<number | undefined> {
  const res = await fetch(`http://${address.host}:${address.port}/metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type LogLine = Record<string, unknown> & { msg?: string };

/** `shifu-rtsp forwarder` as a child process, its JSON log lines collected. */
export interface ForwarderProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: LogLine[];
  readonly stderr: () => string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** From the 'forwarding' line. */
  ready(): Promise<{ listen: HostPort; health: HostPort }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function hostPort(text: unknown): HostPort {
  const m = /^(.*):(\d+)$/.exec(String(text));
  if (!m) throw new Error(`not host:port: ${String(text)}`);
  return { host: m[1] === '0.0.0.0' ? '127.0.0.1' : (m[1] ?? ''), port: Number(m[2]) };
}

/** `netns`: run it inside that network namespace (`ip netns exec` execs it, so the child's pid is the forwarder's). */
export function spawnForwarder(args: readonly string[], env: NodeJS.ProcessEnv = {}, netns?: string): ForwarderProcess {
  const argv = [cliPath, 'forwarder', ...args];
  const child = spawn(netns === undefined ? process.execPath : 'ip', netns === undefined ? argv : ['netns', 'exec', netns, process.execPath, ...argv], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      lines.push({ msg: line });
    }
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid ?? -1,
    lines,
    stderr: () => stderr,
    exited,
    async ready() {
      for (;;) {
        const line = lines.find((l) => l.msg === 'forwarding');
        if (line) return { listen: hostPort(line.listen), health: hostPort(line.health) };
        if (child.exitCode !== null) throw new Error(`forwarder exited with ${child.exitCode}: ${stderr}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), exited, new Promise((r) => setTimeout(r, 200))]);
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
