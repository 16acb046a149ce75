// PLAYBACK_MAX_CUTS's default: 2 per CPU the process may use, from its cgroup's CPU quota (v1 or v2).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupCpuQuota, defaultMaxCuts, usableCpus } from '../../functions/playback/index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'shifu-cgroup-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A fake /proc/self/cgroup and cgroup mount under `root`. */
async function cgroup(selfCgroup: string, files: Record<string, string>): Promise<[string, string]> {
  const self = path.join(root, 'self-cgroup');
  await writeFile(self, selfCgroup);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, 'fs', file)), { recursive: true });
    await writeFile(path.join(root, 'fs', file), text);
  }
  return [self, path.join(root, 'fs')];
}

describe('the CPU quota of the process', () => {
  it("reads cgroup v1's quota over its period in the process's own cgroup (a pod's 1500m limit)", async () => {
    const paths = await cgroup('4:memory:/kubepods/pod1/c1\n3:cpu,cpuacct:/kubepods/pod1/c1\n', {
      'cpu,cpuacct/kubepods/pod1/c1/cpu.cfs_quota_us': '150000\n',
      'cpu,cpuacct/kubepods/pod1/c1/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuQuota(...paths)).toBe(1.5);
  });

  it("falls back to the mount's root, where a container runtime mounts the container's own cgroup", async () => {
    const paths = await cgroup('3:cpu:/kubepods/pod1/c1\n', { 'cpu/cpu.cfs_quota_us': '50000', 'cpu/cpu.cfs_period_us': '100000' });
    expect(cgroupCpuQuota(...paths)).toBe(0.5);
  });

  it('has no quota for -1 (v1) or max (v2), and none without cgroup files', async () => {
    expect(cgroupCpuQuota(...(await cgroup('3:cpu:/\n', { 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' })))).toBeNull();
    expect(cgroupCpuQuota(...(await cgroup('0::/pod\n', { 'pod/cpu.max': 'max 100000\n' })))).toBeNull();
    expect(cgroupCpuQuota(path.join(root, 'none'), path.join(root, 'none'))).toBeNull();
  });

  it("reads cgroup v2's cpu.max", async () => {
    expect(cgroupCpuQuota(...(await cgroup('0::/kubepods/pod1\n', { 'kubepods/pod1/cpu.max': '200000 100000\n' })))).toBe(2);
  });
});

describe('PLAYBACK_MAX_CUTS default', () => {
  it('is 2 per usable CPU, at least 1', () => {
    expect(defaultMaxCuts(1)).toBe(2);
    expect(defaultMaxCuts(1.5)).toBe(3);
    expect(defaultMaxCuts(0.2)).toBe(1);
  });

  it('takes the quota when it is below the CPUs the process may run on', () => {
    expect(usableCpus(0.5)).toBe(0.5);
    expect(usableCpus(null)).toBe(os.availableParallelism());
    expect(usableCpus(10_000)).toBe(os.availableParallelism());
  });
});
