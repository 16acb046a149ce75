// A stream that sends a file (the archive's PUT) reads it into a fresh buffer per chunk, which the socket holds until
// it is written: nothing can reuse them. Each buffer's bytes live outside V8's heap, behind a wrapper of a few
// dozen bytes, and V8 frees them only when a collection finds the wrapper dead. The wrappers fill the young
// generation too slowly to start one, and V8 starts one for outside memory only past tens of MiB more than at the
// last, so every chunk an upload sent stays resident until well after it: measured under the recorder's V8 flags,
// 4 PUTs of a 30 MB file over loopback, PSS 23.5 MiB before, 61.4 at most and 52 on average while sending; with a
// young collection every 4 MiB sent, 31.3 and 29, and 15 % less CPU (fresh pages cost more than a collection).
// (A flag to count outside memory in V8's own limits, --external-memory-accounted-in-global-limit, changed nothing.)
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options: { type: 'minor' }) => void;

let collect: Collect | null | undefined;

/**
 * V8's `gc` function, which exists only in a context made while `--expose-gc` is set: the flag is set for the
 * moment one context is made (so no other context, and no code of ours or a library's, sees a global `gc`).
 * null when V8 refuses (then nothing is collected early; memory is as before, never wrong).
 */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const found: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    collect = typeof found === 'function' ? (found as Collect) : null;
  } catch {
    collect = null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

/** Collects the young generation now (a scavenge: well under a millisecond with the recorder's small new space). */
export function collectYoungGarbage(): void {
  collector()?.({ type: 'minor' });
}
