import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI next to this module: the demo runs the real commands, as they run in a cluster. */
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');

export interface DemoChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts `shifu-rtsp <command>` in its own process group, logging to a file: the terminal keeps only the
 * demo's own lines, and Ctrl-C reaches the demo alone, which then stops every part in order.
 */
export function startChild(name: string, args: readonly string[], env: NodeJS.ProcessEnv, logFile: string): DemoChild {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      resolve(code);
    }),
  );
  // If the demo itself dies, take the children along instead of leaving them running.
  const reap = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', reap);
  return {
    name,
    process: child,
    exited,
    async stop(graceMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(reap, graceMs);
      const code = await exited;
      clearTimeout(timer);
      process.off('exit', reap);
      log.end();
      return code;
    },
  };
}

/** Polls `url` until it answers 2xx, or fails naming the part that did not come up (with its log). */
export async function waitHealthy(child: DemoChild, url: string, logFile: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) break;
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${child.name} did not come up (see ${logFile})`);
}
