// Bench support: per-process CPU and memory from /proc (Linux only), and the machine's load.
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { mean, sleep } from './util.js';

/** Kernel clock ticks per second (`getconf CLK_TCK`): 100 on every Linux this runs on. */
export const CLK_TCK = 100;

export interface CpuTicks {
  /** utime + stime of the process itself (all its threads). */
  readonly own: number;
  /** stime alone: the part of `own` spent in the kernel (sockets, reads). */
  readonly sys: number;
  /** cutime + cstime: CPU of children it has already reaped (e.g. short-lived ffprobe runs). */
  readonly reaped: number;
}

function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields start after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU ticks of a process so far, or null when it is gone. Field 14-17 of proc(5) are [11..14] here. */
export function cpuTicks(pid: number): CpuTicks | null {
  const f = statFields(pid);
  if (!f) return null;
  const n = (i: number): number => Number(f[i] ?? 0);
  return { own: n(11) + n(12), sys: n(12), reaped: n(13) + n(14) };
}

/** The pid and all its descendants, from one look at /proc. */
export function processTree(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f) parentOf.set(Number(entry), Number(f[1]));
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i += 1) {
    for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/** User + system CPU seconds used so far by a process tree (children that already exited are not counted). */
export function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + (cpuTicks(pid)?.own ?? 0), 0) / CLK_TCK;
}

/** Resident set size in MiB (VmRSS), or null when the process is gone. */
export function rssMiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** The command name (comm) of a process, or null when it is gone. */
export function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Direct children of a process (every thread's `children` list). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (c !== '') out.push(Number(c));
      }
    } catch {
      // thread gone
    }
  }
  return out;
}

/** Direct children of `pid` whose comm is `name`. */
export function childrenNamed(pid: number, name: string): number[] {
  return childrenOf(pid).filter((c) => commOf(c) === name);
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export function loadAverage(): string {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

/** CPU of a set of processes over a window, as % of one core. */
export class CpuWindow {
  private readonly start = new Map<number, CpuTicks>();
  private readonly startedAt = performance.now();
  private readonly machineStart = machineTicks();

  constructor(pids: readonly number[]) {
    for (const pid of pids) {
      const t = cpuTicks(pid);
      if (t) this.start.set(pid, t);
    }
  }

  /** Ends the window: per pid { own %, reaped-children % } of one core, plus the machine's busy %. */
  finish(): { seconds: number; perPid: Map<number, { own: number; reaped: number }>; machineBusyPercent: number } {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const machine = machineTicks();
    const perPid = new Map<number, { own: number; reaped: number }>();
    for (const [pid, before] of this.start) {
      const after = cpuTicks(pid);
      if (!after) continue;
      perPid.set(pid, {
        own: ((after.own - before.own) / CLK_TCK / seconds) * 100,
        reaped: ((after.reaped - before.reaped) / CLK_TCK / seconds) * 100,
      });
    }
    const dt = machine.total - this.machineStart.total;
    const machineBusyPercent = dt > 0 ? ((machine.busy - this.machineStart.busy) / dt) * 100 : NaN;
    return { seconds, perPid, machineBusyPercent };
  }
}

/** Proportional set size in MiB (shared pages split among the processes that map them), or null. */
export function pssMiB(pid: number): number | null {
  try {
    const m = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** MemAvailable in MiB. */
export function memAvailableMiB(): number {
  const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Context switches the process (main thread) made voluntarily so far: its wake-ups, roughly. */
export function voluntarySwitches(pid: number): number | null {
  try {
    const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** RSS and PSS in MiB from one read of smaps_rollup (so the two are of the same moment), or null when gone. */
export function memoryMiB(pid: number): { rss: number; pss: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rss: kb('Rss') / 1024, pss: kb('Pss') / 1024 };
  } catch {
    return null;
  }
}

/** What one window saw of one process: its mean RSS and PSS (MiB) and its CPU (% of a core). */
export interface WindowFigures {
  readonly rss: number;
  readonly pss: number;
  /** The process's own CPU. */
  readonly cpu: number;
  /** CPU of the children it reaped in the window (e.g. a short-lived ffprobe). */
  readonly reapedCpu: number;
}

/**
 * Samples the memory of `pids` every 2 s for `seconds` and measures their CPU over the same window; a process that
 * is gone gets NaN. The benches judge steady state, so their warm-up comes before this.
 */
export async function sampleWindow(pids: readonly number[], seconds: number): Promise<Map<number, WindowFigures>> {
  const samples = new Map(pids.map((pid) => [pid, { rss: [] as number[], pss: [] as number[] }]));
  const take = (): void => {
    for (const [pid, s] of samples) {
      const m = memoryMiB(pid);
      if (m) {
        s.rss.push(m.rss);
        s.pss.push(m.pss);
      }
    }
  };
  const cpu = new CpuWindow(pids);
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    take();
    await sleep(Math.min(2000, until - Date.now()));
  }
  take();
  const window = cpu.finish();
  return new Map(
    [...samples].map(([pid, s]) => {
      const c = window.perPid.get(pid);
      return [pid, { rss: mean(s.rss), pss: mean(s.pss), cpu: c?.own ?? NaN, reapedCpu: c?.reaped ?? NaN }];
    }),
  );
}

/** A recorder's two processes: its Node, and the ffmpeg it runs now (null when it has none). */
export interface ProcessPair {
  readonly node: number;
  readonly ffmpeg: () => number | null;
}

/** What one window saw of a pair: mean PSS and RSS (MiB) and CPU (% of a core) of each process. */
export interface PairStats {
  readonly nodePss: number;
  readonly ffmpegPss: number;
  readonly nodeRss: number;
  readonly ffmpegRss: number;
  /** Node with the children it reaped in the window (the ffprobe runs). */
  readonly nodeCpu: number;
  readonly ffmpegCpu: number;
}

/**
 * Samples each pair's Node and the ffmpeg it runs at the window's start over `seconds` (sampleWindow). A pair without
 * an ffmpeg, or whose ffmpeg changed in the window (its CPU then is only part of the window's), is named in
 * `problems`: a recorder's cost is Node and its ffmpeg together, never Node alone by accident.
 */
export async function samplePairs(pairs: readonly ProcessPair[], seconds: number): Promise<{ stats: PairStats[]; problems: string[] }> {
  const problems: string[] = [];
  const ffmpegAt = pairs.map((p) => p.ffmpeg());
  if (ffmpegAt.some((p) => p === null)) problems.push(`${ffmpegAt.filter((p) => p === null).length} without ffmpeg at the window's start`);
  const figures = await sampleWindow(pairs.flatMap((p, i) => [p.node, ...(ffmpegAt[i] ? [ffmpegAt[i]] : [])]), seconds);
  pairs.forEach((p, i) => {
    if (p.ffmpeg() !== ffmpegAt[i]) problems.push(`pair ${i}: ffmpeg restarted in the window`);
  });
  const stats = pairs.map((p, i): PairStats => {
    const node = figures.get(p.node);
    const f = ffmpegAt[i];
    const ffmpeg = f ? figures.get(f) : undefined;
    return {
      nodePss: node?.pss ?? NaN,
      ffmpegPss: ffmpeg?.pss ?? NaN,
      nodeRss: node?.rss ?? NaN,
      ffmpegRss: ffmpeg?.rss ?? NaN,
      nodeCpu: (node?.cpu ?? NaN) + (Number.isFinite(node?.reapedCpu) ? node!.reapedCpu : 0),
      ffmpegCpu: ffmpeg?.cpu ?? NaN,
    };
  });
  return { stats, problems };
}
