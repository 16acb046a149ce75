// The storage roots one server reads: PLAYBACK_ROOT names one (a device's export pod) or several, comma-separated
// (the all-cameras pod, one mounted claim per device, each laid out as the recorder writes its --out). Each root
// has its own index and library; a request about a device goes to the root that holds its journal.
import { HttpError, type Logger } from '../lib/index.js';
import { FootageIndex, type FootageIndexOptions } from './footage-index.js';
import { Library, type DeviceSummary, type Footage } from './library.js';

export interface VolumesOptions {
  readonly roots: readonly string[];
  readonly indexDir?: string | undefined;
  readonly log: Logger;
  readonly onReadError?: FootageIndexOptions['onReadError'];
  readonly onBytesRead?: FootageIndexOptions['onBytesRead'];
}

export class Volumes {
  readonly libraries: readonly Library[];
  private readonly indexes: readonly FootageIndex[];

  constructor(o: VolumesOptions) {
    this.indexes = o.roots.map((root) => new FootageIndex({ root, indexDir: o.indexDir, log: o.log, onReadError: o.onReadError, onBytesRead: o.onBytesRead }));
    this.libraries = this.indexes.map((index) => new Library(index.root, { index }));
  }

  /** Starts reading every root's journals (the server already listens: answers wait or are 503 until done). */
  start(): void {
    for (const index of this.indexes) index.start();
  }

  async close(): Promise<void> {
    await Promise.all(this.indexes.map((index) => index.close()));
  }

  /** Every device of every root, by name; 503 while a root is read, 500 for a device in two roots. */
  async devices(): Promise<DeviceSummary[]> {
    if (this.libraries.length === 1) return this.libraries[0]!.devices();
    const all: DeviceSummary[] = [];
    for (const library of this.libraries) all.push(...(await library.devices()));
    const seen = new Set<string>();
    for (const d of all) {
      if (seen.has(d.device)) this.twice(d.device, await this.rootsOf(d.device));
      seen.add(d.device);
    }
    return all.sort((a, b) => a.device.localeCompare(b.device));
  }

  /**
   * The library that holds a device's journal. 404 when no root has it; a root that cannot be read is its error
   * (never "no such device": the device may be on it); a device in two roots is a 500 naming both.
   */
  async of(device: string, parameter = 'device'): Promise<Library> {
    if (this.libraries.length === 1) return this.libraries[0]!;
    // From the indexes' lists first (memory: a hundred roots cost nothing); only a name none lists makes each root
    // look on disk for a journal that appeared since its last pass.
    let { holders, failure } = await this.holdersOf((library) => library.knows(device));
    if (holders.length === 0) ({ holders, failure } = await this.holdersOf((library) => library.has(device)));
    if (holders.length > 1) this.twice(device, holders.map((l) => l.root));
    if (holders[0]) return holders[0];
    if (failure !== null) throw failure;
    throw new HttpError(404, `${parameter}: no recordings of ${device}`, 'not_found');
  }

  /** A device's segments overlapping [startMs, endMs), from the root that holds it (Library.footageBetween). */
  async footageBetween(device: string, startMs: number, endMs: number): Promise<Footage[]> {
    return (await this.of(device)).footageBetween(device, startMs, endMs);
  }

  /** One finished segment of a device, from the root that holds it (Library.file). */
  async file(device: string, name: string): Promise<Footage> {
    return (await this.of(device)).file(device, name);
  }

  private async holdersOf(holds: (library: Library) => Promise<boolean>): Promise<{ holders: Library[]; failure: unknown }> {
    const holders: Library[] = [];
    let failure: unknown = null;
    for (const library of this.libraries) {
      try {
        if (await holds(library)) holders.push(library);
      } catch (err) {
        failure ??= err;
      }
    }
    return { holders, failure };
  }

  private async rootsOf(device: string): Promise<string[]> {
    const out: string[] = [];
    for (const library of this.libraries) if (await library.has(device).catch(() => false)) out.push(library.root);
    return out;
  }

  private twice(device: string, roots: readonly string[]): never {
    throw new HttpError(500, `device: ${device} has a journal in more than one root (${roots.join(', ')}); PLAYBACK_ROOT must name each device's volume once`, 'device_in_two_roots');
  }
}
