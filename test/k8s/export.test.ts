// `shifu-rtsp export`. Pod exec needs a kubelet, which this control plane has not: so the copy itself runs
// through a shell on this machine (real sh, GNU tar, tail, stat: the commands the export pod runs), and the
// API-server side is checked as far as it goes (finding the export pod, its phase, the exec request).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSegments, type PodShell, type ShellResult } from '../../functions/export/index.js';
import { applyYaml, createNamespace, k8sEnvironment, kubeConfig, parseManifests } from './harness/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repo, 'dist/functions/cli.js');

/** Runs the export's commands here; `cutAfter` kills `tar`/`tail` after that many bytes, like a dropped connection. */
class LocalShell implements PodShell {
  cutAfter: number | undefined;
  readonly commands: string[] = [];

  run(argv: readonly string[], stdout: Writable): Promise<ShellResult> {
    this.commands.push(argv[0] ?? '');
    const cut = argv[0] === 'tar' || argv[0] === 'tail' ? this.cutAfter : undefined;
    if (cut !== undefined) this.cutAfter = undefined;
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let sent = 0;
      let killed = false;
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        if (killed) return;
        const piece = cut !== undefined && sent + chunk.length > cut ? chunk.subarray(0, cut - sent) : chunk;
        sent += piece.length;
        if (!stdout.write(piece)) {
          child.stdout.pause();
          stdout.once('drain', () => child.stdout.resume());
        }
        if (cut !== undefined && sent >= cut) {
          killed = true;
          child.kill('SIGKILL');
        }
      });
      child.once('error', reject);
      child.once('close', (code) => {
        stdout.end();
        finished(stdout).then(
          () => (killed ? reject(new Error('connection lost')) : resolve({ exitCode: code ?? 1, stderr })),
          (err: unknown) => reject(killed ? new Error('connection lost') : err),
        );
      });
    });
  }
}

let volume: string;
let to: string;
const device = 'cam1';
const files: Array<{ name: string; data: Buffer }> = [];

beforeAll(async () => {
  volume = await mkdtemp(path.join(os.tmpdir(), 'shifu-export-volume-'));
  to = await mkdtemp(path.join(os.tmpdir(), 'shifu-export-to-'));
  await mkdir(path.join(volume, device, '.recording'), { recursive: true });
  await mkdir(path.join(volume, '.shifu-rtsp', device), { recursive: true });
  const sizes = [3 * 1024 * 1024 + 17, 512, 0, 9 * 1024 * 1024 + 1];
  const journal: string[] = [];
  for (const [i, size] of sizes.entries()) {
    const name = `${device}_20261124T1${i}0000Z.mp4`;
    const data = randomBytes(size);
    files.push({ name, data });
    await writeFile(path.join(volume, device, name), data);
    journal.push(
      JSON.stringify({
        file: `${device}/${name}`,
        device,
        sequence: i + 1,
        startTime: `2026-11-24T1${i}:00:00.000Z`,
        endTime: `2026-11-24T1${i}:59:59.000Z`,
        bytes: size,
        sha256: createHash('sha256').update(data).digest('hex'),
      }),
    );
  }
  // A file ffmpeg is still writing, and one with a name past tar's 100-byte field (GNU long-name header).
  await writeFile(path.join(volume, device, '.recording', `${device}_20261124T140000Z_00001.mp4`), 'open');
  const long = `${device}_20261124T150000Z_${'9'.repeat(110)}.mp4`;
  files.push({ name: long, data: randomBytes(4000) });
  await writeFile(path.join(volume, device, long), files.at(-1)?.data ?? '');
  await writeFile(path.join(volume, '.shifu-rtsp', device, 'segments.jsonl'), `${journal.join('\n')}\n`);
});
afterAll(async () => {
  await rm(volume, { recursive: true, force: true });
  await rm(to, { recursive: true, force: true });
});

const exportWith = (shell: PodShell, attempts = 3) => exportSegments({ device, root: volume, to, window: {}, shell, progress: null, attempts });

describe('export through real sh / GNU tar / tail', () => {
  it('copies finished segments (not the open one), byte for byte, checked against the journal', async () => {
    const report = await exportWith(new LocalShell());
    expect(report.failed).toBe(0);
    expect(report.files.map((f) => [f.name, f.outcome])).toEqual(files.map((f) => [f.name, 'copied']));
    for (const f of files) expect(await readFile(path.join(to, device, f.name))).toEqual(f.data);
    expect((await readdir(path.join(to, device))).some((n) => n.includes('_00001'))).toBe(false);
  });

  it('resumes after a connection cut in the middle of a 9 MiB file', async () => {
    await rm(path.join(to, device), { recursive: true, force: true });
    const shell = new LocalShell();
    shell.cutAfter = 3 * 1024 * 1024 + 4096 + 5 * 1024 * 1024;
    const cut = await exportWith(shell, 1);
    expect(cut.files.map((f) => f.outcome)).toEqual(['copied', 'copied', 'copied', 'failed', 'failed']);
    const partial = await readFile(path.join(to, device, `${files[3]?.name}.partial`));
    expect(partial.length).toBeGreaterThan(4 * 1024 * 1024);

    const resumed = new LocalShell();
    const report = await exportWith(resumed);
    expect(report.files.map((f) => f.outcome)).toEqual(['skipped', 'skipped', 'skipped', 'resumed', 'copied']);
    expect(resumed.commands).toContain('tail');
    expect(report.bytesCopied).toBe((files[3]?.data.length ?? 0) - partial.length + (files[4]?.data.length ?? 0));
    for (const f of files) expect(await readFile(path.join(to, device, f.name))).toEqual(f.data);
  });

  it('says which file the pod changed after the journal recorded it', async () => {
    await rm(path.join(to, device), { recursive: true, force: true });
    const victim = files[1];
    await writeFile(path.join(volume, device, victim?.name ?? ''), Buffer.alloc(victim?.data.length ?? 0, 1));
    try {
      const report = await exportWith(new LocalShell());
      expect(report.files[1]).toMatchObject({ outcome: 'failed', detail: expect.stringContaining('sha256') });
      expect(report.failed).toBe(1);
    } finally {
      await writeFile(path.join(volume, device, victim?.name ?? ''), victim?.data ?? '');
    }
  });
});

describe('export against the API server', () => {
  const ns = createNamespace('export');

  async function cli(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const child = spawn(process.execPath, [CLI, 'export', ...args], {
      env: { ...process.env, KUBECONFIG: k8sEnvironment().kubeconfigPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    return { code, stdout, stderr };
  }

  /** The export pod of storage/export-pod.yaml, with the device filled in as kustomize does. */
  async function exportPod(name: string): Promise<V1Pod> {
    const text = (await readFile(path.join(repo, 'storage/export-pod.yaml'), 'utf8')).replaceAll('DEVICE', name).replace('image: shifu-rtsp', 'image: registry.example.com/shifu-rtsp:0.1.0');
    const [pod] = await applyYaml(parseManifests(text), { namespace: ns.name });
    return pod as V1Pod;
  }

  it('names the export pod to create when there is none', async () => {
    const r = await cli(['--device', 'cam7', '--namespace', ns.name, '--to', to]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`export pod ${ns.name}/cam7-export not found: apply storage/`);
  });

  it('refuses a pod that is not Running, then reports the exec the API server cannot complete without a node', async () => {
    await exportPod('cam7');
    const pending = await cli(['--device', 'cam7', '--namespace', ns.name, '--to', to, '--no-progress']);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toContain(`export pod ${ns.name}/cam7-export is Pending, not Running`);

    // Pretend a scheduler and a kubelet ran it: the exec request then reaches the API server, which has no node to send it to.
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.patchNamespacedPodStatus({ namespace: ns.name, name: 'cam7-export', body: [{ op: 'add', path: '/status/phase', value: 'Running' }] });
    const unscheduled = await cli(['--device', 'cam7', '--namespace', ns.name, '--to', to, '--no-progress']);
    expect(unscheduled.stderr).toContain('is not scheduled on a node');
    await core.createNamespacedBinding({ namespace: ns.name, body: { metadata: { name: 'cam7-export' }, target: { kind: 'Node', name: 'edge-1' } } });
    const exec = await cli(['--device', 'cam7', '--namespace', ns.name, '--to', to, '--no-progress']);
    expect(exec.code).toBe(1);
    expect(exec.stderr).toMatch(new RegExp(`cannot exec in pod ${ns.name}/cam7-export: .*\\d{3}.*\\(the API server could not reach the kubelet`));
  });

  it('checks its flags before it talks to anyone', async () => {
    const r = await cli(['--device', 'cam7', '--to', to, '--since', 'yesterday']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid --since: expected an ISO time');
    const order = await cli(['--device', 'cam7', '--to', to, '--since', '2026-11-24T12:00:00Z', '--until', '2026-11-24T10:00:00Z']);
    expect(order.code).toBe(2);
  });
});
