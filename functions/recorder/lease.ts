// One recorder per device folder. A second recorder on the same folder (a second CLI, a hand-made Deployment)
// would take the first's open file in .recording/ for a crash leftover, remux it and rename over it. So the
// recorder holds an exclusive lease in the device's state folder: a file created with O_EXCL that names its
// holder, whose mtime is the heartbeat, renewed while the recorder runs.
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LEASE_FILE } from '../contracts/index.js';

/** `<root>/.shifu-rtsp/<device>/recorder.lease`. */
export { LEASE_FILE } from '../contracts/index.js';
export const DEFAULT_LEASE_RENEW_SECONDS = 10;
/** Renewals a holder may miss before its lease is stale: a pod lost with its node cannot say it is gone. */
export const MISSED_RENEWALS = 3;

/** Who holds a lease, as its file names it. */
export interface LeaseHolder {
  readonly pid: number;
  /** `os.hostname()`: the pod's name in Kubernetes. */
  readonly host: string;
  /** The kernel's boot id: the same hostname on another node (or after a reboot) is another host. */
  readonly bootId: string | null;
  /** Field 22 of /proc/<pid>/stat: a restarted container is PID 1 again, but with another start time. */
  readonly pidStartTime: string | null;
  readonly renewSeconds: number;
  readonly since: string;
}

export class DeviceLeaseHeldError extends Error {
  constructor(
    readonly file: string,
    readonly holder: LeaseHolder | null,
    readonly heartbeatAgeSeconds: number,
  ) {
    const who = holder ? `recorder pid ${holder.pid} on host ${holder.host}` : 'a recorder (its lease file is unreadable)';
    super(
      `device folder is held by ${who}, renewed ${heartbeatAgeSeconds.toFixed(0)} s ago (${file}); ` +
        'two recorders on one folder would take each other\'s open files for crash leftovers. Stop that recorder first; ' +
        `its lease is taken over once its process is gone or it misses ${MISSED_RENEWALS} renewals`,
    );
    this.name = 'DeviceLeaseHeldError';
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or null where there is no /proc. */
export function pidStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[22 - 3] ?? null;
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): LeaseHolder | null {
  try {
    const v = JSON.parse(text) as Partial<LeaseHolder>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.renewSeconds !== 'number') return null;
    return {
      pid: v.pid,
      host: v.host,
      bootId: typeof v.bootId === 'string' ? v.bootId : null,
      pidStartTime: typeof v.pidStartTime === 'string' ? v.pidStartTime : null,
      renewSeconds: v.renewSeconds,
      since: typeof v.since === 'string' ? v.since : '',
    };
  } catch {
    return null;
  }
}

/**
 * Why a lease may be taken over, or null while its holder may still be recording: its heartbeat is older than
 * MISSED_RENEWALS of its renewals, or, on this same host, its pid is gone or is another process now.
 */
export function staleReason(holder: LeaseHolder | null, heartbeatAgeSeconds: number): string | null {
  const renew = holder?.renewSeconds ?? DEFAULT_LEASE_RENEW_SECONDS;
  if (heartbeatAgeSeconds > MISSED_RENEWALS * renew) return `its heartbeat is ${heartbeatAgeSeconds.toFixed(0)} s old (renewed every ${renew} s)`;
  if (holder === null) return null;
  const me = bootId();
  const sameHost = holder.host === os.hostname() && (holder.bootId === null || me === null || holder.bootId === me);
  if (!sameHost) return null;
  if (!alive(holder.pid)) return `pid ${holder.pid} is gone on this host`;
  const started = pidStartTime(holder.pid);
  if (holder.pidStartTime !== null && started !== null && started !== holder.pidStartTime) return `pid ${holder.pid} is another process now (a restarted container)`;
  return null;
}

/** The exclusive lease of one device folder, held from `take` until `release`. */
export class DeviceLease {
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly inode: number,
  ) {}

  /**
   * Takes the lease in `stateDir`, taking over a stale one (see staleReason); throws DeviceLeaseHeldError
   * naming the holder otherwise. `onLost` runs when a renewal finds the lease is no longer this one's (another
   * recorder judged it stale: this process was frozen or cut off for longer than MISSED_RENEWALS).
   */
  static async take(o: {
    stateDir: string;
    renewSeconds: number;
    onTakeover?: (reason: string, holder: LeaseHolder | null) => void;
    /** The lease was taken, but the volume had no room to name the holder in it. */
    onUnnamed?: (code: string) => void;
    onLost: () => void;
  }): Promise<DeviceLease> {
    await mkdir(o.stateDir, { recursive: true });
    const file = path.join(o.stateDir, LEASE_FILE);
    const holder: LeaseHolder = {
      pid: process.pid,
      host: os.hostname(),
      bootId: bootId(),
      pidStartTime: pidStartTime(process.pid),
      renewSeconds: o.renewSeconds,
      since: new Date().toISOString(),
    };
    for (let tries = 0; ; tries++) {
      let handle: FileHandle;
      try {
        handle = await open(file, 'wx');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 5) throw err;
        const [text, st] = await Promise.all([readFile(file, 'utf8').catch(() => null), stat(file).catch(() => null)]);
        // Released between our open and our look: try again.
        if (st === null) continue;
        const current = text === null ? null : parseHolder(text);
        const age = Math.max(0, (Date.now() - st.mtimeMs) / 1000);
        const reason = staleReason(current, age);
        if (reason === null) throw new DeviceLeaseHeldError(file, current, age);
        // Only the lease that was judged: another recorder may have taken it over meanwhile.
        const now = await stat(file).catch(() => null);
        if (now?.ino === st.ino && now.ctimeMs === st.ctimeMs) {
          await unlink(file).catch(() => undefined);
          o.onTakeover?.(reason, current);
        }
        continue;
      }
      try {
        await handle.writeFile(`${JSON.stringify(holder)}\n`);
        await handle.sync();
      } catch (err) {
        // A full volume must not keep the recorder from starting (it frees space by retention): the empty file
        // is still the lease. Others then judge it by its heartbeat alone, which renewals keep fresh.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOSPC' && code !== 'EDQUOT') {
          await handle.close();
          await unlink(file).catch(() => undefined);
          throw err;
        }
        o.onUnnamed?.(code);
      }
      const lease = new DeviceLease(file, handle, (await handle.stat()).ino);
      lease.timer = setInterval(() => {
        void lease.renew().then((held) => {
          if (held || lease.timer === null) return;
          clearInterval(lease.timer);
          lease.timer = null;
          o.onLost();
        });
      }, o.renewSeconds * 1000);
      lease.timer.unref();
      return lease;
    }
  }

  /**
   * Renews the heartbeat (the file's mtime, through the handle: a lease taken over meanwhile is another file,
   * and is never touched). Resolves false when the lease is no longer this one's.
   */
  async renew(): Promise<boolean> {
    const now = new Date();
    await this.handle.utimes(now, now).catch(() => undefined);
    const current = await stat(this.file).catch(() => null);
    return current?.ino === this.inode;
  }

  /** Stops renewing and removes the lease, if it is still this one's. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const current = await stat(this.file).catch(() => null);
    if (current?.ino === this.inode) await unlink(this.file).catch(() => undefined);
    await this.handle.close().catch(() => undefined);
  }
}
