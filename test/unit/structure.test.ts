// The design's structural rules, checked on the sources: one owner per format, no cycles between modules.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../functions');

function sources(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
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
  it('the journal path and format are coded only in the recorder module', () => {
    const offenders = sources()
      .filter((f) => moduleOf(f) !== 'recorder' && moduleOf(f) !== 'lib')
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
});
