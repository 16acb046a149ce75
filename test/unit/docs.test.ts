// The README is the front door and the reference lives beside the code: every relative link between the
// Markdown files must lead somewhere, or a reader following the table of contents hits a dead end.
// (functions/commands is wiring, not a module: the commands are documented in the modules they start.)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const skipped = new Set(['node_modules', 'dist', '.git', '.ci-results', 'recordings', 'coverage']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (skipped.has(entry.name)) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(full);
    return entry.name.endsWith('.md') ? [full] : [];
  });
}

/** The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens. */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = heading[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Relative link targets in a Markdown file, outside code blocks and inline code. */
function relativeLinks(file: string): string[] {
  const links: string[] = [];
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.replace(/`[^`]*`/g, (code) => (code.includes('](') ? '' : code)).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
    }
  }
  return links;
}

const files = markdownFiles(root);

describe('the documentation', () => {
  it('has a README in every module folder and beside the manifests and tests', () => {
    const modules = readdirSync(path.join(root, 'functions'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'commands' && readdirSync(path.join(root, 'functions', d.name)).includes('index.ts'))
      .map((d) => `functions/${d.name}/README.md`);
    expect(modules.length).toBeGreaterThan(5);
    for (const wanted of [...modules, 'functions/README.md', 'knative/README.md', 'storage/README.md', 'test/README.md']) {
      expect(files.map((f) => path.relative(root, f)), wanted).toContain(wanted);
    }
  });

  it.each(files.map((f) => [path.relative(root, f), f]))('%s: every relative link leads to a file, and its #anchor to a heading', (_name, file) => {
    const broken: string[] = [];
    for (const link of relativeLinks(file)) {
      const [target, anchor] = link.split('#') as [string, string | undefined];
      const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
      let exists = true;
      try {
        statSync(resolved);
      } catch {
        exists = false;
      }
      if (!exists) broken.push(`${link} (no such file)`);
      else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${link} (no such heading)`);
    }
    expect(broken).toEqual([]);
  });

  it('keeps the top README a front door: under 250 lines, with the two commands verbatim', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThan(250);
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('bash .ci/run');
  });
});
