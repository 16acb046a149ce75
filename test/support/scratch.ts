// Test scaffolding shared by the tiers: a scratch folder per test file, and clean-ups run after each test.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';

export interface Scratch {
  /** The file's scratch folder (set once beforeAll has run). */
  readonly dir: string;
  /** Runs `cleanup` after the current test, newest first; a failing clean-up does not hide the test's result. */
  defer(cleanup: () => Promise<unknown>): void;
}

/** Registers the hooks: a fresh folder under the OS temp dir before the file's tests, removed after them. */
export function useScratch(prefix: string): Scratch {
  let dir = '';
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return {
    get dir() {
      return dir;
    },
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
  };
}
