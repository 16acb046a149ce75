/** Where progress goes: a terminal gets a redrawn bar, anything else one line per finished file. */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** Copy progress on stderr: bytes, rate, files and the file being copied. */
export class Progress {
  private done = 0;
  private filesDone = 0;
  private current = '';
  private lastDraw = 0;
  private readonly started: number;

  constructor(
    private readonly out: ProgressOutput | null,
    private totalBytes: number,
    private totalFiles: number,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  get bytesDone(): number {
    return this.done;
  }

  /** More to copy: a source that lists by batches (the bucket, a day at a time) adds each as it comes. */
  expect(bytes: number, files: number): void {
    this.totalBytes += bytes;
    this.totalFiles += files;
  }

  begin(name: string): void {
    this.current = name;
    this.draw(true);
  }

  advance(bytes: number): void {
    this.done += bytes;
    this.draw(false);
  }

  /** A file finished (copied, resumed, verified or skipped); `note` says which. */
  fileDone(name: string, note: string): void {
    this.filesDone++;
    if (this.out && !this.out.isTTY) this.out.write(`${this.filesDone}/${this.totalFiles} ${name}: ${note}\n`);
    this.draw(true);
  }

  finish(): void {
    if (this.out?.isTTY) {
      this.draw(true);
      this.out.write('\n');
    }
  }

  /** The bar line, e.g. `[#####-----]  50% 1.0 GiB/2.0 GiB 35.2 MiB/s 3/6 files cam1_...mp4`. */
  line(width = 80): string {
    const fraction = this.totalBytes > 0 ? Math.min(1, this.done / this.totalBytes) : 1;
    const seconds = Math.max(0.001, (this.now() - this.started) / 1000);
    const bar = 20;
    const filled = Math.round(fraction * bar);
    const text = `[${'#'.repeat(filled)}${'-'.repeat(bar - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(this.done)}/${formatBytes(this.totalBytes)} ${formatBytes(this.done / seconds)}/s ${this.filesDone}/${this.totalFiles} files ${this.current}`;
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  }

  private draw(force: boolean): void {
    if (!this.out?.isTTY) return;
    const t = this.now();
    if (!force && t - this.lastDraw < 100) return;
    this.lastDraw = t;
    this.out.write(`\r${this.line((this.out.columns ?? 80) - 1)}\x1b[K`);
  }
}
