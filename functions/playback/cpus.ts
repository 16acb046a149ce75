// How many CPUs this process may use: its cgroup's CPU quota (a pod's CPU limit), else the CPUs it may run on.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The CPU quota of the process's cgroup in CPUs (1.5 for a 1500m limit), or null without one. cgroup v2
 * (`cpu.max`: `max 100000` or `150000 100000`) and v1 (`cpu.cfs_quota_us`, -1 for none, over
 * `cpu.cfs_period_us`); the cgroup's own folder first, then the mount's root, which is the container's own
 * cgroup where the runtime mounts it so. Roots are parameters for tests.
 */
export function cgroupCpuQuota(procSelfCgroup = '/proc/self/cgroup', cgroupRoot = '/sys/fs/cgroup'): number | null {
  const lines = (read(procSelfCgroup) ?? '').split('\n');
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const v1 = lines.map((l) => l.split(':')).find((f) => (f[1] ?? '').split(',').includes('cpu'));
  const candidates: Array<{ kind: 'v1' | 'v2'; dir: string }> = [];
  // v1 mounts the controller as `cpu` or `cpu,cpuacct` (often both, one a link to the other).
  for (const mount of v1 ? new Set(['cpu', v1[1]!]) : []) {
    candidates.push({ kind: 'v1', dir: path.join(cgroupRoot, mount, v1![2] ?? '/') }, { kind: 'v1', dir: path.join(cgroupRoot, mount) });
  }
  if (v2 !== undefined) candidates.push({ kind: 'v2', dir: path.join(cgroupRoot, v2) }, { kind: 'v2', dir: cgroupRoot });
  for (const { kind, dir } of candidates) {
    if (kind === 'v2') {
      const max = read(path.join(dir, 'cpu.max'));
      if (max === null) continue;
      const [quota, period] = max.split(/\s+/);
      if (quota === 'max') return null;
      const cpus = Number(quota) / Number(period);
      return Number.isFinite(cpus) && cpus > 0 ? cpus : null;
    }
    const quota = read(path.join(dir, 'cpu.cfs_quota_us'));
    const period = read(path.join(dir, 'cpu.cfs_period_us'));
    if (quota === null || period === null) continue;
    const cpus = Number(quota) / Number(period);
    return Number(quota) > 0 && Number.isFinite(cpus) ? cpus : null;
  }
  return null;
}

/** CPUs the process may use: its cgroup quota, capped by the CPUs it may run on. */
export function usableCpus(quota: number | null = cgroupCpuQuota()): number {
  const parallelism = os.availableParallelism();
  return quota === null ? parallelism : Math.min(quota, parallelism);
}
