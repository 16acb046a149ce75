// One recorder per device folder: real recorder processes (the built CLI) on a GStreamer camera. A second
// recorder on the folder must not take the first's open file for a crash leftover.
import { execFileSync, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGstCamera, type GstCamera } from './fixtures/camera.js';
import { decodeCheck } from './fixtures/player.js';
import { CLI, freePort, killHard, type CliProcess } from './support/recorder-process.js';
import { useScratch } from '../support/scratch.js';
import { scopedTo } from './support/scoped.js';
import { journalOf } from '../support/journal.js';
import { pidStartTime, type Segment } from '../../functions/recorder/index.js';

interface Status {
  state: string;
  currentSegment: { file: string } | null;
  lastSegment: Segment | null;
  counters: Record<string, number>;
}

const scratch = useScratch('shifu-lease-');
const { recorder } = scopedTo(scratch);

async function camera(): Promise<GstCamera> {
  const cam = await startGstCamera({ video: 'h264', audio: 'none', gop: 25, fps: 25 });
  scratch.defer(() => cam.stop());
  return cam;
}

/**
 * Starts a recorder and reports which came first: it exited (refused to start), or its API answered (it
 * started; then it is killed, with its ffmpeg, so that it does no more).
 */
async function startOrRefuse(args: string[]): Promise<{ started: boolean; code: number | null; output: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'recorder', ...args, '--http-listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  const answered = (async (): Promise<void> => {
    while (!done) {
      if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const first = await Promise.race([exited.then(() => 'exited' as const), answered.then(() => 'started' as const)]);
  done = true;
  if (first === 'started') {
    try {
      execFileSync('pkill', ['-KILL', '-P', String(child.pid)]);
    } catch {
      // no ffmpeg yet
    }
    child.kill('SIGKILL');
  }
  const code = await exited;
  return { started: first === 'started', code, output };
}


/** The recorder's log line about a lease it took over. */
function takeover(rec: CliProcess): { reason: string; holder: { pid: number; host: string } } | undefined {
  return rec
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; reason: string; holder: { pid: number; host: string } })
    .find((l) => l.msg === 'took over a stale device folder lease');
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const leaseFile = (out: string): string => path.join(out, '.shifu-rtsp', 'cam', 'recorder.lease');

/** A lease as another recorder would have left it, with its heartbeat (mtime) `ageSeconds` old. */
async function plantLease(out: string, holder: Record<string, unknown>, ageSeconds: number): Promise<void> {
  await mkdir(path.dirname(leaseFile(out)), { recursive: true });
  await writeFile(leaseFile(out), `${JSON.stringify({ renewSeconds: 10, since: new Date().toISOString(), ...holder })}\n`);
  const at = new Date(Date.now() - ageSeconds * 1000);
  await utimes(leaseFile(out), at, at);
}

describe('recorder: one recorder per device folder', () => {
  it("refuses a second recorder on the folder, naming the holder, and leaves the first's open file to become a whole segment", async () => {
    const cam = await camera();
    const out = path.join(scratch.dir, 'second');
    // Hour-long segments: the open file stays open until /record/off closes it, whatever the machine's load.
    const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '3600', '--no-align-to-clock'];
    const first = await recorder(args);
    const recording = await first.waitFor<Status>('/record/status', (s) => s.state === 'recording' && s.currentSegment !== null, 30_000);
    const open = path.join(out, recording.currentSegment!.file);
    const before = await stat(open);

    const second = await startOrRefuse(args);
    expect(second.started, second.output.slice(-2000)).toBe(false);
    expect(second.code).toBe(1);
    expect(second.output).toContain(`held by recorder pid ${first.child.pid} on host ${os.hostname()}`);

    // Untouched: the same file, still being written, and nothing recovered or journaled by the second.
    const after = await stat(open);
    expect(after.ino).toBe(before.ino);
    expect(await journalOf(out, 'cam')).toEqual([]);
    await first.waitFor<Status>('/record/status', () => statSync(open).size > before.size, 30_000);
    const off = await first.json<Status>('POST', '/record/off');
    expect(off.status).toBe(200);
    const journal = await journalOf(out, 'cam');
    expect(journal).toHaveLength(1);
    expect(journal[0]?.recovered).toBe(false);
    expect(journal[0]?.file).toBe(off.body.lastSegment?.file);
    const check = await decodeCheck(path.join(out, journal[0]!.file));
    expect(check.ok, check.errors.join('\n')).toBe(true);
    expect(check.decodedVideoFrames).toBeGreaterThan(0);
  });

  it("takes over the lease of a recorder killed with SIGKILL (its pid gone) and recovers its open file", async () => {
    const cam = await camera();
    const out = path.join(scratch.dir, 'killed');
    const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '3600', '--no-align-to-clock'];
    const first = await recorder(args);
    const recording = await first.waitFor<Status>('/record/status', (s) => s.state === 'recording' && s.currentSegment !== null, 30_000);
    // Some media on disk (fragments are flushed every second), so recovery has something to keep.
    const open = path.join(out, recording.currentSegment!.file);
    await first.waitFor<Status>('/record/status', () => statSync(open, { throwIfNoEntry: false }) !== undefined && statSync(open).size > 200_000, 30_000);
    await killHard(first);
    expect(JSON.parse(await readFile(leaseFile(out), 'utf8'))).toMatchObject({ pid: first.child.pid, host: os.hostname() });

    const again = await recorder([...args, '--idle']);
    const status = await again.waitFor<Status>('/record/status', (s) => s.lastSegment !== null, 30_000);
    expect(status.lastSegment?.recovered).toBe(true);
    expect(await readdir(path.join(out, 'cam', '.recording'))).toEqual([]);
    expect(JSON.parse(await readFile(leaseFile(out), 'utf8'))).toMatchObject({ pid: again.child.pid, host: os.hostname() });
    expect(takeover(again)?.reason).toBe(`pid ${first.child.pid} is gone on this host`);
    // Released on a graceful stop: the next recorder starts without a takeover.
    await again.stop('SIGTERM');
    await expect(stat(leaseFile(out))).rejects.toThrow(/ENOENT/);
  });

  it('a recorder frozen for longer than 3 renewals loses its lease to the next one, and stops when it wakes', async () => {
    const cam = await camera();
    const out = path.join(scratch.dir, 'frozen');
    const args = ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '3600', '--no-align-to-clock', '--lease-renew-seconds', '1'];
    const first = await recorder(args);
    await first.waitFor<Status>('/record/status', (s) => s.state === 'recording', 30_000);
    // Frozen with its ffmpeg, as a process cut off from the volume would be.
    const frozen = [first.child.pid!, ...execFileSync('pgrep', ['-P', String(first.child.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number)];
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    scratch.defer(async () => {
      for (const pid of frozen) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
    await until('the frozen lease misses 3 renewals', async () => Date.now() - (await stat(leaseFile(out))).mtimeMs > 3_500);
    const second = await recorder([...args, '--idle']);
    expect(takeover(second)?.reason).toMatch(/^its heartbeat is \d+ s old \(renewed every 1 s\)/);
    expect(JSON.parse(await readFile(leaseFile(out), 'utf8'))).toMatchObject({ pid: second.child.pid });

    for (const pid of frozen.toReversed()) process.kill(pid, 'SIGCONT');
    await first.exited;
    expect(first.output()).toContain('lost the device folder lease to another recorder; stopping');
    // The folder stays the second's.
    expect(JSON.parse(await readFile(leaseFile(out), 'utf8'))).toMatchObject({ pid: second.child.pid });
    expect((await second.json<Status>('GET', '/record/status')).status).toBe(200);
  });

  it('takes over a lease from another host whose heartbeat is older than 3 renewals, and refuses one with a fresh heartbeat', async () => {
    const cam = await camera();
    const args = (out: string): string[] => ['--url', cam.url, '--out', out, '--device', 'cam', '--idle'];
    const gone = { pid: 4242, host: 'recorder-pod-on-a-lost-node', bootId: 'another-boot', pidStartTime: '1' };

    const stale = path.join(scratch.dir, 'other-host-stale');
    await plantLease(stale, gone, 31);
    const taker = await recorder(args(stale));
    expect(JSON.parse(await readFile(leaseFile(stale), 'utf8'))).toMatchObject({ pid: taker.child.pid, host: os.hostname() });
    expect(takeover(taker)?.reason).toMatch(/^its heartbeat is 3\d s old/);

    const fresh = path.join(scratch.dir, 'other-host-fresh');
    await plantLease(fresh, gone, 0);
    const refused = await startOrRefuse(args(fresh));
    expect(refused.started, refused.output.slice(-2000)).toBe(false);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('held by recorder pid 4242 on host recorder-pod-on-a-lost-node');
    expect(JSON.parse(await readFile(leaseFile(fresh), 'utf8'))).toMatchObject(gone);
  });

  it('on the same host, takes over a lease whose pid is another process now (a restarted container is PID 1 again), and refuses one whose pid is still its holder', async () => {
    const cam = await camera();
    const args = (out: string): string[] => ['--url', cam.url, '--out', out, '--device', 'cam', '--idle'];
    // This test's process plays the holder's pid: alive on this host, with a known start time.
    const here = { pid: process.pid, host: os.hostname(), bootId: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim() };

    const reused = path.join(scratch.dir, 'pid-reused');
    await plantLease(reused, { ...here, pidStartTime: '1' }, 0);
    const taker = await recorder(args(reused));
    expect(JSON.parse(await readFile(leaseFile(reused), 'utf8'))).toMatchObject({ pid: taker.child.pid });
    expect(takeover(taker)?.reason).toContain(`pid ${process.pid} is another process now`);

    const holder = path.join(scratch.dir, 'pid-alive');
    await plantLease(holder, { ...here, pidStartTime: pidStartTime(process.pid) }, 0);
    const refused = await startOrRefuse(args(holder));
    expect(refused.started, refused.output.slice(-2000)).toBe(false);
    expect(refused.output).toContain(`held by recorder pid ${process.pid} on host ${os.hostname()}`);
  });
});
