// The recorder's own API in Kubernetes: a token per Deployment, a NetworkPolicy in front of it, and control's
// status asking it (the real recorder, on the loopback interface, plays the pod: no kubelet runs here).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, RbacAuthorizationV1Api, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { pino } from 'pino';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createControlHandlers, KubernetesBackend, type ControlHandlers } from '../../functions/control/index.js';
import { startCli } from '../e2e/support/recorder-process.js';
import { applyYaml, controlServiceAccount, createEdgeDevice, createNamespace, expectHttpError, kubeConfig, parseManifests, type ServiceAccountIdentity, serviceAccountKubeConfig } from './harness/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const log = pino({ level: 'silent' });
const ns = createNamespace('recorder-api');
/** Control's own token: recorder API tokens are derived from it. */
const CONTROL_KEY = 'k8s-tier-control-token-0123456789';
let control: ControlHandlers;
let sa: ServiceAccountIdentity;

/** A recorder Deployment's API token, as its pod gets it: from the Secret it names (read here as admin). */
async function recorderToken(deployment: V1Deployment): Promise<string> {
  const name = deployment.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'RECORDER_API_TOKEN')?.valueFrom?.secretKeyRef?.name;
  if (!name) throw new Error(`${deployment.metadata?.name} takes RECORDER_API_TOKEN from no Secret`);
  const secret = await kubeConfig().makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: ns.name, name });
  return Buffer.from(secret.data?.['token'] ?? '', 'base64').toString('utf8');
}

/** A NetworkPolicy as YAML spells it (client-node's type renames `from`). */
interface NetworkPolicyYaml extends KubernetesObject {
  spec?: {
    podSelector?: { matchLabels?: Record<string, string> };
    policyTypes?: string[];
    ingress?: Array<{ from?: Array<Record<string, unknown>>; ports?: unknown[] }>;
  };
}

beforeAll(async () => {
  sa = await controlServiceAccount(ns.name);
  control = createControlHandlers(new KubernetesBackend({ kubeConfig: sa.kubeConfig, namespace: ns.name, image: 'shifu-rtsp:test', log, stopTimeoutSeconds: 2, pollMs: 100, recorderTokenKey: CONTROL_KEY }), { log });
  for (const device of ['t1', 't2']) {
    await createEdgeDevice(ns.name, device, { allowedStreamUrls: 'rtsp://cam.example:554/' });
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedPersistentVolumeClaim({
        namespace: ns.name,
        body: { metadata: { name: `${device}-pvc` }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'slow' } },
      });
  }
});

describe('the recorder API in Kubernetes', () => {
  it('gives every recorder Deployment a token of its own for /record/*, kept out of the settings', async () => {
    const tokens: string[] = [];
    for (const device of ['t1', 't2']) {
      const res = await control.control({ method: 'POST', path: '/record/on', query: {}, headers: { 'content-type': 'application/json' }, body: { device, url: 'rtsp://cam.example:554/live' } });
      expect(res.status).toBe(201);
      const d = await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns.name, name: `${device}-recorder` });
      // Not in the Deployment (which `view` may read): from a Secret owned by it.
      const env = d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'RECORDER_API_TOKEN');
      expect(env?.value).toBeUndefined();
      const secretName = env?.valueFrom?.secretKeyRef?.name ?? '';
      expect(secretName).toMatch(new RegExp(`^${device}-recorder-api-[0-9a-f]+$`));
      const token = await recorderToken(d);
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect(JSON.stringify(d)).not.toContain(token);
      expect(JSON.stringify(res.body)).not.toContain(token);
      const secret = await kubeConfig().makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: ns.name, name: secretName });
      expect(secret.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Deployment', name: `${device}-recorder`, uid: d.metadata?.uid })]);
      tokens.push(token);
    }
    expect(tokens[0]).not.toBe(tokens[1]);
  });

  it("keeps the token out of reach of who may read Deployments and pods (as the built-in view role may), and out of control's reach too (create only)", async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const rbac = kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'viewer' } } });
    // `view` itself is aggregated by kube-controller-manager, which this tier does not run: its reading part.
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: { metadata: { name: 'reader' }, rules: [{ apiGroups: ['apps', ''], resources: ['deployments', 'pods'], verbs: ['get', 'list', 'watch'] }] },
    });
    await rbac.createNamespacedRoleBinding({ namespace: ns.name, body: { metadata: { name: 'viewer-reader' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' }, subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns.name }] } });
    const viewer = await serviceAccountKubeConfig(ns.name, 'viewer');
    const d = await viewer.kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns.name, name: 't1-recorder' });
    expect(JSON.stringify(d)).not.toContain(await recorderToken(d));
    const secretName = d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'RECORDER_API_TOKEN')?.valueFrom?.secretKeyRef?.name ?? '';
    expect(await expectHttpError(() => viewer.kubeConfig.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: ns.name, name: secretName }))).toBe(403);
    expect(await expectHttpError(() => sa.kubeConfig.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: ns.name, name: secretName }))).toBe(403);
  });

  it('ships a NetworkPolicy that lets only control and Prometheus reach recorder pods, on their API port', async () => {
    const kustomization = await readFile(path.join(repo, 'knative/kustomization.yaml'), 'utf8');
    expect(kustomization).toMatch(/^\s+- recorder-networkpolicy\.yaml$/m);
    const [policy] = parseManifests(await readFile(path.join(repo, 'knative/recorder-networkpolicy.yaml'), 'utf8')) as NetworkPolicyYaml[];
    expect(policy?.kind).toBe('NetworkPolicy');
    expect(policy?.spec?.podSelector?.matchLabels).toEqual({ 'app.kubernetes.io/component': 'recorder' });
    expect(policy?.spec?.policyTypes).toEqual(['Ingress']);
    const from = (policy?.spec?.ingress ?? []).flatMap((rule) => rule.from ?? []);
    expect(from).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'control' } } }),
        expect.objectContaining({ namespaceSelector: expect.anything() }),
      ]),
    );
    for (const rule of policy?.spec?.ingress ?? []) expect(rule.ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
    const copy = { ...policy, metadata: { ...policy!.metadata, namespace: ns.name } } as KubernetesObject;
    await applyYaml(copy, { mode: 'create', fieldValidation: 'Strict' });
  });

  it("status is the recorder's own state, asked with the Deployment's token; readiness when it cannot be asked", async () => {
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const deployment = await apps.readNamespacedDeployment({ namespace: ns.name, name: 't1-recorder' });
    const token = await recorderToken(deployment);
    // The real recorder (the built CLI) plays the pod, on loopback, with the Deployment's token; --idle: off.
    const out = await mkdtemp(path.join(os.tmpdir(), 'shifu-k8s-rec-'));
    const recorder = await startCli('recorder', ['--url', 'rtsp://127.0.0.1:9/none', '--out', out, '--device', 't1', '--idle'], { RECORDER_API_TOKEN: token });
    onTestFinished(async () => {
      await recorder.stop('SIGKILL');
      await rm(out, { recursive: true, force: true });
    });
    const port = Number(new URL(recorder.baseUrl).port);
    // The pod and the Deployment's status as kubelet and the Deployment controller would report them: Ready.
    const labels = { 'app.kubernetes.io/name': 'shifu-rtsp', 'app.kubernetes.io/component': 'recorder', 'shifu-rtsp/device': 't1' };
    await core.createNamespacedPod({
      namespace: ns.name,
      body: { metadata: { name: 't1-recorder-fake', labels }, spec: { containers: [{ name: 'recorder', image: 'shifu-rtsp:test', ports: [{ name: 'http', containerPort: port }] }] } },
    });
    await core.patchNamespacedPodStatus({ namespace: ns.name, name: 't1-recorder-fake', body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }] } }] });
    await apps.patchNamespacedDeploymentStatus({ namespace: ns.name, name: 't1-recorder', body: [{ op: 'add', path: '/status', value: { replicas: 1, readyReplicas: 1 } }] });
    const status = async (device: string) =>
      (await control.control({ method: 'GET', path: '/record/status', query: { device }, headers: {}, body: undefined })).body as { state: string; detail: Record<string, unknown> };

    // Switched off through its own API: idle, and Ready, yet not recording.
    expect(await status('t1')).toMatchObject({ state: 'not-ready', detail: { recorder: { state: 'idle', recording: false } } });
    expect((await status('t1')).detail).not.toHaveProperty('recorderError');
    // Switched on, with no camera at its address: what it is doing, in its own words (a camera that records is
    // the cluster tier's scenario 8).
    expect((await fetch(`${recorder.baseUrl}/record/on`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const trying = await status('t1');
    expect(trying.state).toBe('not-ready');
    expect(trying.detail).toMatchObject({ recorder: { recording: true } });
    expect(['connecting', 'reconnecting']).toContain((trying.detail.recorder as { state: string }).state);

    // A Deployment whose token no longer matches the pod: readiness, and why the recorder was not asked.
    await apps.patchNamespacedDeployment({
      namespace: ns.name,
      name: 't1-recorder',
      body: [{ op: 'replace', path: '/metadata/annotations/shifu-rtsp~1api-token-id', value: 'another0id0entirely' }],
    });
    const refused = await status('t1');
    expect(refused).toMatchObject({ state: 'recording', detail: { recorder: null, recorderError: expect.stringContaining(`127.0.0.1:${port} answered HTTP 401`) } });
    expect(JSON.stringify(refused)).not.toContain(token);

    // The list asks every recorder; one without a pod says so.
    const all = (await control.control({ method: 'GET', path: '/record/status', query: {}, headers: {}, body: undefined })).body as { recorders: Array<{ device: string; state: string; detail: Record<string, unknown> }> };
    expect(all.recorders.find((r) => r.device === 't2')).toMatchObject({ state: 'starting', detail: { recorder: null, recorderError: expect.stringContaining('no running recorder pod') } });
    expect(all.recorders.find((r) => r.device === 't1')).toMatchObject({ detail: { recorderError: expect.stringContaining('HTTP 401') } });
  });
});
