// Bench support: small helpers shared by the recorder bench (tables, percentiles, a child-process registry).
import type { ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Runs `main` only when the module is the program (`node dist/test/bench/<name>.js`), not when bench/index.ts
 * imports it; a failure is printed and the exit code is 1.
 */
export function whenRunDirectly(moduleUrl: string, main: () => Promise<void>): void {
  if (process.argv[1] === undefined || realpathSync(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

/** A bench knob: the variable `name` as a positive number, or `fallback` when unset or not one. */
export function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

export const mean = (values: readonly number[]): number => {
  const v = values.filter((x) => Number.isFinite(x));
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
};

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** A markdown table; cells are printed as they are. */
export function markdownTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const line = (cells: ReadonlyArray<string | number>): string => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Progress to stderr, so stdout keeps only the tables. */
export function note(message: string): void {
  process.stderr.write(`[bench:recorder ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
  return results;
}

/**
 * Every child the bench starts, so that an error or Ctrl-C never leaves cameras, recorders or ffmpeg
 * behind. Only these pids are ever signalled.
 */
const children = new Set<ChildProcess>();
const killAll = (): void => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
};
const onSignal = (): void => {
  killAll();
  process.exit(130);
};
let hooked = false;

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return child;
}

/** Kills what is still tracked and removes the hooks, so a caller (bench/index.ts) keeps its own signal handling. */
export function releaseAll(): void {
  killAll();
  if (!hooked) return;
  hooked = false;
  process.off('exit', killAll);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

/** Waits for a child to exit; SIGKILLs it after `timeoutMs`. Resolves with whether it exited in time. */
export async function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
  clearTimeout(timer);
  if (!inTime) {
    child.kill('SIGKILL');
    await exited;
  }
  return inTime;
}
