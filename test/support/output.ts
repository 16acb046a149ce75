// What in-process CLI runs print: stdout and stderr captured for each test, restored after it.
import { afterEach, beforeEach, vi } from 'vitest';

export interface CapturedOutput {
  readonly stdout: string;
  readonly stderr: string;
}

export function captureOutput(): CapturedOutput {
  const text = { stdout: '', stderr: '' };
  beforeEach(() => {
    text.stdout = '';
    text.stderr = '';
    for (const name of ['stdout', 'stderr'] as const) {
      vi.spyOn(process[name], 'write').mockImplementation((chunk: string | Uint8Array) => {
        text[name] += String(chunk);
        return true;
      });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return text;
}
