import type { Logger } from '../lib/index.js';
import type { EdgeDevicePhase } from './edgedevice.js';

/** Where a phase goes: the EdgeDevice's status, or nowhere when the forwarder runs without Kubernetes. */
export interface PhaseSink {
  writePhase(phase: EdgeDevicePhase): Promise<void>;
}

/**
 * Keeps the EdgeDevice's phase equal to the latest observation, writing only when it changes.
 * One write at a time and never throws: a failed write is retried at the next report (the next probe).
 */
export class PhaseReporter {
  private desired: EdgeDevicePhase | undefined;
  private written: EdgeDevicePhase | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly sink: PhaseSink,
    private readonly log: Logger,
  ) {}

  report(phase: EdgeDevicePhase): void {
    this.desired = phase;
    if (this.inFlight === undefined && this.desired !== this.written) this.inFlight = this.write(phase);
  }

  /** Resolves once the write under way (if any) has finished. */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  private async write(phase: EdgeDevicePhase): Promise<void> {
    let ok = false;
    try {
      await this.sink.writePhase(phase);
      ok = true;
      const previous = this.written;
      this.written = phase;
      this.log.info({ phase, previous: previous ?? null }, 'edgedevice phase written');
    } catch (err) {
      this.log.warn({ err, phase }, 'cannot write edgedevice phase; retrying at the next probe');
    } finally {
      this.inFlight = undefined;
    }
    // The phase moved on while we were writing: catch up now rather than one probe later.
    if (ok && this.desired !== undefined && this.desired !== this.written) this.report(this.desired);
  }
}
