// The archive in Kubernetes: control passes its own ARCHIVE_S3_* on to every recorder Deployment it creates, the AWS
// keys by secretKeyRef from the Secret shifu-rtsp-archive (never their values), and a record-on may opt out.
import { AppsV1Api, CoreV1Api, type V1EnvVar } from '@kubernetes/client-node';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { controlOptions, createBackend, createControlHandlers, type ControlHandlers, type ControlRequest } from '../../functions/control/index.js';
import { parseConfig } from '../../functions/lib/index.js';
import { controlServiceAccount, createEdgeDevice, createNamespace, kubeConfig } from './harness/index.js';

const log = pino({ level: 'silent' });
const ns = createNamespace('archive');
const CONTROL_KEY = 'k8s-tier-control-token-0123456789';
const ARCHIVE = {
  ARCHIVE_S3_ENDPOINT: 'http://s3.storage.svc:7070',
  ARCHIVE_S3_BUCKET: 'footage',
  ARCHIVE_S3_FORCE_PATH_STYLE: 'true',
  ARCHIVE_MAX_MBPS: '40',
  ARCHIVE_KEEP_LOCAL: '24h',
  ARCHIVE_HARD_MIN_FREE_PERCENT: '12',
};
let control: ControlHandlers;

function post(route: string, body: unknown): ControlRequest {
  return { method: 'POST', path: route, query: {}, headers: { 'content-type': 'application/json' }, body };
}

async function recorderEnv(device: string): Promise<V1EnvVar[]> {
  const d = await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns.name, name: `${device}-recorder` });
  return d.spec?.template.spec?.containers[0]?.env ?? [];
}

async function boundPvc(name: string): Promise<void> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespacedPersistentVolumeClaim({ namespace: ns.name, body: { metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'slow' } } });
  await core.patchNamespacedPersistentVolumeClaimStatus({ namespace: ns.name, name, body: [{ op: 'add', path: '/status', value: { phase: 'Bound', capacity: { storage: '1Gi' } } }] });
}

beforeAll(async () => {
  const sa = await controlServiceAccount(ns.name);
  // Control as its command builds it, from its environment: its own archive settings among them.
  const env = { CONTROL_BACKEND: 'kubernetes', CONTROL_TOKEN: CONTROL_KEY, CONTROL_NAMESPACE: ns.name, RECORDER_IMAGE: 'shifu-rtsp:test', ...ARCHIVE };
  const config = parseConfig(controlOptions, [], env).config;
  control = createControlHandlers(createBackend(config, env, log, sa.kubeConfig), { log });
  for (const device of ['a1', 'a2']) {
    await createEdgeDevice(ns.name, device, { allowedStreamUrls: 'rtsp://cam.example:554/' });
    await boundPvc(`${device}-pvc`);
  }
});

describe('archive settings of recorder Deployments', () => {
  it("passes control's ARCHIVE_S3_* on, with the keys by secretKeyRef from shifu-rtsp-archive", async () => {
    expect((await control.control(post('/record/on', { device: 'a1', url: 'rtsp://cam.example:554/live' }))).status).toBe(201);
    const env = await recorderEnv('a1');
    for (const [name, value] of Object.entries(ARCHIVE)) expect(env, name).toContainEqual({ name, value });
    expect(env).toContainEqual({ name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'shifu-rtsp-archive', key: 'accessKeyId', optional: true } } });
    expect(env).toContainEqual({ name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'shifu-rtsp-archive', key: 'secretAccessKey', optional: true } } });
    // The prefix is the recorder's default, <namespace>/, from the POD_NAMESPACE the Deployment sets.
    expect(env.find((e) => e.name === 'ARCHIVE_S3_PREFIX')).toBeUndefined();
    expect(env.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
  });

  it('leaves the archive out of a recorder whose record-on says "archive": false, and a later record-on asking for it gets a 409 naming archive', async () => {
    expect((await control.control(post('/record/on', { device: 'a2', url: 'rtsp://cam.example:554/live', archive: false }))).status).toBe(201);
    const names = (await recorderEnv('a2')).map((e) => e.name);
    expect(names.filter((n) => n.startsWith('ARCHIVE_') || n.startsWith('AWS_'))).toEqual([]);
    const again = await control.control(post('/record/on', { device: 'a2', archive: true }));
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.body)).toMatch(/archive \(running false, asked true\)/);
  });

  it('names a bad archive field in a 400, and a bad archive setting of its own stops control naming the variable', async () => {
    const res = await control.control(post('/record/on', { device: 'a1', archive: 'no' }));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/archive: expected true or false/);
    const env = { CONTROL_BACKEND: 'kubernetes', CONTROL_TOKEN: CONTROL_KEY, RECORDER_IMAGE: 'x', ARCHIVE_S3_BUCKET: 'Bad_Bucket' };
    expect(() => createBackend(parseConfig(controlOptions, [], env).config, env, log, kubeConfig())).toThrow(/ARCHIVE_S3_BUCKET/);
  });
});
