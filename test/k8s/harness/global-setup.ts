// vitest globalSetup of the `k8s` project: one real etcd + kube-apiserver per test run.
//
//  1. test/k8s/assets/ensure-assets.sh finds or builds kube-apiserver and etcd (cached outside
//     the repo; $KUBEBUILDER_ASSETS wins when it holds both).
//  2. etcd and kube-apiserver start on free loopback ports with throw-away state in a temp dir:
//     RBAC authorization, a static admin token (group system:masters), a self-signed serving
//     certificate, and service-account token signing so the TokenRequest API works.
//  3. An admin kubeconfig is written and handed to the tests (inject('kubeconfigPath'),
//     inject('k8s'), and $KUBECONFIG), and every CRD from test/crds (the ones written in the
//     repository plus Knative Serving's own, fetched from its Go module and cached) is applied with
//     Strict field validation and awaited until Established.
//  4. Teardown stops both processes and removes the temp dir.
//
// Nothing here is ever skipped: a missing prerequisite fails the run with a message that says
// what to install or set (CI runs with CI=true and must not pass by doing nothing).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiextensionsV1Api, KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { crdDirectories, yamlFiles } from '../../crds/index.js';
import { applyManifests, parseManifests } from './apply.js';
import type { K8sTestEnvironment } from './context.js';
import { adminKubeconfig, ensureAssets, log, startApiServer, startEtcd, type ApiServer, type Etcd } from './processes.js';

const harnessDir = path.dirname(fileURLToPath(import.meta.url));

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

function establishedState(crd: V1CustomResourceDefinition): { established: boolean; problem?: string } {
  const conditions = crd.status?.conditions ?? [];
  const names = conditions.find((c) => c.type === 'NamesAccepted');
  if (names?.status === 'False') return { established: false, problem: `NamesAccepted=False: ${names.message ?? ''}` };
  return { established: conditions.some((c) => c.type === 'Established' && c.status === 'True') };
}

async function installCrds(kc: KubeConfig, crdDirs: string[], timeoutMs: number): Promise<string[]> {
  const names: string[] = [];
  const files = (await Promise.all(crdDirs.map((dir) => yamlFiles(dir)))).flat();
  for (const file of files) {
    const objects = parseManifests(await readFile(file, 'utf8'));
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    if (crds.length === 0) continue;
    try {
      await applyManifests(kc, crds, { fieldValidation: 'Strict', fieldManager: 'shifu-rtsp-k8s-setup' });
    } catch (err) {
      throw new Error(`installing CRDs from ${file} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const crd of crds) names.push(crd.metadata?.name ?? '');
  }
  if (names.length === 0) throw new Error(`no CustomResourceDefinition found under ${crdDirs.join(', ')}`);

  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      const state = establishedState(crd);
      if (state.problem) throw new Error(`CRD ${name} cannot be served: ${state.problem}`);
      if (state.established) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return names;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const script = path.join(harnessDir, '..', 'assets', 'ensure-assets.sh');
  const keepTmp = process.env['SHIFU_RTSP_K8S_KEEP_TMP'] === '1';

  log(`ensuring kube-apiserver and etcd (CI=${process.env['CI'] ?? ''})`);
  // A cold build on a 2-core machine takes minutes; a warm one is a file check.
  const assets = await ensureAssets(script, envNumber('SHIFU_RTSP_ASSETS_TIMEOUT_MS', 45 * 60_000));
  log(`assets in ${assets.dir} (${assets.seconds.toFixed(1)} s)`);

  const workDir = await mkdtemp(path.join(os.tmpdir(), 'shifu-rtsp-k8s-'));
  let etcd: Etcd | undefined;
  let apiserver: ApiServer | undefined;
  const previousKubeconfig = process.env['KUBECONFIG'];

  const teardown = async (): Promise<void> => {
    const t0 = Date.now();
    await apiserver?.process.stop();
    await etcd?.process.stop();
    if (previousKubeconfig === undefined) delete process.env['KUBECONFIG'];
    else process.env['KUBECONFIG'] = previousKubeconfig;
    if (keepTmp) log(`kept ${workDir} (SHIFU_RTSP_K8S_KEEP_TMP=1)`);
    else await rm(workDir, { recursive: true, force: true });
    log(`stopped kube-apiserver and etcd in ${Date.now() - t0} ms`);
  };

  try {
    etcd = await startEtcd(path.join(assets.dir, 'etcd'), workDir, envNumber('SHIFU_RTSP_ETCD_READY_TIMEOUT_MS', 60_000));
    log(`etcd pid ${etcd.process.pid} at ${etcd.clientUrl}`);
    apiserver = await startApiServer(
      path.join(assets.dir, 'kube-apiserver'),
      workDir,
      etcd.clientUrl,
      envNumber('SHIFU_RTSP_APISERVER_READY_TIMEOUT_MS', 180_000),
    );
    log(`kube-apiserver pid ${apiserver.process.pid} ready at ${apiserver.url}`);

    const kubeconfigPath = path.join(workDir, 'kubeconfig');
    await writeFile(kubeconfigPath, adminKubeconfig(apiserver), { mode: 0o600 });
    process.env['KUBECONFIG'] = kubeconfigPath;
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);

    const crdDirs = await crdDirectories();
    const installedCrds = await installCrds(kc, crdDirs, envNumber('SHIFU_RTSP_CRD_TIMEOUT_MS', 60_000));
    log(`installed ${installedCrds.length} CRDs from ${crdDirs.join(', ')}: ${installedCrds.join(', ')}`);

    const env: K8sTestEnvironment = {
      kubeconfigPath,
      apiserverUrl: apiserver.url,
      apiserverPid: apiserver.process.pid,
      etcdPid: etcd.process.pid,
      assetsDir: assets.dir,
      installedCrds,
    };
    project.provide('k8s', env);
    project.provide('kubeconfigPath', kubeconfigPath);
    log(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)} s (kubeconfig ${kubeconfigPath})`);
    return teardown;
  } catch (err) {
    // vitest does not call a teardown that setup never returned: clean up here.
    await teardown().catch(() => undefined);
    throw err;
  }
}
