// The contracts' floor (functions/contracts): what one module writes and others read is decided there once, and
// readers depend on it, never on the module that writes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../functions');

function sources(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

const rel = (file: string): string => path.relative(ROOT, file);
const inContracts = (file: string): boolean => rel(file).startsWith(`contracts${path.sep}`);

/** What a file loads when it runs: imports and re-exports, less those of types only (erased by tsc). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+([^'";]*?)\s*from\s+'([^']+)'/gm)) {
    const clause = m[2]!.trim();
    if (/^type\b/.test(clause)) continue;
    const names = /^\{([^}]*)\}$/.exec(clause)?.[1];
    if (names !== undefined && names.split(',').map((n) => n.trim()).filter((n) => n !== '').every((n) => n.startsWith('type '))) continue;
    out.push(m[3]!);
  }
  for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

function resolveLocal(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const target = path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts');
  return existsSync(target) ? target : null;
}

/** Every source file `entry` loads at run time, itself included. */
function loads(entry: string): Set<string> {
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      const next = resolveLocal(file, spec);
      if (next) walk(next);
    }
  };
  walk(path.join(ROOT, entry));
  return seen;
}

describe('contracts', () => {
  it('load no implementation: a contract imports only zod, node built-ins and other contracts (event-receive.ts alone the CloudEvents SDK)', () => {
    const offenders = sources()
      .filter(inContracts)
      .flatMap((f) =>
        runtimeImports(f)
          .filter((spec) => !(spec === 'zod' || spec.startsWith('node:') || (spec.startsWith('./') && !spec.includes('/', 2))))
          .filter((spec) => !(rel(f) === path.join('contracts', 'event-receive.ts') && spec === 'cloudevents'))
          .map((spec) => `${rel(f)}: ${spec}`),
      );
    expect(offenders).toEqual([]);
  });

  it("readers load the contracts, never the writer: playback, export, events, the subscriber and control load no recorder file; control no forwarder file", () => {
    const moduleOf = (f: string): string => rel(f).split(path.sep)[0]!;
    const loaded = (entry: string, forbidden: string): string[] => [...loads(entry)].filter((f) => moduleOf(f) === forbidden).map(rel);
    for (const entry of ['playback/index.ts', 'export/index.ts', 'events/index.ts', 'subscriber/index.ts', 'control/index.ts']) {
      expect({ entry, recorder: loaded(entry, 'recorder') }).toEqual({ entry, recorder: [] });
    }
    expect(loaded('control/index.ts', 'shifu-tcp')).toEqual([]);
    // Control's Kubernetes side names the archive's Secret (a contract) and loads none of the archive's code.
    expect(loaded('control/kubernetes-backend.ts', 'archive')).toEqual([]);
    // The sample subscriber needs the event's schema and its check, and a durable append: not the producer's
    // outbox, sink or announcer, nor all of lib (a Knative function's cold start loads every file it names).
    expect([...loads('subscriber/index.ts')].map(rel).sort()).toEqual(
      ['contracts/event-receive.ts', 'contracts/events.ts', 'contracts/recorder-status.ts', 'durable/index.ts', 'subscriber/index.ts', 'subscriber/segment-index.ts'].map((f) => f.split('/').join(path.sep)),
    );
  });

  it("the recorder's readers and followers name no recorder file, not even a type: they take its contracts (ArchivedRecorder, AnnouncedRecorder)", () => {
    const followers = new Set(['archive', 'events', 'subscriber', 'playback', 'export', 'control']);
    const offenders = sources()
      .filter((f) => followers.has(rel(f).split(path.sep)[0]!))
      .filter((f) => /from '\.\.\/recorder\//.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('the volume layout and the file names are coded only in contracts/volume.ts', () => {
    // Folders and files; and a segment's name: its UTC stamp built (compactUtc's replace) or read back (a stamp regex).
    const layout = /'\.recording'|'\.shifu-rtsp'|%05d|'outbox'|'dead-letter'|'recorder\.lease'|journal-cursor\.json|archive-cursor\.json|padStart\(5|replace\(\/\[-:\]\/g|\\d\{8\}T|\(\\d\{4\}\)\(\\d\{2\}\)\(\\d\{2\}\)T/;
    const offenders = sources()
      .filter((f) => !inContracts(f))
      .filter((f) => layout.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('lists the containers only in contracts/containers.ts: no hand-written list of formats or extensions elsewhere', () => {
    const list = /'(?:mp4|mkv|flv|ts)',\s*'(?:mp4|mkv|flv|ts)'|\b(?:mp4|mkv|flv|ts)\|(?:mp4|mkv|flv|ts)\b/;
    const offenders = sources()
      .filter((f) => !inContracts(f))
      .filter((f) => list.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it("names every environment variable in UPPER_SNAKE; the seed's names (RTSPServerAddress...) only as aliases after it", async () => {
    const { RECORDER_ENV } = await import('../../functions/contracts/index.js');
    const upper = /^[A-Z][A-Z0-9_]*$/;
    expect(Object.entries(RECORDER_ENV).filter(([, names]) => !upper.test(names[0])).map(([setting]) => setting)).toEqual([]);
    const named = sources().flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/\benv: \[((?:\s*'[^']*',?)+)\s*\]/g)].flatMap((m) => [...m[1]!.matchAll(/'([^']+)'/g)].map((n) => ({ file: rel(f), name: n[1]! }))),
    );
    // Option specs list their names as string literals: enough of them are found for the check to mean something.
    expect(named.length).toBeGreaterThan(50);
    expect(named.filter((n) => !upper.test(n.name))).toEqual([]);
  });

  it("the recorder's variable names are written only in contracts/recorder-env.ts", () => {
    const names = /'(RTSPServerAddress|FileSavePath|UserName|PasswordSecret|RTSP_URL|CAMERA_USERNAME|CAMERA_PASSWORD|RECORD_ROOT|SEGMENT_SECONDS|RECORD_FORMAT|RECORD_AUDIO|RETAIN_HOURS|RETAIN_BYTES|MIN_FREE_PERCENT|RECORDER_API_TOKEN|PASSWORD_FILE)'|\benv\.(UserName|PasswordSecret|FileSavePath|RTSPServerAddress)\b/;
    const offenders = sources()
      .filter((f) => !inContracts(f))
      .filter((f) => names.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('an EdgeDevice is read through its one schema (contracts/edgedevice.ts), never field by field', () => {
    const byHand = /\[['"](spec|customMetadata|protocolSettings)['"]\]/;
    const offenders = sources()
      .filter((f) => !inContracts(f))
      .filter((f) => byHand.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('the timeline is typed once: the page and export use the schema in contracts/timeline.ts', () => {
    for (const file of ['playback/page/app.ts', 'export/transfer.ts', 'playback/timeline.ts']) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      expect({ file, declares: /^\s*(?:export\s+)?interface\s+(Timeline|TimelineSegment|Span|TimelineAnswer)\b/m.test(text) }).toEqual({ file, declares: false });
      expect({ file, uses: /contracts\/(?:index|timeline)\.js'/.test(text) }).toEqual({ file, uses: true });
    }
  });
});
