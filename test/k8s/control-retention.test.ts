// Retention in Kubernetes: a recorder never fills its volume to the kubelet's eviction threshold by default.
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createControlHandlers, KubernetesBackend, type ControlHandlers, type ControlRequest } from '../../functions/control/index.js';
import { controlServiceAccount, createEdgeDevice, createNamespace, kubeConfig } from './harness/index.js';

const log = pino({ level: 'silent' });
const ns = createNamespace('retention');
/** Control's own token: recorder API tokens are derived from it. */
const CONTROL_KEY = 'k8s-tier-control-token-0123456789';
let control: ControlHandlers;
const core = (): CoreV1Api => kubeConfig().makeApiClient(CoreV1Api);

/** A claim as the PV controller leaves it: Bound, with the capacity of its volume (which may exceed the request). */
async function boundPvc(name: string, request: string, capacity?: string): Promise<void> {
  await core().createNamespacedPersistentVolumeClaim({
    namespace: ns.name,
    body: { metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: request } }, storageClassName: 'slow' } },
  });
  const status = { phase: 'Bound', ...(capacity ? { capacity: { storage: capacity } } : {}) };
  await core().patchNamespacedPersistentVolumeClaimStatus({ namespace: ns.name, name, body: [{ op: 'add', path: '/status', value: status }] });
}

function post(route: string, body: unknown): ControlRequest {
  return { method: 'POST', path: route, query: {}, headers: { 'content-type': 'application/json' }, body };
}

async function recorderEnv(device: string): Promise<Record<string, string | undefined>> {
  const d = await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns.name, name: `${device}-recorder` });
  return Object.fromEntries((d.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
}

beforeAll(async () => {
  const sa = await controlServiceAccount(ns.name);
  control = createControlHandlers(new KubernetesBackend({ kubeConfig: sa.kubeConfig, namespace: ns.name, image: 'shifu-rtsp:test', log, stopTimeoutSeconds: 2, pollMs: 100, recorderTokenKey: CONTROL_KEY }), { log });
  // Each device records a camera its EdgeDevice allows (control refuses any other url).
  for (const device of ['r1', 'r2', 'r3', 'r4']) await createEdgeDevice(ns.name, device, { allowedStreamUrls: 'rtsp://cam.example:554/' });
});

describe('retention of recorder Deployments', () => {
  it('keeps at most 90 % of the PVC capacity by default, and frees space well before the kubelet evicts (nodefs.available<10%)', async () => {
    await boundPvc('r1-pvc', '8Gi', '10Gi');
    const res = await control.control(post('/record/on', { device: 'r1', url: 'rtsp://cam.example:554/live' }));
    expect(res.status).toBe(201);
    const env = await recorderEnv('r1');
    expect(env.RETAIN_BYTES).toBe(String(Math.floor(10 * 2 ** 30 * 0.9)));
    expect(Number(env.MIN_FREE_PERCENT)).toBeGreaterThan(10);
  });

  it('takes the requested storage when the claim reports no capacity yet', async () => {
    await boundPvc('r2-pvc', '20Gi');
    expect((await control.control(post('/record/on', { device: 'r2', url: 'rtsp://cam.example:554/live' }))).status).toBe(201);
    expect((await recorderEnv('r2')).RETAIN_BYTES).toBe(String(Math.floor(20 * 2 ** 30 * 0.9)));
  });

  it('takes retainHours and retainBytes from /record/on, and names a bad one in a 400', async () => {
    await boundPvc('r3-pvc', '10Gi', '10Gi');
    const res = await control.control(post('/record/on', { device: 'r3', url: 'rtsp://cam.example:554/live', retainHours: 72, retainBytes: '5Gi' }));
    expect(res.status).toBe(201);
    const env = await recorderEnv('r3');
    expect(env.RETAIN_HOURS).toBe('72');
    expect(env.RETAIN_BYTES).toBe(String(5 * 2 ** 30));
    const bad = await control.control(post('/record/on', { device: 'r4', url: 'rtsp://cam.example:554/live', retainBytes: 'lots' }));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/retainBytes/);
  });
});
