// All cameras on one time axis: a row per device (footage green, gaps hatched, no footage grey), one cursor across
// every row, a day picker, and "Play together" for 2 to 4 chosen cameras from the cursor (sync-play.ts).
import { SyncPlayer, type SyncKit } from './sync-play.js';

interface Span {
  start: string;
  end: string;
  segments: Array<{ start: string; end: string; codecs: { video: string | null } }>;
}

interface DayTimeline {
  start: string;
  end: string;
  day: string | null;
  spans: Span[];
  gaps: Array<{ start: string; end: string; durationSeconds: number }>;
}

/** What the page offers this module (app.ts owns it). */
export interface MultiKit extends SyncKit {
  getJson<T>(url: string): Promise<T>;
  /** The viewer's time zone (the page's choice). */
  timeZone(): string;
  /** `YYYY-MM-DD` of an instant in the viewer's zone. */
  localDate(ms: number): string;
  clock(ms: number, options?: { seconds?: boolean; zone?: boolean }): string;
}

/** Cameras played together: at least two, at most four (a 2 x 2 grid on a laptop; two on a phone). */
export const MIN_TOGETHER = 2;
export const MAX_TOGETHER = 4;

const HOUR_MS = 3600 * 1000;

export class AllCamerasView {
  readonly root: HTMLElement;
  readonly player: SyncPlayer;
  private readonly rows = new Map<string, { bar: HTMLElement; pick: HTMLInputElement; timeline: DayTimeline | null }>();
  // The shared axis is one slider: arrows move the cursor on every row, Enter plays the chosen cameras from it.
  private readonly axis: HTMLElement;
  private readonly ticks: HTMLElement;
  private readonly dayInput: HTMLInputElement;
  private readonly playButton: HTMLButtonElement;
  private readonly notice: HTMLElement;
  private dayStart = 0;
  private dayMs = 24 * HOUR_MS;
  private cursorMs: number | null = null;

  constructor(
    private readonly kit: MultiKit,
    private readonly devices: readonly string[],
  ) {
    const { el } = kit;
    this.root = el('section', { id: 'all-cameras', class: 'all-cameras', 'aria-label': 'All cameras on one timeline' });
    this.axis = el('div', { class: 'axis', tabindex: '0', role: 'slider', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': 'time on every camera; arrows move, Enter plays the chosen cameras together' });
    this.ticks = el('div', { class: 'ticks' });
    this.dayInput = el('input', { type: 'date', id: 'all-cameras-day' });
    this.playButton = el('button', { type: 'button', class: 'play-together' }, 'Play together');
    this.notice = el('div', { class: 'notice', role: 'status' });
    this.player = new SyncPlayer(kit);
    const controls = el('div', { class: 'controls' });
    controls.append(el('label', { for: this.dayInput.id }, 'Day'), this.dayInput, this.playButton);
    for (const [i, device] of devices.entries()) {
      const pick = el('input', { type: 'checkbox', id: `together-${device}`, value: device });
      pick.checked = i < MAX_TOGETHER;
      pick.addEventListener('change', () => this.limitPicks());
      const bar = el('div', { class: 'bar', title: `${device}: click to play the chosen cameras from there` });
      bar.dataset.camera = device;
      bar.addEventListener('click', (e) => {
        const box = bar.getBoundingClientRect();
        this.cursorMs = this.dayStart + ((e.clientX - box.left) / box.width) * this.dayMs;
        this.draw();
        this.playTogether();
      });
      const row = el('div', { class: 'camera-row' });
      row.dataset.camera = device;
      const label = el('label', { for: pick.id });
      label.append(pick, ` ${device}`);
      row.append(label, bar);
      this.axis.append(row);
      this.rows.set(device, { bar, pick, timeline: null });
    }
    this.axis.addEventListener('keydown', (e) => this.key(e));
    this.dayInput.addEventListener('change', () => {
      if (/^\d{4}-\d{2}-\d{2}$/.test(this.dayInput.value)) this.show(this.dayInput.value);
    });
    this.playButton.addEventListener('click', () => this.playTogether());
    this.root.append(el('h2', {}, 'All cameras'), controls, this.axis, this.ticks, this.notice, this.player.root);
    this.limitPicks();
  }

  /** Cameras chosen to play together, in the rows' order. */
  chosen(): string[] {
    return this.devices.filter((d) => this.rows.get(d)?.pick.checked);
  }

  /** The shared cursor (wall ms), or null before a day is drawn. */
  cursor(): number | null {
    return this.cursorMs;
  }

  /** Shows a local day on every row; what goes wrong is said, never left to the console. */
  show(day: string): void {
    this.load(day).catch((err: unknown) => this.say(`Could not load ${day}: ${err instanceof Error ? err.message : String(err)}`));
  }

  /** Loads one local day for every device (the same window on each row). */
  async load(day: string): Promise<void> {
    this.root.setAttribute('aria-busy', 'true');
    try {
      const timelines = await Promise.all(
        this.devices.map((device) => this.kit.getJson<DayTimeline>(`/api/timeline?${new URLSearchParams({ device, tz: this.kit.timeZone(), day }).toString()}`)),
      );
      timelines.forEach((t, i) => {
        this.rows.get(this.devices[i]!)!.timeline = t;
      });
      const first = timelines[0]!;
      this.dayStart = Date.parse(first.start);
      this.dayMs = Date.parse(first.end) - this.dayStart;
      this.dayInput.value = first.day ?? day;
      // The cursor starts at the day's first footage of any camera.
      const starts = timelines.flatMap((t) => t.spans.map((s) => Date.parse(s.start)));
      this.cursorMs = starts.length > 0 ? Math.min(...starts) : this.dayStart;
      this.say('');
      this.draw();
    } finally {
      this.root.removeAttribute('aria-busy');
    }
  }

  private position(ms: number): string {
    return `${(Math.min(Math.max(ms - this.dayStart, 0), this.dayMs) / this.dayMs) * 100}%`;
  }

  private draw(): void {
    const { el } = this.kit;
    for (const [device, row] of this.rows) {
      row.bar.replaceChildren();
      const t = row.timeline;
      if (!t) continue;
      const place = (node: HTMLElement, s: number, e: number): void => {
        node.style.left = this.position(s);
        node.style.width = `calc(${this.position(e)} - ${this.position(s)})`;
        node.dataset.start = new Date(s).toISOString();
        node.dataset.end = new Date(e).toISOString();
      };
      for (const span of t.spans) {
        const node = el('div', { class: 'span', title: `${device}: ${this.kit.clock(Date.parse(span.start), { zone: true })} – ${this.kit.clock(Date.parse(span.end), { zone: true })}` });
        place(node, Date.parse(span.start), Date.parse(span.end));
        row.bar.append(node);
      }
      for (const gap of t.gaps) {
        const node = el('div', { class: 'gap', title: `${device}: no footage ${this.kit.clock(Date.parse(gap.start), { zone: true })} – ${this.kit.clock(Date.parse(gap.end), { zone: true })}` });
        place(node, Date.parse(gap.start), Date.parse(gap.end));
        row.bar.append(node);
      }
      if (t.spans.length === 0) row.bar.append(el('span', { class: 'empty' }, 'no footage this day'));
      if (this.cursorMs !== null) {
        const cursor = el('div', { class: 'cursor' });
        cursor.style.left = this.position(this.cursorMs);
        row.bar.append(cursor);
      }
    }
    this.ticks.replaceChildren();
    for (let h = 0; h <= this.dayMs / HOUR_MS; h += 3) {
      const ms = this.dayStart + h * HOUR_MS;
      const tick = el('span', {}, this.kit.clock(ms, { seconds: false }));
      tick.style.left = this.position(ms);
      this.ticks.append(tick);
    }
    if (this.cursorMs !== null) {
      this.axis.setAttribute('aria-valuenow', ((100 * (this.cursorMs - this.dayStart)) / this.dayMs).toFixed(2));
      this.axis.setAttribute('aria-valuetext', this.kit.clock(this.cursorMs, { zone: true }));
    }
  }

  private key(e: KeyboardEvent): void {
    if (this.cursorMs === null || e.target !== this.axis) return;
    // A minute per arrow (a day is 1440 of them), ten with Page keys, the day's edges with Home/End.
    const moves: Record<string, number> = { ArrowLeft: -60_000, ArrowRight: 60_000, ArrowDown: -60_000, ArrowUp: 60_000, PageDown: -600_000, PageUp: 600_000 };
    if (e.key in moves) this.cursorMs = Math.min(Math.max(this.cursorMs + moves[e.key]!, this.dayStart), this.dayStart + this.dayMs);
    else if (e.key === 'Home') this.cursorMs = this.dayStart;
    else if (e.key === 'End') this.cursorMs = this.dayStart + this.dayMs;
    else if (e.key === 'Enter' || e.key === ' ') this.playTogether();
    else return;
    e.preventDefault();
    this.draw();
  }

  /** At most MAX_TOGETHER chosen: the others are disabled until one is unchosen. */
  private limitPicks(): void {
    const count = this.chosen().length;
    for (const row of this.rows.values()) row.pick.disabled = !row.pick.checked && count >= MAX_TOGETHER;
    this.playButton.disabled = count < MIN_TOGETHER;
  }

  /** Plays the chosen cameras from the cursor; cameras without footage there are named and left out. */
  playTogether(): void {
    const at = this.cursorMs;
    if (at === null) return;
    const cameras: Array<{ device: string; endMs: number; codec: string | null }> = [];
    const without: string[] = [];
    for (const device of this.chosen()) {
      const span = this.rows.get(device)?.timeline?.spans.find((s) => Date.parse(s.start) <= at && at < Date.parse(s.end));
      const codec = span?.segments.find((g) => Date.parse(g.start) <= at && at < Date.parse(g.end))?.codecs.video ?? null;
      if (span) cameras.push({ device, endMs: Math.min(Date.parse(span.end), at + HOUR_MS), codec });
      else without.push(device);
    }
    const missing = without.length > 0 ? ` No footage of ${without.join(', ')} at ${this.kit.clock(at, { zone: true })}.` : '';
    if (cameras.length < MIN_TOGETHER) {
      this.say(`Choose ${MIN_TOGETHER} to ${MAX_TOGETHER} cameras with footage at ${this.kit.clock(at, { zone: true })} to play them together.${missing}`);
      return;
    }
    this.say(missing.trim());
    this.player.play(cameras, at).catch((err: unknown) => this.say(`Could not play together: ${err instanceof Error ? err.message : String(err)}`));
  }

  private say(text: string): void {
    this.notice.textContent = text;
  }
}
