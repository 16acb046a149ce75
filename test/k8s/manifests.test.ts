// knative/ and storage/ against a real kube-apiserver with the Knative and Shifu CRDs: every object applies
// with Strict field validation, and the pieces fit together (labels, ports, images, names).
// Over 400 lines because every folder's checks build with one kustomize, found (or, with none on PATH, built
// with Go into the cache) once in this file: two files would race to build it into the same place.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KubernetesObject, V1Deployment, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Role, V1Service } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRecorderDeployment, forwarderServiceName, FORWARDER_SERVICE_PORT, recordOnSchema, specFromRequest, STREAM_PATH_KEY } from '../../functions/control/index.js';
import { applyYaml, expectHttpError, httpStatus, parseManifests } from './harness/index.js';
import { playbackOptions } from '../../functions/playback/index.js';
import { ARCHIVE_SECRET } from '../../functions/contracts/index.js';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KUSTOMIZE_VERSION = 'v5.5.0';

/**
 * A kustomize to build with, as `kubectl apply -k` would: $KUSTOMIZE, `kustomize` or `kubectl kustomize` on
 * PATH, else built once with Go through the module proxy into the user cache (outside the repository).
 */
async function kustomizeCommand(): Promise<string[]> {
  if (process.env['KUSTOMIZE']) return [process.env['KUSTOMIZE']];
  for (const candidate of [['kustomize', 'version'], ['kubectl', 'kustomize', '--help']]) {
    const ok = await run(candidate[0] ?? '', candidate.slice(1)).then(
      () => true,
      () => false,
    );
    if (ok) return candidate[0] === 'kubectl' ? ['kubectl', 'kustomize'] : ['kustomize', 'build'];
  }
  const bin = path.join(process.env['SHIFU_RTSP_CACHE'] ?? path.join(os.homedir(), '.cache', 'shifu-rtsp'), `kustomize-${KUSTOMIZE_VERSION}`);
  const exe = path.join(bin, 'kustomize');
  if (!existsSync(exe)) {
    const go = process.env['GO'] ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go');
    await run(go, ['install', `sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}`], {
      env: { ...process.env, GOBIN: bin, GOFLAGS: '-mod=mod' },
      timeout: 600_000,
    }).catch((err: unknown) => {
      throw new Error(`no kustomize: install kubectl or kustomize, set KUSTOMIZE, or provide Go to build it (${(err as Error).message})`);
    });
  }
  return [exe, 'build'];
}

let kustomize: string[];
async function build(dir: string): Promise<KubernetesObject[]> {
  const [cmd, ...args] = kustomize;
  const { stdout } = await run(cmd ?? '', [...args, dir], { maxBuffer: 16 * 1024 * 1024 });
  return parseManifests(stdout);
}

function find<T extends KubernetesObject>(objects: readonly KubernetesObject[], kind: string, name: string, apiVersion?: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name && (apiVersion === undefined || o.apiVersion === apiVersion));
  if (!found) throw new Error(`no ${kind} ${name} in the build`);
  return found as T;
}

interface KnativeService extends KubernetesObject {
  spec: { template: { metadata?: { labels?: Record<string, string> }; spec: { serviceAccountName?: string; timeoutSeconds?: number; containers: NonNullable<V1Deployment['spec']>['template']['spec'] extends infer S ? (S extends { containers: infer C } ? C : never) : never } } };
}

beforeAll(async () => {
  kustomize = await kustomizeCommand();
}, 900_000);

describe('knative/', () => {
  let objects: KubernetesObject[];

  beforeAll(async () => {
    await applyYaml(await readFile(path.join(repo, 'knative/namespace.yaml'), 'utf8'));
    objects = await build(path.join(repo, 'knative'));
  });

  it('applies object by object with Strict field validation', async () => {
    const applied = await applyYaml(objects, { fieldValidation: 'Strict' });
    expect(applied.map((o) => `${o.kind}/${o.metadata?.name}`).sort()).toEqual(
      [
        'Broker/default',
        'Deployment/deviceshifu-camera1',
        'EdgeDevice/camera1',
        'NetworkPolicy/shifu-rtsp-control',
        'NetworkPolicy/shifu-rtsp-forwarders',
        'NetworkPolicy/shifu-rtsp-recorders',
        'Role/shifu-rtsp-control',
        'Role/shifu-rtsp-forwarder',
        'RoleBinding/shifu-rtsp-control',
        'RoleBinding/shifu-rtsp-forwarder',
        'Service/deviceshifu-camera1',
        'Service/shifu-rtsp-control',
        'Service/shifu-rtsp-dead-letters',
        'Service/shifu-rtsp-segment-index',
        'ServiceAccount/shifu-rtsp-control',
        'ServiceAccount/shifu-rtsp-forwarder',
        'SinkBinding/shifu-rtsp-recorders',
        'Trigger/shifu-rtsp-segment-index',
      ].sort(),
    );
    expect(applied.every((o) => o.metadata?.namespace === 'deviceshifu')).toBe(true);
    // Also as plain creates, one by one: a typo is a 400 "unknown field" even where the object exists (409).
    for (const object of objects) {
      await applyYaml(object, { mode: 'create', fieldValidation: 'Strict', dryRun: true }).catch((err: unknown) => {
        if (httpStatus(err) !== 409) throw err;
      });
    }
  });

  it('would catch a typo (the check above is not vacuous)', async () => {
    const forwarder = structuredClone(find<V1Deployment>(objects, 'Deployment', forwarderServiceName('camera1')));
    const typo = { ...forwarder, spec: { ...forwarder.spec, replicaz: 2 } } as KubernetesObject;
    expect(await expectHttpError(() => applyYaml(typo, { mode: 'create', fieldValidation: 'Strict', dryRun: true }))).toBe(400);
    expect(await expectHttpError(() => applyYaml(typo, { fieldValidation: 'Strict', dryRun: true }))).toBeGreaterThanOrEqual(400);
  });

  it('rejects an unknown field inside every custom resource spec we write (the CRDs are structural there)', async () => {
    // One typo per kind, nested where a structural schema is needed to see it; each is a 400 under Strict.
    const typos: [kind: string, name: string, typo: (spec: Record<string, unknown>) => void][] = [
      ['Broker', 'default', (spec) => Object.assign(spec['delivery'] as object, { retries: 5 })],
      ['Trigger', 'shifu-rtsp-segment-index', (spec) => Object.assign((spec['subscriber'] as { ref: object }).ref, { nam: 'x' })],
      ['SinkBinding', 'shifu-rtsp-recorders', (spec) => Object.assign((spec['subject'] as { selector: object }).selector, { matchLabelz: {} })],
      ['EdgeDevice', 'camera1', (spec) => Object.assign((spec['protocolSettings'] as { TCPSetting: object }).TCPSetting, { ListenPortt: '1' })],
      ['Service', 'shifu-rtsp-control', (spec) => Object.assign(spec['template'] as object, { metadataa: {} })],
    ];
    for (const [kind, name, typo] of typos) {
      const object = structuredClone(objects.find((o) => o.kind === kind && o.metadata?.name === name && o.apiVersion !== 'v1'));
      expect(object, `${kind}/${name} in knative/`).toBeDefined();
      const withTypo = object as KubernetesObject & { spec: Record<string, unknown> };
      typo(withTypo.spec);
      const err = await applyYaml(withTypo, { mode: 'create', fieldValidation: 'Strict', dryRun: true }).catch((e: unknown) => e);
      expect(httpStatus(err), `${kind}/${name} with a typo`).toBe(400);
      expect(String(err), kind).toMatch(/unknown field/);
    }
  });

  it('runs the control functions cluster-local, as the control ServiceAccount, with the recorder image', () => {
    const control = find<KnativeService>(objects, 'Service', 'shifu-rtsp-control', 'serving.knative.dev/v1');
    expect(control.metadata?.labels?.['networking.knative.dev/visibility']).toBe('cluster-local');
    const spec = control.spec.template.spec;
    expect(spec.serviceAccountName).toBe('shifu-rtsp-control');
    const container = spec.containers[0];
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e]));
    expect(env['FUNCTION_TARGET']?.value).toBe('control');
    expect(env['FUNCTION_SOURCE']?.value).toBe('dist/functions/control/functions.js');
    expect(env['RECORDER_IMAGE']?.value).toBe(container?.image);
    expect(container?.image).toBe('registry.example.com/shifu-rtsp:0.1.0');
    // Required: control refuses to start without it, and the pod does not start without the Secret.
    expect(env['CONTROL_TOKEN']?.valueFrom?.secretKeyRef).toEqual({ name: 'shifu-rtsp-control-token', key: 'token' });
    expect(Number(env['STOP_TIMEOUT_SECONDS']?.value)).toBeLessThan(spec.timeoutSeconds ?? 0);
    expect(container?.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('gives the control Role what /record/on|off|status need, and of Secrets only create (never read)', () => {
    const role = find<V1Role>(objects, 'Role', 'shifu-rtsp-control');
    const verbs = (group: string, resource: string): string[] => role.rules?.find((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource))?.verbs ?? [];
    expect(verbs('apps', 'deployments').sort()).toEqual(['create', 'delete', 'get', 'list']);
    expect(verbs('', 'persistentvolumeclaims')).toEqual(['get']);
    expect(verbs('shifu.edgenesis.io', 'edgedevices')).toEqual(['get']);
    expect(verbs('', 'pods').sort()).toEqual(['get', 'list']);
    expect(verbs('', 'secrets')).toEqual(['create']);
    expect(role.rules?.some((r) => r.resources?.includes('*') || r.verbs?.includes('*'))).toBe(false);
  });

  it('binds every recorder Deployment to the Broker, and the Trigger to the subscriber', () => {
    interface SinkBinding extends KubernetesObject {
      spec: { subject: { apiVersion: string; kind: string; selector: { matchLabels: Record<string, string> } }; sink: { ref: { kind: string; name: string } } };
    }
    const binding = find<SinkBinding>(objects, 'SinkBinding', 'shifu-rtsp-recorders');
    const recorder = buildRecorderDeployment(specFromRequest(recordOnSchema.parse({ device: 'any' }), 'rtsp://x:554/'), { namespace: 'deviceshifu', image: 'x' });
    expect(binding.spec.subject).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
    expect(recorder.metadata?.labels).toMatchObject(binding.spec.subject.selector.matchLabels);
    expect(binding.spec.sink.ref).toMatchObject({ kind: 'Broker', name: 'default' });
    interface Trigger extends KubernetesObject {
      spec: { broker: string; filter: { attributes: Record<string, string> }; subscriber: { ref: { kind: string; name: string } } };
    }
    const trigger = find<Trigger>(objects, 'Trigger', 'shifu-rtsp-segment-index');
    expect(trigger.spec.broker).toBe('default');
    expect(trigger.spec.filter.attributes['type']).toBe('dev.shifu.rtsp.segment.finished.v1');
    const subscriber = find<KnativeService>(objects, 'Service', trigger.spec.subscriber.ref.name, 'serving.knative.dev/v1');
    const env = Object.fromEntries((subscriber.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ FUNCTION_TARGET: 'segmentIndex', FUNCTION_SIGNATURE_TYPE: 'cloudevent' });
  });

  it('gives the Broker and the Trigger a dead-letter sink, and the Trigger retries for longer than a restart takes', () => {
    interface Delivery {
      spec: { delivery?: { retry?: number; backoffPolicy?: string; backoffDelay?: string; deadLetterSink?: { ref?: { apiVersion: string; kind: string; name: string } } } };
    }
    const broker = find<KubernetesObject & Delivery>(objects, 'Broker', 'default');
    const trigger = find<KubernetesObject & Delivery>(objects, 'Trigger', 'shifu-rtsp-segment-index');
    for (const o of [broker, trigger]) {
      const ref = o.spec.delivery?.deadLetterSink?.ref;
      expect(ref, `${o.kind} deadLetterSink`).toMatchObject({ apiVersion: 'serving.knative.dev/v1', kind: 'Service' });
      // The dead-letter sink ships with it, and keeps what it gets (the same index function, its own file).
      const dead = find<KnativeService>(objects, 'Service', ref!.name, 'serving.knative.dev/v1');
      const env = Object.fromEntries((dead.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ FUNCTION_TARGET: 'segmentIndex', FUNCTION_SIGNATURE_TYPE: 'cloudevent' });
    }
    // 1 + 2 + ... + 512 s: about 17 minutes of a subscriber being down before anything is dead-lettered.
    expect(trigger.spec.delivery).toMatchObject({ retry: 10, backoffPolicy: 'exponential', backoffDelay: 'PT1S' });
  });

  it('wires the forwarder: Service 554 -> the EdgeDevice ListenPort, the name the default stream URL uses', () => {
    interface EdgeDevice extends KubernetesObject {
      spec: { protocol: string; address: string; protocolSettings: { TCPSetting: { ListenPort: string } }; customMetadata: Record<string, string> };
    }
    const device = find<EdgeDevice>(objects, 'EdgeDevice', 'camera1');
    expect(device.spec.protocol).toBe('TCP');
    expect(device.spec.customMetadata[STREAM_PATH_KEY]).toMatch(/^\//);
    const service = find<V1Service>(objects, 'Service', forwarderServiceName('camera1'), 'v1');
    const port = service.spec?.ports?.[0];
    expect(port?.port).toBe(FORWARDER_SERVICE_PORT);
    const deployment = find<V1Deployment>(objects, 'Deployment', forwarderServiceName('camera1'));
    const container = deployment.spec?.template.spec?.containers[0];
    const target = container?.ports?.find((p) => p.name === port?.targetPort);
    expect(target?.containerPort).toBe(Number(device.spec.protocolSettings.TCPSetting.ListenPort));
    expect(service.spec?.selector).toEqual(deployment.spec?.selector.matchLabels);
    expect(container?.args).toEqual(['forwarder']);
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe('shifu-rtsp-forwarder');
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e]));
    expect(env['EDGEDEVICE_NAME']?.value).toBe('camera1');
    const role = find<V1Role>(objects, 'Role', 'shifu-rtsp-forwarder');
    expect(role.rules?.find((r) => r.resources?.includes('edgedevices'))?.verbs).toEqual(expect.arrayContaining(['get', 'patch']));
    expect(role.rules?.find((r) => r.resources?.includes('edgedevices/status'))?.verbs).toEqual(expect.arrayContaining(['update', 'patch']));
  });
});

describe('storage/', () => {
  let objects: KubernetesObject[];

  beforeAll(async () => {
    await applyYaml(await readFile(path.join(repo, 'knative/namespace.yaml'), 'utf8'));
    objects = await build(path.join(repo, 'storage'));
  });

  it('applies on its own with Strict field validation: PV, PVC and export pod (the settings never leave kustomize)', async () => {
    const applied = await applyYaml(objects, { fieldValidation: 'Strict' });
    expect(applied.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(['ServiceAccount/shifu-rtsp-playback', 'Role/shifu-rtsp-playback-live', 'RoleBinding/shifu-rtsp-playback-live', 'PersistentVolume/camera1-pv', 'PersistentVolumeClaim/camera1-pvc', 'NetworkPolicy/shifu-rtsp-playback', 'Pod/camera1-export']);
  });

  it('keeps footage: Retain, and the PVC binds only to its own PV by label', () => {
    const pv = find<V1PersistentVolume>(objects, 'PersistentVolume', 'camera1-pv');
    const pvc = find<V1PersistentVolumeClaim>(objects, 'PersistentVolumeClaim', 'camera1-pvc');
    expect(pv.spec?.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(pv.metadata?.labels?.['pv']).toBe('camera1-pv');
    expect(pvc.spec?.selector?.matchLabels).toEqual({ pv: 'camera1-pv' });
    expect(pvc.spec?.resources?.requests?.['storage']).toBe(pv.spec?.capacity?.['storage']);
    expect(pvc.spec?.storageClassName).toBe(pv.spec?.storageClassName);
    expect(pvc.spec?.accessModes).toEqual(pv.spec?.accessModes);
    expect(pv.spec?.hostPath?.path).toBe('/var/lib/shifu-rtsp/camera1');
  });

  it('mounts the PVC read-only in the export pod, which a recorder Deployment can share', () => {
    const pod = find<V1Pod>(objects, 'Pod', 'camera1-export');
    expect(pod.spec?.volumes?.[0]?.persistentVolumeClaim).toEqual({ claimName: 'camera1-pvc', readOnly: true });
    expect(pod.spec?.containers[0]?.volumeMounts?.[0]).toEqual({ name: 'data', mountPath: '/data', readOnly: true });
    expect(pod.spec?.securityContext?.runAsNonRoot).toBe(true);
    const recorder = buildRecorderDeployment(specFromRequest(recordOnSchema.parse({ device: 'camera1' }), 'rtsp://x:554/'), { namespace: 'deviceshifu', image: 'x' });
    expect(recorder.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe('camera1-pvc');
  });

  it('serves the footage with shifu-rtsp playback on port 9996, the token from a required Secret of the device', () => {
    const container = find<V1Pod>(objects, 'Pod', 'camera1-export').spec?.containers[0];
    expect(container?.command).toBeUndefined();
    expect(container?.args).toEqual(['playback']);
    expect(container?.ports).toEqual([{ name: 'playback', containerPort: 9996, protocol: 'TCP' }]);
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toEqual({
      PLAYBACK_ROOT: '/data',
      PLAYBACK_LISTEN: '0.0.0.0:9996',
      PLAYBACK_MAX_CLIP: '6h',
      PLAYBACK_TOKEN: { secretKeyRef: { name: 'camera1-playback', key: 'token' } },
      PLAYBACK_TOKEN_SECRET: 'camera1-playback',
      PLAYBACK_INDEX_DIR: '/index',
      PLAYBACK_CACHE_DIR: '/cache',
      PLAYBACK_LIVE_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      PLAYBACK_LIVE_TOKEN: { secretKeyRef: { name: 'shifu-rtsp-live-token', key: 'token', optional: true } },
    });
    // The footage index lives in the pod's own emptyDir, never on the footage volume, which stays read-only.
    const pod = find<V1Pod>(objects, 'Pod', 'camera1-export');
    const indexVolume = pod.spec?.volumes?.find((v) => v.name === 'index');
    expect(indexVolume?.emptyDir).toBeDefined();
    expect(indexVolume?.persistentVolumeClaim).toBeUndefined();
    expect(container?.volumeMounts?.find((m) => m.name === 'index')?.mountPath).toBe('/index');
    // Thumbnails too, in an emptyDir whose limit is above the server's own bound of them (256 MiB), so it never evicts the pod.
    const cacheVolume = pod.spec?.volumes?.find((v) => v.name === 'cache');
    expect(cacheVolume?.emptyDir?.sizeLimit).toBe('320Mi');
    expect(container?.volumeMounts?.find((m) => m.name === 'cache')).toEqual({ name: 'cache', mountPath: '/cache' });
    // Every variable the pod sets is one the command reads (a typo would be silently ignored otherwise).
    const known = Object.values(playbackOptions).flatMap((o) => o.env);
    for (const name of Object.keys(env)) expect(known).toContain(name);
    expect(container?.readinessProbe?.httpGet).toEqual({ path: '/health', port: 'playback' });
    expect(container?.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  it('takes the device name, size and node from settings.yaml alone', async () => {
    const copy = await mkdtemp(path.join(os.tmpdir(), 'shifu-storage-'));
    try {
      await cp(path.join(repo, 'storage'), copy, { recursive: true });
      const settings = (await readFile(path.join(copy, 'settings.yaml'), 'utf8'))
        .replace('device: camera1', 'device: front-door-pv2')
        .replace('size: 10Gi', 'size: 250Gi')
        .replace('node: worker-1', 'node: edge-7');
      await writeFile(path.join(copy, 'settings.yaml'), settings);
      const built = await build(copy);
      const pv = find<V1PersistentVolume>(built, 'PersistentVolume', 'front-door-pv2-pv');
      expect(pv.metadata?.labels).toMatchObject({ pv: 'front-door-pv2-pv', 'shifu-rtsp/device': 'front-door-pv2' });
      expect(pv.spec?.capacity?.['storage']).toBe('250Gi');
      expect(pv.spec?.hostPath?.path).toBe('/var/lib/shifu-rtsp/front-door-pv2');
      expect(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values).toEqual(['edge-7']);
      const pvc = find<V1PersistentVolumeClaim>(built, 'PersistentVolumeClaim', 'front-door-pv2-pvc');
      expect(pvc.spec?.selector?.matchLabels).toEqual({ pv: 'front-door-pv2-pv' });
      expect(pvc.spec?.resources?.requests?.['storage']).toBe('250Gi');
      const pod = find<V1Pod>(built, 'Pod', 'front-door-pv2-export');
      expect(pod.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe('front-door-pv2-pvc');
      expect(pod.spec?.containers[0]?.env?.find((e) => e.name === 'PLAYBACK_TOKEN')?.valueFrom?.secretKeyRef?.name).toBe('front-door-pv2-playback');
      // The page's token form names the Secret the pod reads.
      expect(pod.spec?.containers[0]?.env?.find((e) => e.name === 'PLAYBACK_TOKEN_SECRET')?.value).toBe('front-door-pv2-playback');
      expect(JSON.stringify(built)).not.toMatch(/DEVICE|SIZE|NODE|storage-settings/);
      await applyYaml(built, { fieldValidation: 'Strict', dryRun: true });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});

describe('storage/all-cameras/: every camera in one playback pod', () => {
  let objects: KubernetesObject[];

  beforeAll(async () => {
    await applyYaml(await readFile(path.join(repo, 'knative/namespace.yaml'), 'utf8'));
    objects = await build(path.join(repo, 'storage/all-cameras'));
  });

  it('applies with Strict field validation', async () => {
    const applied = await applyYaml(objects, { fieldValidation: 'Strict', dryRun: true });
    expect(applied.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(['Pod/shifu-rtsp-playback']);
  });

  it("mounts each device's claim read-only under /data/<device>, and PLAYBACK_ROOT names exactly those folders", () => {
    const pod = find<V1Pod>(objects, 'Pod', 'shifu-rtsp-playback');
    const container = pod.spec?.containers[0];
    const claims = (pod.spec?.volumes ?? []).filter((v) => v.persistentVolumeClaim !== undefined);
    expect(claims.map((v) => v.persistentVolumeClaim)).toEqual([
      { claimName: 'camera1-pvc', readOnly: true },
      { claimName: 'camera2-pvc', readOnly: true },
    ]);
    const footageMounts = (container?.volumeMounts ?? []).filter((m) => claims.some((v) => v.name === m.name));
    expect(footageMounts.map((m) => [m.mountPath, m.readOnly])).toEqual([
      ['/data/camera1', true],
      ['/data/camera2', true],
    ]);
    // Each claim <device>-pvc at /data/<device>.
    for (const m of footageMounts) expect(`${path.basename(m.mountPath)}-pvc`).toBe(claims.find((v) => v.name === m.name)?.persistentVolumeClaim?.claimName);
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env['PLAYBACK_ROOT']).toBe(footageMounts.map((m) => m.mountPath).join(','));
    expect(env['PLAYBACK_TOKEN']).toEqual({ secretKeyRef: { name: 'shifu-rtsp-playback', key: 'token' } });
    expect(env['PLAYBACK_INDEX_DIR']).toBe('/index');
    expect(pod.spec?.volumes?.find((v) => v.name === 'index')?.emptyDir).toBeDefined();
    const known = Object.values(playbackOptions).flatMap((o) => o.env);
    for (const name of Object.keys(env)) expect(known).toContain(name);
    expect(container?.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(pod.spec?.securityContext?.runAsNonRoot).toBe(true);
  });

  it('runs on the storage node, and the playback NetworkPolicy covers it', async () => {
    const pod = find<V1Pod>(objects, 'Pod', 'shifu-rtsp-playback');
    const term = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0];
    expect(term?.matchExpressions).toEqual([{ key: 'kubernetes.io/hostname', operator: 'In', values: ['worker-1'] }]);
    // The same node the device volumes are on (storage/settings.yaml's node, the PVs' node affinity).
    const pv = find<V1PersistentVolume>(await build(path.join(repo, 'storage')), 'PersistentVolume', 'camera1-pv');
    expect(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values).toEqual(['worker-1']);
    const policy = find<KubernetesObject & { spec: { podSelector: { matchExpressions: Array<{ key: string; operator: string; values: string[] }> } } }>(
      await build(path.join(repo, 'storage')),
      'NetworkPolicy',
      'shifu-rtsp-playback',
    );
    const labels = pod.metadata?.labels ?? {};
    const selected = policy.spec.podSelector.matchExpressions.every((e) => e.operator === 'In' && e.values.includes(labels[e.key] ?? ''));
    expect(selected).toBe(true);
  });

  it('shows every camera live as the export pod does: the Role to read EdgeDevices, the live settings, the token form naming its own Secret', async () => {
    const pod = find<V1Pod>(objects, 'Pod', 'shifu-rtsp-playback');
    const exportPod = find<V1Pod>(await build(path.join(repo, 'storage')), 'Pod', 'camera1-export');
    const envOf = (p: V1Pod) => Object.fromEntries((p.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    const env = envOf(pod);
    for (const name of ['PLAYBACK_LIVE_NAMESPACE', 'PLAYBACK_LIVE_TOKEN']) expect(env[name], name).toEqual(envOf(exportPod)[name]);
    // The ServiceAccount that storage/playback-rbac.yaml binds to the Role reading edgedevices, and its token mounted.
    const rbac = await build(path.join(repo, 'storage'));
    const binding = find<KubernetesObject & { roleRef: { name: string }; subjects: Array<{ kind: string; name: string }> }>(rbac, 'RoleBinding', 'shifu-rtsp-playback-live');
    expect(pod.spec?.serviceAccountName).toBe(binding.subjects[0]?.name);
    expect(pod.spec?.automountServiceAccountToken).toBe(true);
    // The page's token form names the Secret this pod reads, not the per-device one.
    expect(env['PLAYBACK_TOKEN_SECRET']).toBe('shifu-rtsp-playback');
    expect(env['PLAYBACK_TOKEN_SECRET']).toBe((env['PLAYBACK_TOKEN'] as { secretKeyRef: { name: string } }).secretKeyRef.name);
    // The forwarders' NetworkPolicy lets it reach their live port, 8889.
    const forwarders = find<KubernetesObject & { spec: { ingress: Array<{ from: Array<{ podSelector?: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values: string[] }> } }>; ports?: Array<{ port: number }> }> } }>(
      await build(path.join(repo, 'knative')),
      'NetworkPolicy',
      'shifu-rtsp-forwarders',
    );
    const labels = pod.metadata?.labels ?? {};
    const admits = forwarders.spec.ingress.some(
      (rule) =>
        (rule.ports ?? []).some((p) => p.port === 8889) &&
        rule.from.some((f) => f.podSelector !== undefined && Object.entries(f.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && (f.podSelector.matchExpressions ?? []).every((e) => e.operator === 'In' && e.values.includes(labels[e.key] ?? ''))),
    );
    expect(admits).toBe(true);
  });
});

describe('storage/bucket-playback/: playback from the bucket, stateless', () => {
  let objects: KubernetesObject[];

  beforeAll(async () => {
    await applyYaml(await readFile(path.join(repo, 'knative/namespace.yaml'), 'utf8'));
    objects = await build(path.join(repo, 'storage/bucket-playback'));
  });

  it('applies with Strict field validation: a Deployment of 2 replicas behind one Service, no claim', async () => {
    const applied = await applyYaml(objects, { fieldValidation: 'Strict', dryRun: true });
    expect(applied.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(['Service/shifu-rtsp-playback-bucket', 'Deployment/shifu-rtsp-playback-bucket']);
    const deployment = find<V1Deployment>(objects, 'Deployment', 'shifu-rtsp-playback-bucket');
    expect(deployment.spec?.replicas).toBe(2);
    const pod = deployment.spec?.template;
    expect((pod?.spec?.volumes ?? []).filter((v) => v.persistentVolumeClaim !== undefined || v.hostPath !== undefined)).toEqual([]);
    // The one Service reaches every replica's playback port, and only them.
    const service = find<V1Service>(objects, 'Service', 'shifu-rtsp-playback-bucket');
    expect(Object.entries(service.spec?.selector ?? {}).every(([k, v]) => pod?.metadata?.labels?.[k] === v)).toBe(true);
    expect(service.spec?.selector).toEqual(deployment.spec?.selector.matchLabels);
    expect(service.spec?.ports?.[0]).toMatchObject({ port: 9996, targetPort: 'playback' });
    expect(pod?.spec?.containers[0]?.ports?.find((p) => p.name === 'playback')?.containerPort).toBe(9996);
  });

  it("reads the archive's bucket with the archive's Secret and prefix, with a token, covered by the playback NetworkPolicy", async () => {
    const deployment = find<V1Deployment>(objects, 'Deployment', 'shifu-rtsp-playback-bucket');
    const pod = deployment.spec!.template;
    const env = Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env['PLAYBACK_ROOT']).toBeUndefined();
    expect(env['PLAYBACK_S3_BUCKET']).toMatch(/^[a-z0-9][a-z0-9.-]+$/);
    expect(env['PLAYBACK_S3_ENDPOINT']).toMatch(/^https?:\/\//);
    // The archive's keys from the Secret control's recorders read, by reference; the prefix <namespace>/ as theirs.
    expect(env['AWS_ACCESS_KEY_ID']).toEqual({ secretKeyRef: { name: ARCHIVE_SECRET, key: 'accessKeyId', optional: true } });
    expect(env['AWS_SECRET_ACCESS_KEY']).toEqual({ secretKeyRef: { name: ARCHIVE_SECRET, key: 'secretAccessKey', optional: true } });
    expect(env['POD_NAMESPACE']).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(env['PLAYBACK_S3_PREFIX']).toBeUndefined();
    expect(env['PLAYBACK_TOKEN']).toEqual({ secretKeyRef: { name: 'shifu-rtsp-playback', key: 'token' } });
    const known = [...Object.values(playbackOptions).flatMap((o) => o.env), 'POD_NAMESPACE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
    for (const name of Object.keys(env)) expect(known).toContain(name);
    expect(pod.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    const policy = find<KubernetesObject & { spec: { podSelector: { matchExpressions: Array<{ key: string; operator: string; values: string[] }> } } }>(
      await build(path.join(repo, 'storage')),
      'NetworkPolicy',
      'shifu-rtsp-playback',
    );
    const labels = pod.metadata?.labels ?? {};
    expect(policy.spec.podSelector.matchExpressions.every((e) => e.operator === 'In' && e.values.includes(labels[e.key] ?? ''))).toBe(true);
  });
});
