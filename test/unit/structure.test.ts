// The design's structural rules, checked on the sources: one owner per format, no cycles between modules.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../functions');

function sources(dir = ROOT, names = /\.ts$/): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name), names) : names.test(e.name) ? [path.join(dir, e.name)] : [],
  );
}

/** `recorder` for functions/recorder/x.ts; null for files at the top (the CLI and its command wiring). */
function moduleOf(file: string): string | null {
  const parts = path.relative(ROOT, file).split(path.sep);
  return parts.length > 1 ? parts[0]! : null;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
}

describe('structure', () => {
  it('the journal path and format are coded only in the contracts', () => {
    const offenders = sources()
      .filter((f) => moduleOf(f) !== 'contracts')
      .filter((f) => /['"`]segments\.jsonl['"`]|parseJsonLines/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f));
    expect(offenders).toEqual([]);
  });

  it('modules import each other without a cycle, and command wiring is not in a module index', () => {
    const edges = new Map<string, Set<string>>();
    for (const file of sources()) {
      const from = moduleOf(file);
      if (from === null) continue;
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const to = moduleOf(path.resolve(path.dirname(file), spec));
        if (to !== null && to !== from) (edges.get(from) ?? edges.set(from, new Set()).get(from)!).add(to);
      }
    }
    const cycles: string[] = [];
    const walk = (node: string, trail: string[]): void => {
      if (trail.includes(node)) {
        cycles.push([...trail.slice(trail.indexOf(node)), node].join(' -> '));
        return;
      }
      for (const next of edges.get(node) ?? []) walk(next, [...trail, node]);
    };
    for (const node of edges.keys()) walk(node, []);
    expect(cycles).toEqual([]);
    // lib's command.ts is the command framework, not a command.
    const wiring = sources()
      .filter((f) => path.basename(f) === 'index.ts' && !['lib', null].includes(moduleOf(f)))
      .filter((f) => /Command\b.*from '\.\/command\.js'/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f));
    expect(wiring).toEqual([]);
  });

  it('starts every ffmpeg and ffprobe of the playback server through its one limit (ffmpeg-slots.ts)', () => {
    const starters = sources()
      .filter((f) => moduleOf(f) === 'playback' && path.basename(f) !== 'ffmpeg-slots.ts')
      .filter((f) => /^import(?!\s+type\b)[^;]*from\s+'node:child_process'/m.test(readFileSync(f, 'utf8')) || /\bimport\(\s*'node:child_process'/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f));
    expect(starters).toEqual([]);
  });

  it('imports packages only through their public entry points, never their dist/ files', () => {
    const deep = sources().flatMap((f) =>
      importsOf(f)
        .filter((spec) => !spec.startsWith('.') && /^(?:@[^/]+\/)?[^/@]+\/(?:dist|lib|build|src)\//.test(spec))
        .map((spec) => `${path.relative(ROOT, f)}: ${spec}`),
    );
    expect(deep).toEqual([]);
  });

  it('turns on no Prometheus exemplars: the recorder bundle has no tracing API for them (functions/lean-no-tracing.ts)', () => {
    const users = sources().filter((f) => /\b(?:enableExemplars|exemplarLabels)\b/.test(readFileSync(f, 'utf8'))).map((f) => path.relative(ROOT, f));
    expect(users).toEqual([]);
  });

  it('serves every one of our HTTP servers on one stack, node:http: no second framework to patch and tune', async () => {
    const frameworks = ['fastify', 'express', 'koa', 'hapi'];
    const users = sources().flatMap((f) => importsOf(f).filter((spec) => frameworks.includes(spec)).map((spec) => `${path.relative(ROOT, f)}: ${spec}`));
    expect(users).toEqual([]);
    const pkg = JSON.parse(readFileSync(path.resolve(ROOT, '../package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies).filter((d) => frameworks.includes(d))).toEqual([]);
  });

  it('names in package.json only entry points the build makes (bin, main, exports): each from a source file', () => {
    const pkg = JSON.parse(readFileSync(path.resolve(ROOT, '../package.json'), 'utf8')) as Record<string, unknown>;
    const named = [pkg.main, pkg.bin, pkg.exports].flatMap(function paths(v: unknown): string[] {
      if (typeof v === 'string') return [v];
      return v !== null && typeof v === 'object' ? Object.values(v).flatMap(paths) : [];
    });
    expect(named.length).toBeGreaterThan(0);
    // tsc maps functions/x.ts to dist/functions/x.js (tsconfig's outDir, rootDir the repository).
    const missing = named.filter((p) => !/^(?:\.\/)?dist\/.+\.js$/.test(p) || !existsSync(path.resolve(ROOT, '..', p.replace(/^(?:\.\/)?dist\//, '').replace(/\.js$/, '.ts'))));
    expect(missing).toEqual([]);
  });

  it('writes durably in one place: no fsync or rename outside durable/index.ts but the named exceptions', () => {
    // Each exception says why it cannot go through durable/index.ts.
    const exceptions: Record<string, string> = {
      'lib/files.ts': 'moveNoReplace: a link+unlink move that never replaces a file, rename only where links fail',
      'recorder/lease.ts': 'the lease is one O_EXCL handle: created, written and fsynced as the same open file',
      'recorder/journal-writer.ts': 'the journal append reads its own last byte through the same handle to mend a torn line',
    };
    // A rename named in the import, or called on node:fs itself however it is imported (`import * as fsp`, a default
    // import, `fs.promises`): a DurableFs's rename (events' outbox, with its syncDir) goes through lib's interface.
    const renamesOnFs = (text: string): boolean => {
      const names = [...text.matchAll(/^import\s+(?:\*\s+as\s+)?(\w+)\s+from\s+'(?:node:)?fs(?:\/promises)?'/gm)].map((m) => m[1]!);
      return names.some((n) => new RegExp(`\\b${n}\\.(?:promises\\.)?rename(?:Sync)?\\(`).test(text)) || /\brenameSync\(/.test(text);
    };
    const offenders = sources()
      .filter((f) => !f.endsWith(path.join('durable', 'index.ts')) && !(path.relative(ROOT, f) in exceptions))
      .filter((f) => {
        const text = readFileSync(f, 'utf8');
        return /\.sync\(\)|\bfsync\w*\(|^import[^;]*\brename\b[^;]*from\s+'(?:node:)?fs(?:\/promises)?'/m.test(text) || renamesOnFs(text);
      })
      .map((f) => path.relative(ROOT, f));
    expect(offenders).toEqual([]);
  });

  it('splits the recorder along its jobs: the supervisor starts attempts, only an attempt probes, relays or runs ffmpeg, and the store neither remuxes nor recovers', () => {
    // MediaMTX's model: a long-lived Recorder restarting a short-lived instance. Each job has one file, so a
    // change to one (the probe, the relay, retention) never has to read past the others.
    const jobs: Record<string, RegExp> = {
      'recorder/recorder.ts': /^import(?!\s+type\b)[^;]*from\s+'\.\/(?:probe|camera-relay|ffmpeg-run|retention|rtsp-check)\.js'/gm,
      // The store finishes files; repairs (segment-repair.ts) run ffmpeg, crash recovery (crash-recovery.ts) lists leftovers.
      'recorder/segment-store.ts': /^import(?!\s+type\b)[^;]*from\s+'node:child_process'|^\s+async recover\(/gm,
    };
    const reached = Object.entries(jobs).flatMap(([file, pattern]) =>
      [...readFileSync(path.join(ROOT, file), 'utf8').matchAll(pattern)].map((m) => `${file}: ${m[0].replace(/\s+/g, ' ')}`),
    );
    expect(reached).toEqual([]);
  });

  it('keeps files under 400 lines, or says at the top why one is longer: the product, its tests, benches and scripts', () => {
    const repo = path.dirname(ROOT);
    const long = ['functions', 'test', '.ci']
      .flatMap((dir) => sources(path.join(repo, dir), /\.(?:ts|mjs|sh|py)$/))
      .map((f) => ({ file: path.relative(repo, f), text: readFileSync(f, 'utf8') }))
      .filter(({ text }) => text.split('\n').length > 400)
      // The reason sits in the file's opening comment (after a #! line), where a reader starts.
      .filter(({ text }) => !/^(?:#!.*\n)?(?:(?:\/\/|#).*\n)*(?:\/\/|#) Over 400 lines because /.test(text))
      .map(({ file }) => file);
    expect(long).toEqual([]);
  });

  it('files import each other without a cycle, type-only imports included', () => {
    // A cycle between two files, even of types only, means neither is the contract of the other: put the
    // shared contract in a file both import (as mock-camera's client.ts, shifu-tcp's ClientHost).
    const edges = new Map<string, string[]>();
    for (const file of sources()) {
      const targets = importsOf(file)
        .filter((spec) => spec.startsWith('.'))
        .map((spec) => path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'))
        .filter((target) => existsSync(target));
      edges.set(file, targets);
    }
    const cycles = new Set<string>();
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.add([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(ROOT, f)).join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const next of edges.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of edges.keys()) visit(file, []);
    expect([...cycles]).toEqual([]);
  });

  it("defines each function of the browser pages once: the two pages' players share lib/page/players.ts", () => {
    // The forwarder's live page and the playback page are two programs served by two servers; what both need
    // lives in lib/page/, compiled into each through its tsconfig's rootDirs, not copied into each.
    const pageScripts = sources().filter((f) => path.basename(path.dirname(f)) === 'page');
    const homes = new Map<string, string[]>();
    for (const file of pageScripts) {
      for (const m of readFileSync(file, 'utf8').matchAll(/^(?:export\s+)?(?:async\s+)?function\s+(\w+)/gm)) {
        homes.set(m[1]!, [...(homes.get(m[1]!) ?? []), path.relative(ROOT, file)]);
      }
    }
    expect(pageScripts.length).toBeGreaterThan(3);
    expect([...homes].filter(([, files]) => files.length > 1)).toEqual([]);
  });

  it('tests and benches make a journaled segment with segmentFixture (test/support/segment.ts), never field by field', () => {
    // A segment written out by hand restates the contract (its fields, its name by the recorder's rule) and
    // drifts when a field is added; the fixture names it by the contracts' own rule and each test writes only
    // what it is about. Caught: a cast to Segment, a `: Segment =` literal, and any object literal (or type)
    // holding three or more of a segment's own fields, in any order, shorthand included.
    const tests = path.resolve(ROOT, '../test');
    const fixture = path.join(tests, 'support', 'segment.ts');
    const OWN_FIELDS = ['absolutePath', 'durationSeconds', 'endTime', 'mimeType', 'recovered', 'gapBeforeSeconds'];
    /** The text of each {...} block without its nested blocks (braces in strings are rare enough in tests). */
    const blocks = (text: string): string[] => {
      const found: string[] = [];
      const open: Array<{ parts: string[]; from: number }> = [];
      let from = 0;
      for (let i = 0; i < text.length; i++) {
        if (text[i] === '{') {
          open.at(-1)?.parts.push(text.slice(from, i));
          open.push({ parts: [], from: i + 1 });
          from = i + 1;
        } else if (text[i] === '}' && open.length > 0) {
          const block = open.pop()!;
          block.parts.push(text.slice(from, i));
          found.push(block.parts.join(' '));
          from = i + 1;
        }
      }
      return found;
    };
    const byHand = (text: string): boolean =>
      /\bas\s+(?:unknown\s+as\s+)?Segment\b(?!\[)|:\s*Segment\s*=\s*\{/.test(text.replace(/JSON\.parse\([^)]*\)\s+as\s+Segment\b/g, '')) ||
      blocks(text).some((b) => OWN_FIELDS.filter((f) => new RegExp(`(?:^|[\\s,;])${f}\\s*[:,;?]|(?:^|[\\s,;])${f}\\s*$`).test(b)).length >= 3);
    const found = sources(tests)
      .filter((f) => f !== fixture && byHand(readFileSync(f, 'utf8')))
      .map((f) => path.relative(tests, f));
    expect(found).toEqual([]);
  });
});
