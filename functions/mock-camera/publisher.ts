// Keeps one test pattern published: runs its ffmpeg, and starts it again with backoff whenever it exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { backoffDelay, redact, sleep, type BackoffPolicy, type Logger } from '../lib/index.js';
import type { TestPattern } from './stream-spec.js';
import { testPatternArguments } from './test-pattern.js';

const BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };
/** A run this long counts as healthy: the next failure starts the backoff from the beginning again. */
const HEALTHY_RUN_MS = 30_000;
const STDERR_LINES = 20;

export class TestPatternPublisher {
  private child: ChildProcess | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    readonly pattern: TestPattern,
    private readonly ffmpeg: string,
    private readonly target: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loop ??= this.supervise();
  }

  private async supervise(): Promise<void> {
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      const started = Date.now();
      const exit = await this.runOnce();
      if (this.stopping.signal.aborted) return;
      if (Date.now() - started >= HEALTHY_RUN_MS) attempt = 0;
      const delayMs = backoffDelay(attempt, BACKOFF);
      attempt += 1;
      this.log.warn({ path: this.pattern.path, ...exit, delayMs }, 'test-pattern ffmpeg exited; restarting');
      await sleep(delayMs, this.stopping.signal);
    }
  }

  private async runOnce(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const child = spawn(this.ffmpeg, testPatternArguments(this.pattern, this.target), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    const tail: string[] = [];
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      for (const line of text.split(/\r?\n/)) if (line.trim() !== '') tail.push(line);
      tail.splice(0, Math.max(0, tail.length - STDERR_LINES));
    });
    this.log.debug({ path: this.pattern.path, pid: child.pid }, 'test-pattern ffmpeg started');
    const [code, signal] = (await Promise.race([
      once(child, 'close'),
      once(child, 'error').then(([err]) => {
        tail.push(String((err as Error).message));
        return [null, null];
      }),
    ])) as [number | null, NodeJS.Signals | null];
    this.child = undefined;
    return { code, signal, stderr: redact(tail.join('\n')) };
  }

  /** Stops ffmpeg (SIGTERM, SIGKILL after 3 s) and the restarts. */
  async stop(): Promise<void> {
    this.stopping.abort();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.kill('SIGTERM');
      await once(child, 'close').catch(() => undefined);
      clearTimeout(killer);
    }
    await this.loop;
  }
}
