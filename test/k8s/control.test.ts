// The control functions with the kubernetes backend against a real kube-apiserver, acting as the control
// ServiceAccount with the Role from knative/control-rbac.yaml (a real token from the TokenRequest API).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createControlHandlers, KubernetesBackend, type ControlHandlers, type ControlRequest } from '../../functions/control/index.js';
import { applyYaml, createNamespace, expectHttpError, kubeConfig, parseManifests, serviceAccountKubeConfig, type ServiceAccountIdentity } from './harness/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const IMAGE = 'registry.example.com/shifu-rtsp:test';
const log = pino({ level: 'silent' });
const ns = createNamespace('control');
/** Control's own token: recorder API tokens are derived from it. */
const CONTROL_KEY = 'k8s-tier-control-token-0123456789';
const other = createNamespace('control-other');

let sa: ServiceAccountIdentity;
let control: ControlHandlers;
const apps = (): AppsV1Api => kubeConfig().makeApiClient(AppsV1Api);
const core = (): CoreV1Api => kubeConfig().makeApiClient(CoreV1Api);

/** The control RBAC exactly as shipped, put into the test namespace (kustomize would set it). */
async function applyControlRbac(namespace: string): Promise<void> {
  const objects = parseManifests(await readFile(path.join(repo, 'knative/control-rbac.yaml'), 'utf8')).map((o) => {
    const copy = structuredClone(o) as KubernetesObject & { subjects?: Array<{ namespace?: string }> };
    copy.metadata = { ...copy.metadata, namespace };
    for (const subject of copy.subjects ?? []) subject.namespace = namespace;
    return copy;
  });
  await applyYaml(objects);
}

async function pvc(name: string, namespace = ns.name, phase?: string): Promise<void> {
  await core().createNamespacedPersistentVolumeClaim({
    namespace,
    body: { metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'slow' } },
  });
  // No PV controller runs here: set the phase a bound claim would have.
  if (phase) await core().patchNamespacedPersistentVolumeClaimStatus({ namespace, name, body: [{ op: 'add', path: '/status', value: { phase } }] });
}

async function edgeDevice(name: string, spec: Record<string, unknown>): Promise<void> {
  await kubeConfig()
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({
      group: 'shifu.edgenesis.io',
      version: 'v1alpha1',
      plural: 'edgedevices',
      namespace: ns.name,
      body: { apiVersion: 'shifu.edgenesis.io/v1alpha1', kind: 'EdgeDevice', metadata: { name }, spec },
    });
}

async function recorders(namespace = ns.name): Promise<V1Deployment[]> {
  return (await apps().listNamespacedDeployment({ namespace })).items;
}

function post(route: string, body?: unknown, query: Record<string, string> = {}): ControlRequest {
  return { method: 'POST', path: route, query, headers: { 'content-type': 'application/json' }, body };
}

beforeAll(async () => {
  await applyControlRbac(ns.name);
  sa = await serviceAccountKubeConfig(ns.name, 'shifu-rtsp-control');
  const backend = new KubernetesBackend({ kubeConfig: sa.kubeConfig, namespace: ns.name, image: IMAGE, log, stopTimeoutSeconds: 2, pollMs: 100, recorderTokenKey: CONTROL_KEY });
  control = createControlHandlers(backend, { log });
});

describe('/record/on with the kubernetes backend', () => {
  it('refuses a device without a PVC with a 4xx naming the claim and storage/, and creates nothing', async () => {
    await edgeDevice('nopvc', { address: 'cam.example:554', protocol: 'TCP' });
    const res = await control.control(post('/record/on', { device: 'nopvc' }));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: 'pvc_missing', message: expect.stringMatching(new RegExp(`PersistentVolumeClaim ${ns.name}/nopvc-pvc not found.*storage/`)) });
    expect(await recorders()).toHaveLength(0);
  });

  it('refuses a device without an EdgeDevice, with or without a url, naming the EdgeDevice to create', async () => {
    await pvc('ghost-pvc', ns.name, 'Bound');
    for (const body of [{ device: 'ghost' }, { device: 'ghost', url: 'rtsp://10.0.0.7/live' }]) {
      const res = await control.control(post('/record/on', body));
      expect(res).toMatchObject({ status: 422, body: { error: 'edgedevice_missing', message: expect.stringContaining(`EdgeDevice ${ns.name}/ghost not found`) } });
    }
    expect(await recorders()).toHaveLength(0);
  });

  it("refuses another device's Secret, another claim and any camera but the device's own forwarder with 403 naming the field", async () => {
    await pvc('victim-pvc', ns.name, 'Bound');
    await pvc('thief-pvc', ns.name, 'Bound');
    await edgeDevice('thief', { address: '192.168.1.70:554', protocol: 'TCP' });
    // The review's attack: log in to the attacker's host with the victim's password, fill the victim's volume.
    const attacks: Array<[Record<string, unknown>, string]> = [
      [{ device: 'thief', url: 'rtsp://attacker.example/a' }, 'url'],
      [{ device: 'thief', url: 'rtsp://deviceshifu-victim.' + ns.name + '.svc.cluster.local:554/x' }, 'url'],
      [{ device: 'thief', url: 'rtsp://deviceshifu-thief.' + ns.name + '.svc.cluster.local:8554/x' }, 'url'],
      [{ device: 'thief', credentialsSecret: 'victim-rtsp' }, 'credentialsSecret'],
      [{ device: 'thief', pvc: 'victim-pvc' }, 'pvc'],
      [{ device: 'thief', url: 'rtsp://attacker.example/a', credentialsSecret: 'victim-rtsp', pvc: 'victim-pvc' }, 'url'],
    ];
    for (const [body, field] of attacks) {
      const res = await control.control(post('/record/on', body));
      expect(res, JSON.stringify(body)).toMatchObject({ status: 403, body: { error: 'forbidden', message: expect.stringMatching(new RegExp(`^${field}: `)) } });
    }
    expect(await recorders()).toHaveLength(0);
    // Its own forwarder, by short or full name, any path: allowed.
    const own = await control.control(post('/record/on', { device: 'thief', url: 'rtsp://deviceshifu-thief:554/Streaming/Channels/102' }));
    expect(own.status, JSON.stringify(own.body)).toBe(201);
    expect((await control.control(post('/record/off', { device: 'thief' }))).status).toBeLessThan(300);
  });

  it("takes another camera, Secret or claim once the device's EdgeDevice allows it (spec.customMetadata)", async () => {
    await pvc('shared-pvc', ns.name, 'Bound');
    await edgeDevice('direct', {
      address: '10.0.0.20:554',
      protocol: 'TCP',
      customMetadata: { allowedStreamUrls: 'rtsp://10.0.0.20:554/Streaming/, rtsp://10.0.0.21', allowedCredentialsSecrets: 'site-a-cameras', allowedPvcs: 'shared-pvc' },
    });
    // Outside the listed path prefix, or another port: still refused.
    expect((await control.control(post('/record/on', { device: 'direct', url: 'rtsp://10.0.0.20:554/other' }))).status).toBe(403);
    expect((await control.control(post('/record/on', { device: 'direct', url: 'rtsp://10.0.0.21:8554/x' }))).status).toBe(403);
    expect((await control.control(post('/record/on', { device: 'direct', credentialsSecret: 'site-b-cameras' }))).status).toBe(403);
    const res = await control.control(post('/record/on', { device: 'direct', url: 'rtsp://10.0.0.20/Streaming/Channels/101', credentialsSecret: 'site-a-cameras', pvc: 'shared-pvc' }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const d = await apps().readNamespacedDeployment({ namespace: ns.name, name: 'direct-recorder' });
    expect(d.spec?.template.spec?.volumes).toEqual(expect.arrayContaining([expect.objectContaining({ persistentVolumeClaim: { claimName: 'shared-pvc' } })]));
    expect((await control.control(post('/record/off', { device: 'direct' }))).status).toBeLessThan(300);
  });

  it('creates a recorder Deployment the API server accepts, with the url from the EdgeDevice', async () => {
    await pvc('cam1-pvc', ns.name, 'Bound');
    await edgeDevice('cam1', {
      address: '192.168.1.64:554',
      protocol: 'TCP',
      protocolSettings: { TCPSetting: { ListenPort: '8081' } },
      customMetadata: { rtspPath: '/Streaming/Channels/101' },
    });
    const res = await control.control(post('/record/on', { device: 'cam1', segmentSeconds: 600, storagePath: 'site-a', nodeSelector: { 'kubernetes.io/hostname': 'edge-1' } }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ device: 'cam1', created: true, warnings: [], recorder: { backend: 'kubernetes', state: 'starting' } });

    const d = await apps().readNamespacedDeployment({ namespace: ns.name, name: 'cam1-recorder' });
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.strategy?.type).toBe('Recreate');
    expect(d.spec?.template.metadata?.labels).toMatchObject({ 'app.kubernetes.io/component': 'recorder', 'shifu-rtsp/device': 'cam1' });
    const pod = d.spec?.template.spec;
    const c = pod?.containers[0];
    const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e]));
    expect(env['RTSP_URL']?.value).toBe(`rtsp://deviceshifu-cam1.${ns.name}.svc.cluster.local:554/Streaming/Channels/101`);
    expect(env['CAMERA_USERNAME']?.valueFrom?.secretKeyRef).toEqual({ name: 'cam1-rtsp', key: 'username', optional: true });
    expect(env['CAMERA_PASSWORD']?.valueFrom?.secretKeyRef).toEqual({ name: 'cam1-rtsp', key: 'password', optional: true });
    expect(env['RECORD_ROOT']?.value).toBe('/data/site-a');
    expect(env['SEGMENT_SECONDS']?.value).toBe('600');
    expect(c?.image).toBe(IMAGE);
    expect(c?.command).toEqual(['shifu-rtsp']);
    expect(c?.args).toEqual(['recorder']);
    expect(c?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod?.volumes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'data', persistentVolumeClaim: { claimName: 'cam1-pvc' } })]));
    expect(c?.volumeMounts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'data', mountPath: '/data' }), expect.objectContaining({ name: 'tmp', mountPath: '/tmp' })]));
    expect(c?.livenessProbe?.httpGet?.path).toBe('/health');
    expect(c?.readinessProbe?.httpGet?.path).toBe('/ready');
    expect(c?.resources?.limits).toMatchObject({ cpu: '1', memory: '512Mi' });
    expect(pod?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(pod?.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'edge-1' });
  });

  it('creates nothing the second time, and refuses other settings with 409 naming them', async () => {
    const before = await apps().readNamespacedDeployment({ namespace: ns.name, name: 'cam1-recorder' });
    const again = await control.control(post('/record/on', { device: 'cam1' }));
    expect(again).toMatchObject({ status: 200, body: { created: false } });
    const same = await control.control(post('/record/on', { device: 'cam1', segmentSeconds: 600, path: '/Streaming/Channels/101' }));
    expect(same.status).toBe(200);
    const conflict = await control.control(post('/record/on', { device: 'cam1', segmentSeconds: 60 }));
    expect(conflict).toMatchObject({ status: 409, body: { error: 'recorder_conflict', message: expect.stringContaining('segmentSeconds (running 600, asked 60)') } });
    const after = await apps().readNamespacedDeployment({ namespace: ns.name, name: 'cam1-recorder' });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect((await recorders()).filter((d) => d.metadata?.name?.startsWith('cam1'))).toHaveLength(1);
  });

  it('reports status from the Deployment', async () => {
    const one = await control.control({ method: 'GET', path: '/record/status', query: { device: 'cam1' }, headers: {}, body: undefined });
    expect(one).toMatchObject({ status: 200, body: { device: 'cam1', backend: 'kubernetes', settings: { segmentSeconds: 600 }, detail: { deployment: 'cam1-recorder' } } });
    const all = await control.control({ method: 'GET', path: '/record/status', query: {}, headers: {}, body: undefined });
    expect(all).toMatchObject({ status: 200, body: { backend: 'kubernetes', recorders: [expect.objectContaining({ device: 'cam1' })] } });
  });

  it('takes a url its EdgeDevice allows, and warns when the PVC is not bound yet', async () => {
    await pvc('cam2-pvc');
    await edgeDevice('cam2', { address: '10.0.0.9:554', protocol: 'TCP', customMetadata: { allowedStreamUrls: 'rtsp://10.0.0.9/' } });
    const res = await control.control(post('/record/on', { device: 'cam2', url: 'rtsp://10.0.0.9/stream' }));
    expect(res).toMatchObject({ status: 201, body: { warnings: [expect.stringContaining(`PersistentVolumeClaim ${ns.name}/cam2-pvc is`)] } });
  });

  it('never touches a Deployment it did not make', async () => {
    await pvc('cam3-pvc', ns.name, 'Bound');
    await apps().createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: 'cam3-recorder' },
        spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'x', image: 'x' }] } } },
      },
    });
    await edgeDevice('cam3', { address: '10.0.0.3:554', protocol: 'TCP' });
    expect((await control.control(post('/record/on', { device: 'cam3' }))).body).toMatchObject({ error: 'name_taken' });
    expect((await control.control(post('/record/off', { device: 'cam3' }))).body).toMatchObject({ error: 'name_taken' });
    await apps().readNamespacedDeployment({ namespace: ns.name, name: 'cam3-recorder' });
  });
});

describe('/record/off with the kubernetes backend', () => {
  it('deletes the Deployment (202), then answers 404', async () => {
    const res = await control.control(post('/record/off', { device: 'cam1' }));
    expect(res).toMatchObject({ status: 202, body: { device: 'cam1', deleted: true, stopped: false } });
    expect(await expectHttpError(() => apps().readNamespacedDeployment({ namespace: ns.name, name: 'cam1-recorder' }))).toBe(404);
    expect((await control.control(post('/record/off', { device: 'cam1' }))).status).toBe(404);
  });

  it('?wait=true waits for the recorder pod, and /record/on waits for a pod that is still stopping', async () => {
    // A pod left by a deleted Deployment, still closing its last segment.
    const labels = { 'app.kubernetes.io/name': 'shifu-rtsp', 'app.kubernetes.io/component': 'recorder', 'shifu-rtsp/device': 'cam2' };
    await control.control(post('/record/off', { device: 'cam2' }));
    await core().createNamespacedPod({ namespace: ns.name, body: { metadata: { name: 'cam2-recorder-abc', labels }, spec: { containers: [{ name: 'recorder', image: IMAGE }] } } });

    const busy = await control.control(post('/record/on', { device: 'cam2', url: 'rtsp://10.0.0.9/stream' }));
    expect(busy).toMatchObject({ status: 409, body: { error: 'recorder_stopping' }, headers: { 'retry-after': '5' } });

    const timedOut = await control.control(post('/record/off', { device: 'cam2' }, { wait: 'true', timeoutSeconds: '1' }));
    expect(timedOut).toMatchObject({ status: 202, body: { stopped: false, detail: { pods: ['cam2-recorder-abc'] } } });

    const gone = control.control(post('/record/off', { device: 'cam2' }, { wait: 'true' }));
    await new Promise((r) => setTimeout(r, 300)); // it has seen the pod and polls
    await core().deleteNamespacedPod({ namespace: ns.name, name: 'cam2-recorder-abc', gracePeriodSeconds: 0 });
    expect(await gone).toMatchObject({ status: 200, body: { stopped: true } });
    expect((await control.control(post('/record/on', { device: 'cam2', url: 'rtsp://10.0.0.9/stream' }))).status).toBe(201);
  });
});

describe('the control ServiceAccount (knative/control-rbac.yaml)', () => {
  it('cannot read Secrets: recorder pods get credentials through secretKeyRef instead', async () => {
    await core().createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: 'cam1-rtsp' }, stringData: { username: 'admin', password: 'hunter2' } } });
    const asControl = sa.kubeConfig.makeApiClient(CoreV1Api);
    expect(await expectHttpError(() => asControl.readNamespacedSecret({ namespace: ns.name, name: 'cam1-rtsp' }))).toBe(403);
    expect(await expectHttpError(() => asControl.listNamespacedSecret({ namespace: ns.name }))).toBe(403);
  });

  it('cannot touch another namespace', async () => {
    const asControl = sa.kubeConfig.makeApiClient(AppsV1Api);
    expect(await expectHttpError(() => asControl.listNamespacedDeployment({ namespace: other.name }))).toBe(403);
    expect(
      await expectHttpError(() =>
        asControl.createNamespacedDeployment({
          namespace: other.name,
          body: { metadata: { name: 'x' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'x', image: 'x' }] } } } },
        }),
      ),
    ).toBe(403);
    // Pointed at another namespace, the functions say why instead of failing blindly.
    const elsewhere = createControlHandlers(new KubernetesBackend({ kubeConfig: sa.kubeConfig, namespace: other.name, image: IMAGE, log, stopTimeoutSeconds: 1, recorderTokenKey: CONTROL_KEY }), { log });
    const res = await elsewhere.control(post('/record/on', { device: 'cam9', url: 'rtsp://cam9/x' }));
    expect(res).toMatchObject({ status: 500, body: { error: 'kubernetes_forbidden', message: expect.stringContaining('knative/control-rbac.yaml') } });
    expect(await recorders(other.name)).toHaveLength(0);
  });

  it('cannot patch Deployments, nor touch Services, Roles or PVCs beyond reading them', async () => {
    const asControl = sa.kubeConfig.makeApiClient(CoreV1Api);
    expect(await expectHttpError(() => asControl.deleteNamespacedPersistentVolumeClaim({ namespace: ns.name, name: 'cam2-pvc' }))).toBe(403);
    expect(await expectHttpError(() => asControl.listNamespacedService({ namespace: ns.name }))).toBe(403);
    expect(
      await expectHttpError(() =>
        sa.kubeConfig.makeApiClient(AppsV1Api).patchNamespacedDeployment({ namespace: ns.name, name: 'cam2-recorder', body: [{ op: 'replace', path: '/spec/replicas', value: 2 }] }),
      ),
    ).toBe(403);
  });
});

describe('functions-framework entry (dist/functions/control/functions.js) against the API server', () => {
  it('registers the targets from the environment and serves /record/on through the kubernetes backend', async () => {
    await pvc('ff1-pvc', ns.name, 'Bound');
    await edgeDevice('ff1', { address: '10.0.0.11:554', protocol: 'TCP', customMetadata: { allowedStreamUrls: 'rtsp://ff1/' } });
    const token = 'ff1-control-token-0123456789';
    Object.assign(process.env, { CONTROL_NAMESPACE: ns.name, RECORDER_IMAGE: IMAGE, KUBECONFIG: process.env['KUBECONFIG'] ?? '', CONTROL_TOKEN: token });
    delete process.env['CONTROL_BACKEND'];
    await import('../../functions/control/functions.js');
    const { getTestServer } = await import('@google-cloud/functions-framework/testing');
    const server = getTestServer('control');
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const address = server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
      const body = JSON.stringify({ device: 'ff1', url: 'rtsp://ff1/x' });
      expect((await fetch(`${base}/record/on`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(401);
      const on = await fetch(`${base}/record/on`, { method: 'POST', headers, body });
      expect(on.status).toBe(201);
      await apps().readNamespacedDeployment({ namespace: ns.name, name: 'ff1-recorder' });
      const off = await fetch(`${base}/record/off`, { method: 'POST', headers, body: JSON.stringify({ device: 'ff1' }) });
      expect(off.status).toBe(202);
    } finally {
      server.close();
    }
  });
});
