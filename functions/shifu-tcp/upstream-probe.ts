import net from 'node:net';
import type { HostPort } from '../lib/index.js';

/** Whether a TCP connection to the device opens within `timeoutMs`, as Shifu's deviceShifu-TCP checks it. */
export function probeTcp(target: HostPort, timeoutMs: number): Promise<{ readonly up: boolean; readonly error?: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const settle = (result: { up: boolean; error?: string }): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle({ up: false, error: 'timeout' }), timeoutMs);
    socket.once('connect', () => settle({ up: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => settle({ up: false, error: err.code ?? err.message }));
  });
}

export interface UpstreamProbeOptions {
  readonly target: HostPort;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Called after every probe; awaited, so a slow status write delays the next probe instead of piling up. */
  readonly onResult: (up: boolean, error: string | undefined) => Promise<void> | void;
}

/** Probes the device now and then every `intervalMs`, one probe at a time, until stopped. */
export class UpstreamProbe {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly options: UpstreamProbeOptions) {}

  start(): void {
    this.running = this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const { up, error } = await probeTcp(this.options.target, this.options.timeoutMs);
    if (this.stopped) return;
    try {
      await this.options.onResult(up, error);
    } catch {
      // onResult logs its own failures; the probe must keep running regardless.
    } finally {
      if (!this.stopped) {
        this.timer = setTimeout(() => {
          this.running = this.tick();
        }, this.options.intervalMs);
      }
    }
  }
}
