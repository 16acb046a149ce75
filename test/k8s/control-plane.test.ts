// The k8s tier really runs a kube-apiserver (not a mock): the server answers /version with the
// version the assets were built from, and the processes started by the global setup are alive.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiextensionsV1Api, VersionApi } from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { crdDirectories, yamlFiles } from '../crds/index.js';
import { k8sEnvironment, kubeConfig } from './harness/index.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
}

function goModVersion(module: string): string {
  const gomod = readFileSync(path.join(import.meta.dirname, 'assets', 'go.mod'), 'utf8');
  const line = gomod.split('\n').find((l) => l.trim().startsWith(`${module} v`));
  if (!line) throw new Error(`${module} not in assets/go.mod`);
  return line.trim().split(/\s+/)[1] ?? '';
}

describe('control plane', () => {
  it('provides the kubeconfig path through inject()', () => {
    const env = k8sEnvironment();
    expect(inject('kubeconfigPath')).toBe(env.kubeconfigPath);
    expect(kubeConfig().getCurrentCluster()?.server).toBe(env.apiserverUrl);
    expect(env.apiserverUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('is a real kube-apiserver of the pinned version, serving /version', async () => {
    const info = await kubeConfig().makeApiClient(VersionApi).getCode();
    expect(info.gitVersion).toBe(goModVersion('k8s.io/kubernetes'));
    expect(info.major).toBe('1');
    expect(info.goVersion).toMatch(/^go1\./);
    expect(info.platform).toBe(`linux/${process.arch === 'x64' ? 'amd64' : process.arch}`);
  });

  it('runs kube-apiserver and etcd as live child processes started from the asset dir', () => {
    const env = k8sEnvironment();
    expect(isAlive(env.apiserverPid)).toBe(true);
    expect(isAlive(env.etcdPid)).toBe(true);
    const apiserverArgs = cmdline(env.apiserverPid);
    expect(apiserverArgs[0]).toBe(path.join(env.assetsDir, 'kube-apiserver'));
    expect(apiserverArgs).toContain(`--secure-port=${new URL(env.apiserverUrl).port}`);
    expect(apiserverArgs).toContain('--authorization-mode=RBAC');
    expect(cmdline(env.etcdPid)[0]).toBe(path.join(env.assetsDir, 'etcd'));
  });

  it('installed every CRD from test/crds and Knative Serving, and each is Established', async () => {
    const env = k8sEnvironment();
    const files = (await Promise.all((await crdDirectories()).map((dir) => yamlFiles(dir)))).flat();
    expect(env.installedCrds.length).toBeGreaterThanOrEqual(files.length);
    for (const name of [
      'edgedevices.shifu.edgenesis.io',
      'services.serving.knative.dev',
      'brokers.eventing.knative.dev',
      'triggers.eventing.knative.dev',
      'sinkbindings.sources.knative.dev',
    ]) {
      expect(env.installedCrds).toContain(name);
    }

    const api = kubeConfig().makeApiClient(ApiextensionsV1Api);
    const served = (await api.listCustomResourceDefinition()).items.map((c) => c.metadata?.name);
    for (const name of env.installedCrds) {
      expect(served).toContain(name);
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.find((c) => c.type === 'Established');
      expect(established?.status, `${name} Established`).toBe('True');
    }
  });
});
