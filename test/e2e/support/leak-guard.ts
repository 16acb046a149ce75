// Every e2e file must stop what it started: a camera, recorder or browser left running slows every file after it
// (two cores) and outlives the run (session 12 found three `gst-camera --keep-sessions` from earlier runs).
// A setup file (vitest.config.ts): it marks this file's environment with a value of its own, which every process
// the file starts inherits (unless the test hands a child an environment of its own), and after the file's own
// hooks it looks for processes that still carry the mark. Those get a grace period to exit (a stop that does not
// wait, ffmpeg closing its file), then are killed, and the file fails naming each one.
import { readdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll } from 'vitest';

const MARK_VARIABLE = 'SHIFU_RTSP_TEST_FILE_MARK';
const GRACE_MS = 20_000;

process.env[MARK_VARIABLE] = randomUUID();
/** The mark as /proc/<pid>/environ holds it. */
const mark = `${MARK_VARIABLE}=${process.env[MARK_VARIABLE]}`;

/** Live processes other than this one whose environment holds the mark, with their command lines. */
function marked(): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      // A zombie's environ reads empty, and a process that ended meanwhile throws: neither is running.
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(mark)) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      found.push({ pid, cmdline });
    } catch {
      continue;
    }
  }
  return found;
}

afterAll(async () => {
  const deadline = Date.now() + GRACE_MS;
  let left = marked();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    left = marked();
  }
  if (left.length === 0) return;
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // it ended between the look and the kill
    }
  }
  throw new Error(
    `this file left ${left.length} process(es) running ${GRACE_MS / 1000} s after its last hook (now killed):\n` +
      left.map(({ pid, cmdline }) => `  ${pid}: ${cmdline.slice(0, 300)}`).join('\n'),
  );
}, GRACE_MS + 10_000);
