// `shifu-rtsp export` against a real API server. The pod proxy needs a kubelet and a pod IP, which this control
// plane has not: the copy itself is tested against a real playback server in test/unit/export-transfer.test.ts
// and test/e2e/playback.test.ts; here, the API-server side as far as it goes (finding the export pod, its
// phase, the proxy request).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyYaml, createNamespace, k8sEnvironment, kubeConfig, parseManifests } from './harness/index.js';
import { runCli } from '../support/cli.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let to: string;
beforeAll(async () => {
  to = await mkdtemp(path.join(os.tmpdir(), 'shifu-export-to-'));
});
afterAll(async () => {
  await rm(to, { recursive: true, force: true });
});

describe('export against the API server', () => {
  const ns = createNamespace('export');

  const cli = (args: string[]): ReturnType<typeof runCli> => runCli(['export', ...args], { KUBECONFIG: k8sEnvironment().kubeconfigPath });

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

  it('refuses a pod that is not Running, then reports the pod proxy request the API server cannot complete without a pod IP', async () => {
    await exportPod('cam7');
    const pending = await cli(['--device', 'cam7', '--namespace', ns.name, '--to', to, '--no-progress']);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toContain(`export pod ${ns.name}/cam7-export is Pending, not Running`);

    // Pretend a scheduler and a kubelet ran it: the proxy request then reaches the API server, which has no pod IP to send it to.
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.patchNamespacedPodStatus({ namespace: ns.name, name: 'cam7-export', body: [{ op: 'add', path: '/status/phase', value: 'Running' }] });
    const unscheduled = await cli(['--device', 'cam7', '--namespace', ns.name, '--to', to, '--no-progress']);
    expect(unscheduled.stderr).toContain('is not scheduled on a node');
    await core.createNamespacedBinding({ namespace: ns.name, body: { metadata: { name: 'cam7-export' }, target: { kind: 'Node', name: 'edge-1' } } });
    const proxied = await cli(['--device', 'cam7', '--namespace', ns.name, '--to', to, '--no-progress']);
    expect(proxied.code).toBe(1);
    expect(proxied.stderr).toMatch(new RegExp(`timeline from pod proxy ${ns.name}/cam7-export:9996 failed: \\d{3}: `));
  });

  it('checks its flags before it talks to anyone', async () => {
    const r = await cli(['--device', 'cam7', '--to', to, '--since', 'yesterday']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid --since: expected an ISO time');
    const order = await cli(['--device', 'cam7', '--to', to, '--since', '2026-11-24T12:00:00Z', '--until', '2026-11-24T10:00:00Z']);
    expect(order.code).toBe(2);
  });
});
