// What went wrong with a camera, read from ffmpeg/ffprobe's messages: decides state and backoff.

import type { FailureKind } from '../contracts/index.js';

export type { Failure, FailureKind } from '../contracts/index.js';

const RULES: ReadonlyArray<readonly [RegExp, FailureKind]> = [
  // A 403 is a refused login too (some cameras answer it to wrong credentials or a locked account), not a wrong path.
  [/401 Unauthorized|403 Forbidden|Unauthorized|authorization failed/i, 'unauthorized'],
  [/No space left on device|Disk quota exceeded|Read-only file system/i, 'disk'],
  [/404 Not Found|454 Session Not Found|method DESCRIBE failed: 4\d\d/i, 'not-found'],
  [
    /Connection refused|Connection timed out|Connection reset|Network is unreachable|No route to host|timed out|Host is unreachable|End of file|Broken pipe|Invalid data found when processing input|Name or service not known/i,
    'unreachable',
  ],
];

export function classifyFailure(text: string): FailureKind {
  for (const [pattern, kind] of RULES) if (pattern.test(text)) return kind;
  return 'media';
}

/** The most telling line of ffmpeg's stderr tail. */
export function summarizeStderr(lines: readonly string[]): string {
  const meaningful = lines.filter((l) => l.trim() !== '' && !/Non-monoton|deprecated|Too many bits/i.test(l));
  const matched = [...meaningful].reverse().find((l) => classifyFailure(l) !== 'media');
  return (matched ?? meaningful.at(-1) ?? 'ffmpeg exited without a message').trim().slice(0, 300);
}
