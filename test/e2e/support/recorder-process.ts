import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { freeLoopbackPort } from '../../../functions/lib/index.js';
import { CLI } from '../../support/cli.js';

/** The built CLI (test/support/cli.ts), for the e2e tests that import it from here. */
export { CLI };

/** A free loopback port (the project's own helper). */
export const freePort = freeLoopbackPort;

export interface CliProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  readonly baseUrl: string;
  json<T>(method: 'GET' | 'POST', route: string): Promise<{ status: number; body: T }>;
  waitFor<T>(route: string, predicate: (body: T) => boolean, timeoutMs?: number): Promise<T>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `shifu-rtsp <command> ...` with an HTTP API on a free port and waits until /health answers. */
export async function startCli(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  options: { httpFlag?: string } = {},
): Promise<CliProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, command, ...args, `--${options.httpFlag ?? 'http-listen'}`, `127.0.0.1:${port}`], {
    env: { ...process.env, LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const json = async <T>(method: 'GET' | 'POST', route: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${baseUrl}${route}`, { method });
    return { status: res.status, body: (await res.json()) as T };
  };
  const proc: CliProcess = {
    child,
    output: () => out,
    exited,
    baseUrl,
    json,
    async waitFor<T>(route: string, predicate: (body: T) => boolean, timeoutMs = 30_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        try {
          const { body } = await json<T>('GET', route);
          last = body;
          if (predicate(body)) return body;
        } catch {
          // not listening yet
        }
        if (child.exitCode !== null) throw new Error(`${command} exited (${child.exitCode}):\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`timed out waiting on ${route}; last: ${JSON.stringify(last)}\n${out.slice(-3000)}`);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  // Generous: a recorder with a bucket loads the AWS SDK before it listens, seen past 20 s on a machine at load 20-25.
  await proc.waitFor('/health', () => true, 60_000);
  return proc;
}

/** Power-loss style: the recorder stops first (so it does nothing more), then its children die, then it does. */
export async function killHard(rec: CliProcess): Promise<void> {
  const pid = rec.child.pid!;
  process.kill(pid, 'SIGSTOP');
  try {
    execFileSync('pkill', ['-KILL', '-P', String(pid)]);
  } catch {
    // no child at this instant
  }
  process.kill(pid, 'SIGKILL');
  await rec.exited;
}
