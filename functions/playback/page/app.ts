// The playback page: a day timeline per device, click to play, in/out points and a clip download.
// Plain DOM, no framework; it talks to the same server's /api routes. All cameras on one axis: multi-timeline.ts.
// The timeline's type is the server's own schema (functions/contracts/timeline.ts), compiled in: no copy to drift.
// Over 400 lines because it is the page's wiring: each device's section (day picker, timeline, player, clip
// form) and the keyboard; what stands alone is in its own file (hls-player.ts, thumbnail.ts, multi-timeline.ts).
import type { Span, Timeline, TimelineSegment } from '../../contracts/timeline.js';
import type { ClipFormat } from '../../contracts/containers.js';
import { longRange, RangePlayer } from './hls-player.js';
import { attachThumbnails } from './thumbnail.js';
import { showLiveGrid, type LiveDevice } from './live-grid.js';
import { AllCamerasView, type MultiKit } from './multi-timeline.js';

/** The clip containers offered, one key per ClipFormat of the contract (a format added or dropped there fails to compile here). */
const CLIP_CHOICES: Readonly<Record<ClipFormat, true>> = { mp4: true, mkv: true, ts: true };

interface DeviceSummary {
  device: string;
  firstFootage: string | null;
  lastFootage: string | null;
  /** Null for a device only in the archive's bucket. */
  bytes: number | null;
  segments: number | null;
  recorder: { state: string; lastSegmentEnd: string | null };
  stored?: 'volume' | 'bucket' | 'both';
}

const HOUR_MS = 3600 * 1000;
/** Longest stretch one click plays: the server cuts it as a stream, so a long one costs nothing up front. */
const PLAY_MS = 3600 * 1000;

// A server with a token sets it as an HttpOnly cookie once (from /?access_token=...), and every request of the
// page, <video> and downloads included, carries it: the page's own URLs never hold the token.

/** The server wants its token: what it answers without one. */
class TokenRequired extends Error {}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status === 401) throw new TokenRequired('this server needs its access token');
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    throw new Error(`${url}: ${res.status} ${body.message ?? res.statusText}`);
  }
  return (await res.json()) as T;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

// The viewer's time zone: the browser's own (Intl), or the one chosen in the page, remembered in localStorage.
const ZONE_KEY = 'shifu-rtsp-playback.timeZone';
const browserZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

function knownZone(name: string | null): string | null {
  if (name === null || name === '') return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

function rememberedZone(): string {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(ZONE_KEY);
  } catch {
    // Storage can be off (private windows, policies): the browser's zone then.
  }
  return knownZone(saved) ?? browserZone();
}

let timeZone = rememberedZone();

/** Wall-clock times in the viewer's zone; `zone` adds its short name (EDT/EST), which tells a repeated hour apart. */
function clock(ms: number, options: { seconds?: boolean; zone?: boolean } = {}): string {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    ...(options.seconds === false ? {} : { second: '2-digit' }),
    hourCycle: 'h23',
    ...(options.zone ? { timeZoneName: 'short' } : {}),
  }).format(new Date(ms));
}

/** The date (`YYYY-MM-DD`) of an instant in the viewer's zone (en-CA writes dates that way). */
function localDate(ms: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
}

/** Local hour and minute of an instant in the viewer's zone. */
function localHourMinute(ms: number): [number, number] {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', minute: 'numeric', hourCycle: 'h23' }).formatToParts(new Date(ms));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? NaN);
  return [get('hour'), get('minute')];
}

const between = (s: number, e: number): string => `${clock(s, { zone: true })} – ${clock(e, { zone: true })}`;
const bytes = (n: number): string => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${(n / (1 << 20)).toFixed(1)} MiB`);

/** What this browser says about a codec in MP4 (the clip format the page plays): MediaSource, else <video>. */
function playable(codec: string | null): boolean {
  if (codec === null) return true;
  const types: Record<string, string> = {
    h264: 'video/mp4; codecs="avc1.42E01E"',
    hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  };
  const type = types[codec];
  if (type === undefined) return false;
  const viaMediaSource = typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(type);
  return viaMediaSource || document.createElement('video').canPlayType(type) !== '';
}

/** A transcode's height when the page asks for H.264: a 1080p camera fits real time on two cores at 720 lines. */
const TRANSCODE_HEIGHT = 720;

const CODEC_NAMES: Record<string, string> = { h264: 'H.264', hevc: 'H.265' };

class DeviceView {
  readonly root = el('section', { class: 'device' });
  // Keyboard: a slider over the view (arrows, Page keys, Home/End move a cursor; Enter or Space plays from it).
  private readonly bar = el('div', { class: 'bar', title: 'click to play from there', tabindex: '0', role: 'slider', 'aria-valuemin': '0', 'aria-valuemax': '100' });
  private readonly cursor = el('div', { class: 'cursor' });
  /** The keyboard's point on the bar (null: not moved yet, the first footage). */
  private cursorMs: number | null = null;
  private readonly loading = el('p', { class: 'loading', role: 'status' });
  private readonly ticks = el('div', { class: 'ticks' });
  private readonly day = el('input', { type: 'date' });
  private readonly video = el('video', { controls: '', playsinline: '', muted: '' });
  /** Footage in view over an hour plays as one HLS playlist: a click in it is a seek. */
  private readonly range = new RangePlayer(this.video);
  private readonly notice = el('div', { class: 'notice', role: 'status' });
  private readonly inOut = el('span');
  private readonly download = el('a', { class: 'download' }, 'Download clip');
  private readonly format = el('select');
  private timeline: Timeline | null = null;
  private readonly dayLength = el('span', { class: 'day-length' });
  /** The local day shown: from its midnight to the next (23 or 25 hours when clocks change), from the server. */
  private dayStart = 0;
  private dayMs = 24 * HOUR_MS;
  /** The bar shows [viewStart, viewStart + viewMs): the whole day, or zoomed to the footage. */
  private viewStart = 0;
  private viewMs = 24 * HOUR_MS;
  /** Wall time of the playing clip's first frame (from the server's X-Clip-Start). */
  private playingFrom: number | null = null;
  private inMs: number | null = null;
  private outMs: number | null = null;
  private marks: HTMLElement[] = [];

  constructor(private readonly summary: DeviceSummary) {
    this.root.dataset.device = summary.device;
    // Muted, so that play() after the HEAD request is allowed without a fresh user gesture.
    this.video.muted = true;
    const heading = el('h2');
    heading.append(el('a', { href: `?device=${encodeURIComponent(summary.device)}`, title: `only ${summary.device}` }, summary.device));
    this.bar.setAttribute('aria-label', `${summary.device}: footage of the day; arrows move, Enter plays`);
    this.day.id = `day-${summary.device}`;
    this.format.setAttribute('aria-label', 'clip format');
    this.root.append(
      heading,
      el(
        'div',
        { class: 'summary' },
        `${summary.segments === null || summary.bytes === null ? 'in the archive bucket' : `${summary.segments} segments, ${bytes(summary.bytes)}${summary.stored === 'both' ? ' on the volume, more in the archive bucket' : ''}`}, footage ${summary.firstFootage ?? '-'} to ${summary.lastFootage ?? '-'}; recorder ${summary.recorder.state}`,
      ),
    );
    this.day.addEventListener('change', () => {
      if (/^\d{4}-\d{2}-\d{2}$/.test(this.day.value)) this.show(this.day.value);
    });
    const whole = el('button', { type: 'button', class: 'zoom-day' }, 'Whole day');
    const fit = el('button', { type: 'button', class: 'zoom-footage' }, 'Zoom to footage');
    whole.addEventListener('click', () => {
      this.viewStart = this.dayStart;
      this.viewMs = this.dayMs;
      this.draw();
    });
    fit.addEventListener('click', () => this.zoomToFootage());
    for (const f of Object.keys(CLIP_CHOICES)) this.format.append(el('option', { value: f }, f));
    const setIn = el('button', { type: 'button', class: 'set-in' }, 'Set in');
    const setOut = el('button', { type: 'button', class: 'set-out' }, 'Set out');
    setIn.addEventListener('click', () => this.mark('in'));
    setOut.addEventListener('click', () => this.mark('out'));
    this.format.addEventListener('change', () => this.updateDownload());
    this.bar.addEventListener('click', (e) => {
      const box = this.bar.getBoundingClientRect();
      const ms = this.viewStart + ((e.clientX - box.left) / box.width) * this.viewMs;
      this.cursorMs = ms;
      this.play(ms);
    });
    this.bar.addEventListener('keydown', (e) => this.key(e));
    this.video.addEventListener('playing', () => this.busy(''));
    this.video.addEventListener('error', () => {
      this.busy('');
      this.say(`This browser cannot play this clip (${this.video.error?.message || `media error ${this.video.error?.code ?? ''}`}). Download it to watch in VLC or ffplay.`);
    });
    const controls = el('div', { class: 'controls' });
    controls.append(el('label', { for: this.day.id }, 'Day'), this.day, this.dayLength, whole, fit, setIn, setOut, this.inOut, this.format, this.download);
    this.root.append(controls, this.bar, this.ticks, this.loading, this.notice, this.video);
    attachThumbnails(this.bar, summary.device, (x) => {
      const box = this.bar.getBoundingClientRect();
      const ms = this.viewStart + ((x - box.left) / box.width) * this.viewMs;
      return this.spanAt(ms) ? ms : null;
    });
    this.video.addEventListener('hls-error', (e) => {
      this.busy('');
      this.say(`Could not play: ${(e as CustomEvent<string>).detail}`);
    });
    this.updateDownload();
  }

  /** Plays from a point; what goes wrong is said on the page, never left to the console. */
  private play(ms: number): void {
    this.playAt(ms).catch((err: unknown) => {
      this.busy('');
      this.say(`Could not play: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** Shows a local day; what goes wrong is said on the page. */
  show(day: string): void {
    this.load(day).catch((err: unknown) => this.say(`Could not load ${day}: ${err instanceof Error ? err.message : String(err)}`));
  }

  /** Loads a local day (`YYYY-MM-DD`) in the viewer's zone; without one, the day of the last footage. */
  async load(day?: string): Promise<void> {
    const query = new URLSearchParams({ device: this.summary.device, tz: timeZone });
    if (day !== undefined) query.set('day', day);
    this.busy('Loading timeline…');
    try {
      this.timeline = await getJson<Timeline>(`/api/timeline?${query.toString()}`);
    } finally {
      this.busy('');
    }
    this.cursorMs = null;
    this.dayStart = Date.parse(this.timeline.start);
    this.dayMs = Date.parse(this.timeline.end) - this.dayStart;
    this.viewStart = this.dayStart;
    this.viewMs = this.dayMs;
    this.day.value = this.timeline.day ?? '';
    const hours = Math.round(this.dayMs / HOUR_MS);
    this.dayLength.textContent = hours === 24 ? '' : `${hours}-hour day (clocks change)`;
    this.draw();
    const codecs = new Set(this.timeline.spans.flatMap((s) => s.segments.map((g) => g.codecs.video)));
    const unplayable = [...codecs].filter((c) => !playable(c));
    if (unplayable.length > 0) {
      const names = unplayable.map((c) => (c === null ? 'unknown' : (CODEC_NAMES[c] ?? c))).join(', ');
      this.say(`This browser cannot play ${names} video: it plays here converted to H.264 by the server (up to ${TRANSCODE_HEIGHT} lines); downloads keep the recorded video.`);
    } else this.say('');
  }

  /** The local date on show, if any. */
  shownDay(): string | undefined {
    return this.timeline?.day ?? undefined;
  }

  /** The instant that stands for what is on show: its first footage, else the middle of the view. */
  anchor(): number {
    const first = this.timeline?.spans[0];
    return first ? Math.max(Date.parse(first.start), this.viewStart) : this.viewStart + this.viewMs / 2;
  }

  private position(ms: number): string {
    return `${(Math.min(Math.max(ms - this.viewStart, 0), this.viewMs) / this.viewMs) * 100}%`;
  }

  /** Fits the bar to the day's footage (a few minutes of it are a sliver on a 24-hour bar). */
  zoomToFootage(): void {
    const spans = this.timeline?.spans ?? [];
    const first = spans[0];
    const last = spans.at(-1);
    if (!first || !last) return;
    const s = Date.parse(first.start);
    const e = Date.parse(last.end);
    const pad = Math.max((e - s) * 0.02, 1000);
    this.viewStart = s - pad;
    this.viewMs = e - s + 2 * pad;
    this.draw();
  }

  private draw(): void {
    this.bar.replaceChildren();
    this.marks = [];
    const t = this.timeline;
    if (!t) return;
    const place = (node: HTMLElement, s: number, e: number): void => {
      node.style.left = this.position(s);
      node.style.width = `calc(${this.position(e)} - ${this.position(s)})`;
      node.dataset.start = iso(s);
      node.dataset.end = iso(e);
    };
    for (const footage of t.spans) {
      const s = Date.parse(footage.start);
      const e = Date.parse(footage.end);
      const node = el('div', { class: 'span', title: `${between(s, e)} (${footage.segments.length} segments)` });
      place(node, s, e);
      this.bar.append(node);
    }
    for (const gap of t.gaps) {
      const s = Date.parse(gap.start);
      const e = Date.parse(gap.end);
      const node = el('div', { class: 'gap', title: `no footage ${between(s, e)} (${gap.durationSeconds} s)` });
      place(node, s, e);
      this.bar.append(node);
    }
    this.ticks.replaceChildren();
    for (const ms of this.tickTimes()) {
      const tick = el('span', {}, this.viewMs >= 6 * HOUR_MS ? clock(ms, { seconds: false }) : clock(ms));
      tick.style.left = this.position(ms);
      this.ticks.append(tick);
    }
    const cursor = this.cursorAt();
    if (cursor !== null) {
      this.cursor.style.left = this.position(cursor);
      this.bar.append(this.cursor);
      this.bar.setAttribute('aria-valuenow', ((100 * (cursor - this.viewStart)) / this.viewMs).toFixed(1));
      this.bar.setAttribute('aria-valuetext', clock(cursor, { zone: true }));
    }
    for (const ms of [this.inMs, this.outMs]) {
      if (ms === null) continue;
      const m = el('div', { class: 'mark' });
      m.style.left = this.position(ms);
      this.bar.append(m);
      this.marks.push(m);
    }
  }

  /**
   * Where the bar's labels go: on whole local hours (so a 25-hour day shows its 01:00 twice and a +05:30 zone
   * its own midnight), every 1 to 6 hours; a view under 2 hours gets eight even steps.
   */
  private tickTimes(): number[] {
    const hours = this.viewMs / HOUR_MS;
    if (hours < 2) return Array.from({ length: 9 }, (_, i) => this.viewStart + (i / 8) * this.viewMs);
    const step = [1, 2, 3, 4, 6].find((h) => hours / h <= 9) ?? 6;
    const out: number[] = [];
    // Local whole hours fall on UTC quarter hours in every zone in use (+05:45 included).
    const quarter = 15 * 60 * 1000;
    for (let ms = Math.ceil(this.viewStart / quarter) * quarter; ms <= this.viewStart + this.viewMs; ms += quarter) {
      const [hour, minute] = localHourMinute(ms);
      if (minute === 0 && hour % step === 0) out.push(ms);
    }
    return out;
  }

  /** The keyboard's point: where it was moved, else the first footage in view, else the view's start. */
  private cursorAt(): number | null {
    if (!this.timeline) return null;
    if (this.cursorMs !== null) return this.cursorMs;
    const first = this.timeline.spans.find((s) => Date.parse(s.end) > this.viewStart);
    return first ? Math.max(Date.parse(first.start), this.viewStart) : this.viewStart;
  }

  private key(e: KeyboardEvent): void {
    const now = this.cursorAt();
    if (now === null) return;
    const step = this.viewMs / 100;
    const moves: Record<string, number> = { ArrowLeft: -step, ArrowRight: step, ArrowDown: -step, ArrowUp: step, PageDown: -10 * step, PageUp: 10 * step };
    if (e.key in moves) this.cursorMs = Math.min(Math.max(now + moves[e.key]!, this.viewStart), this.viewStart + this.viewMs);
    else if (e.key === 'Home') this.cursorMs = this.viewStart;
    else if (e.key === 'End') this.cursorMs = this.viewStart + this.viewMs;
    else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.play(now);
      return;
    } else return;
    e.preventDefault();
    this.draw();
  }

  private spanAt(ms: number): Span | undefined {
    return this.timeline?.spans.find((s) => Date.parse(s.start) <= ms && ms < Date.parse(s.end));
  }

  /** Plays from a wall time: the server cuts an MP4 from the keyframe at or before it, streamed. */
  async playAt(ms: number): Promise<void> {
    const span = this.spanAt(ms);
    if (!span) {
      this.say(`No footage at ${clock(ms, { zone: true })}.`);
      return;
    }
    const end = Math.min(Date.parse(span.end), ms + PLAY_MS);
    const recorded = span.segments.find((g) => Date.parse(g.start) <= ms && ms < Date.parse(g.end))?.codecs.video ?? span.segments[0]?.codecs.video ?? null;
    // What the browser cannot decode, the server re-encodes (from the keyframe before the point, as a copy would).
    const transcode = playable(recorded) ? '' : `&video=h264&height=${TRANSCODE_HEIGHT}`;
    const long = longRange(this.timeline?.spans ?? [], this.viewStart, this.viewMs, ms);
    if (long) {
      this.busy(`Loading footage from ${clock(ms)}…`);
      this.playingFrom = null;
      await this.range.play(`/api/hls/${encodeURIComponent(this.summary.device)}.m3u8?start=${iso(long.start)}&end=${iso(long.end)}${transcode}`, ms);
      return;
    }
    this.range.stop();
    this.video.dataset.player = 'clip';
    const url = `/api/clip?device=${encodeURIComponent(this.summary.device)}&start=${iso(ms)}&end=${iso(end)}&format=mp4${transcode}`;
    this.busy(`Loading clip from ${clock(ms)}…`);
    // The clip's real start (a keyframe) is in a header; ask for it before the video loads the same URL.
    const head = await fetch(url, { method: 'HEAD' });
    if (!head.ok) {
      this.busy('');
      this.say(`Could not play from ${clock(ms)}: the server answered ${head.status}${head.status === 503 ? ' (busy; try again in a few seconds)' : ''}.`);
      return;
    }
    const start = head.headers.get('x-clip-start');
    this.playingFrom = start !== null ? Date.parse(start) : ms;
    this.video.src = url;
    this.video.dataset.start = start ?? iso(ms);
    this.video.play().catch((err: unknown) => this.say(`Could not start playing: ${err instanceof Error ? err.message : String(err)}`));
  }

  /**
   * From live view back to the recording at the same wall time: that day's timeline, played from there; past
   * the last finished segment (the one being recorded is not served yet), from that segment's last seconds.
   */
  async jumpTo(ms: number): Promise<void> {
    if (this.timeline === null || ms < this.dayStart || ms >= this.dayStart + this.dayMs) await this.load(localDate(ms));
    const last = this.timeline?.spans.at(-1);
    const at = last !== undefined && ms >= Date.parse(last.end) ? Math.max(Date.parse(last.start), Date.parse(last.end) - 10_000) : ms;
    this.cursorMs = at;
    this.draw();
    this.root.scrollIntoView({ block: 'start' });
    await this.playAt(at);
    if (at !== ms) this.say(`Recorded up to ${clock(at + 10_000)}: playing its last seconds (the segment being recorded is not finished yet).`);
  }

  /** Now: the playing position, or the start of the day's footage before anything played. */
  private now(): number | null {
    const inRange = this.range.wallTimeOf(this.video.currentTime);
    if (this.video.dataset.player === 'hls' && inRange !== null) return inRange;
    if (this.playingFrom !== null) return this.playingFrom + this.video.currentTime * 1000;
    const first = this.timeline?.spans[0];
    return first ? Date.parse(first.start) : null;
  }

  mark(which: 'in' | 'out'): void {
    const ms = this.now();
    if (ms === null) return;
    if (which === 'in') this.inMs = ms;
    else this.outMs = ms;
    this.draw();
    this.updateDownload();
  }

  /** In/out points from code (e.g. typed times); drawn and offered for download like marked ones. */
  setRange(inMs: number, outMs: number): void {
    this.inMs = inMs;
    this.outMs = outMs;
    this.draw();
    this.updateDownload();
  }

  private updateDownload(): void {
    const ready = this.inMs !== null && this.outMs !== null && this.outMs > this.inMs;
    this.inOut.textContent = `in ${this.inMs === null ? '-' : clock(this.inMs)} out ${this.outMs === null ? '-' : clock(this.outMs)}`;
    if (ready) {
      this.download.href = `/api/clip?device=${encodeURIComponent(this.summary.device)}&start=${iso(this.inMs!)}&end=${iso(this.outMs!)}&format=${this.format.value}`;
      this.download.removeAttribute('aria-disabled');
    } else {
      this.download.removeAttribute('href');
      this.download.setAttribute('aria-disabled', 'true');
    }
  }

  say(text: string): void {
    this.notice.textContent = text;
  }

  /** The loading state: a line saying what is on its way, and aria-busy on the device while it is. */
  private busy(text: string): void {
    this.loading.textContent = text;
    if (text === '') this.root.removeAttribute('aria-busy');
    else this.root.setAttribute('aria-busy', 'true');
  }
}

/** What the all-cameras view and its synchronized player use of this page. */
const multiKit: MultiKit = {
  el,
  getJson,
  clock,
  localDate,
  timeZone: () => timeZone,
  clipUrl: (device, startMs, endMs, codec) =>
    `/api/clip?device=${encodeURIComponent(device)}&start=${iso(startMs)}&end=${iso(endMs)}&format=mp4${playable(codec) ? '' : `&video=h264&height=${TRANSCODE_HEIGHT}`}`,
};

/** The zone chooser: every zone the browser knows, the current one selected; a choice is remembered. */
function zoneChooser(onChange: () => void): void {
  const select = document.getElementById('zone') as HTMLSelectElement;
  const zones = new Set(Intl.supportedValuesOf('timeZone'));
  zones.add('UTC');
  zones.add(timeZone);
  zones.add(browserZone());
  select.replaceChildren(...[...zones].sort().map((z) => el('option', { value: z }, z === browserZone() ? `${z} (this device)` : z)));
  select.value = timeZone;
  select.addEventListener('change', () => {
    timeZone = knownZone(select.value) ?? browserZone();
    try {
      localStorage.setItem(ZONE_KEY, timeZone);
    } catch {
      // Not remembered where storage is off; the choice still holds on this page.
    }
    onChange();
  });
}

async function main(): Promise<void> {
  const status = document.getElementById('status')!;
  const list = document.getElementById('devices')!;
  // `?device=cam`: that camera alone, its name in the title (a tab per camera tells them apart).
  const only = new URLSearchParams(location.search).get('device');
  if (only !== null) {
    document.title = `${only} · Recorded footage · shifu-rtsp`;
    const heading = document.querySelector('h1')!;
    heading.textContent = only;
    heading.after(el('a', { href: '/', class: 'all-devices' }, '← all devices'));
  }
  try {
    // Asked first, on an open route: a page without the token shows its form, with no 401 in the console.
    const session = await getJson<{ tokenRequired: boolean; authorized: boolean; tokenSecret?: string }>('/api/session');
    tokenSecret = session.tokenSecret;
    if (!session.authorized) throw new TokenRequired('this server needs its access token');
    const all = (await getJson<{ devices: DeviceSummary[] }>('/api/devices')).devices;
    const devices = only === null ? all : all.filter((d) => d.device === only);
    status.classList.remove('loading');
    status.textContent =
      only !== null && devices.length === 0 ? `No recordings of ${only} on this volume.` : devices.length === 0 ? 'No recordings on this volume yet.' : `${devices.length} device(s).`;
    const views = devices.map((d) => new DeviceView(d));
    list.replaceChildren(...views.map((v) => v.root));
    // Two cameras or more: all of them on one axis above the per-device sections, on the day of the last footage.
    const allCameras = only === null && devices.length >= 2 ? new AllCamerasView(multiKit, devices.map((d) => d.device)) : null;
    if (allCameras) list.before(allCameras.root);
    // Another zone: the day, in that zone, of what was on show.
    zoneChooser(() => {
      views.forEach((v) => v.show(localDate(v.anchor())));
      const cursor = allCameras?.cursor();
      if (allCameras && cursor != null) allCameras.show(localDate(cursor));
    });
    const last = Math.max(...devices.map((d) => (d.lastFootage === null ? 0 : Date.parse(d.lastFootage) - 1)));
    await Promise.all([...views.map((v) => v.load()), ...(allCameras ? [allCameras.load(localDate(last))] : [])]);
    (window as unknown as { multicam?: AllCamerasView }).multicam = allCameras ?? undefined;
    // For scripts and tests: the views by device name.
    const byDevice: Record<string, DeviceView> = Object.fromEntries(devices.map((d, i) => [d.device, views[i]!]));
    (window as unknown as { playback: Record<string, DeviceView> }).playback = byDevice;
    void showLive(only, byDevice);
    document.body.dataset.ready = 'true';
  } catch (err) {
    if (err instanceof TokenRequired) askForToken(status);
    else {
      status.classList.remove('loading');
      status.textContent = `Could not load: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
}

/** The live grid (`?live=webrtc` or `?live=hls` takes only that way); a list the server cannot give is said. */
async function showLive(only: string | null, views: Record<string, DeviceView>): Promise<void> {
  const section = document.getElementById('live')!;
  const grid = document.getElementById('live-grid')!;
  const way = new URLSearchParams(location.search).get('live');
  try {
    const all = (await getJson<{ devices: LiveDevice[] }>('/api/live')).devices;
    showLiveGrid(section, grid, only === null ? all : all.filter((d) => d.device === only), {
      only: way === 'webrtc' || way === 'hls' ? way : null,
      backToRecording: (device, ms) => {
        const view = Object.hasOwn(views, device) ? views[device] : undefined;
        if (view === undefined) return false;
        view.jumpTo(ms).catch((err: unknown) => view.say(`Could not go back to the recording: ${err instanceof Error ? err.message : String(err)}`));
        return true;
      },
    });
  } catch (err) {
    section.hidden = false;
    grid.textContent = `Live view could not be listed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** A form for the token: sent once as /?access_token=..., which the server turns into a cookie and a redirect to /. */
/** The Secret this server's token comes from, as the server says (PLAYBACK_TOKEN_SECRET; the manifests set it). */
let tokenSecret: string | undefined;

function askForToken(status: HTMLElement): void {
  const form = el('form', { id: 'token-form', method: 'get', action: '/' });
  const label = el('label', { for: 'access-token' }, 'Access token ');
  const input = el('input', { id: 'access-token', name: 'access_token', type: 'password', autocomplete: 'current-password', required: '' });
  form.append(label, input, el('button', { type: 'submit' }, 'Open'));
  status.classList.remove('loading');
  status.textContent = `This server needs its access token (${tokenSecret === undefined ? 'PLAYBACK_TOKEN' : `the Secret ${tokenSecret}, key token`}).`;
  status.after(form);
  document.body.dataset.needsToken = 'true';
}

void main();
