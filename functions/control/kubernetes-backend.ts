import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { sleep, type Logger } from '../lib/index.js';
import { EDGEDEVICE } from '../contracts/index.js';
import type { RecorderBackend, RecorderInfo, StartResult, StopResult } from './backend.js';
import {
  apiTokenIdOfDeployment,
  apiTokenOfDeployment,
  buildRecorderDeployment,
  LABEL,
  MANAGED_BY,
  recorderApiAddress,
  recorderDeploymentName,
  recorderLabelSelector,
  specOfDeployment,
} from './deployment.js';
import { fail, succeed, type Outcome } from './outcome.js';
import { describeDifferences, differences, RETAIN_OF_CAPACITY, specFromRequest, type RecorderSpec } from './recorder-spec.js';
import { askRecorderStatus, type Asked } from './recorder-client.js';
import { reportedState } from './recorder-state.js';
import { newApiTokenId, recorderApiSecret, recorderApiToken } from './recorder-token.js';
import type { RecordOffRequest, RecordOnRequest } from './request.js';
import { checkRecordOnAllowed } from './device-policy.js';
import { streamUrlFromEdgeDevice } from './stream-url.js';

export interface KubernetesBackendOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly image: string;
  readonly log: Logger;
  /** Longest `?wait=true` of /record/off. */
  readonly stopTimeoutSeconds: number;
  /** Poll interval while waiting for pods to go. */
  readonly pollMs?: number;
  /** How long status waits for a recorder pod's own /record/status. */
  readonly recorderTimeoutMs?: number;
  /** The key recorder API tokens are derived from: control's own token (CONTROL_TOKEN). */
  readonly recorderTokenKey: string;
  /** Control's archive settings, passed on to every recorder it creates (archiveSettingsToPass). */
  readonly archive?: Readonly<Record<string, string>>;
}

const FIELD_MANAGER = 'shifu-rtsp-control';
const STORAGE_HINT = 'apply storage/ for this device first (kubectl apply -k storage/ with the device name set in storage/settings.yaml)';

/** Recorders as Deployments, created and deleted through the Kubernetes API with the control ServiceAccount. */
export class KubernetesBackend implements RecorderBackend {
  readonly kind = 'kubernetes' as const;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(private readonly o: KubernetesBackendOptions) {
    this.apps = o.kubeConfig.makeApiClient(AppsV1Api);
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.custom = o.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  private get namespace(): string {
    return this.o.namespace;
  }

  async start(request: RecordOnRequest): Promise<Outcome<StartResult>> {
    return guard(async () => {
      // The device's EdgeDevice first: it says what else than the device's own a record-on may use.
      const edgeDevice = await this.readEdgeDevice(request.device);
      if (!edgeDevice.ok) return edgeDevice;
      const allowed = checkRecordOnAllowed(request, edgeDevice.value, this.namespace);
      if (!allowed.ok) return allowed;
      const existing = await this.readDeployment(request.device);
      if (existing) return this.compare(existing, request, edgeDevice.value);

      const leftovers = await this.recorderPods(request.device);
      if (leftovers.length > 0) {
        // A concurrent record-on may have made the Deployment (and its pod) since it was read: then the pod is
        // that recorder's, not a leftover (seen with 20 concurrent record-ons across 2 replicas).
        const now = await this.readDeployment(request.device);
        if (now) return this.compare(now, request, edgeDevice.value);
        return fail('recorder_stopping', `the previous recorder of ${request.device} (pod ${leftovers[0]?.metadata?.name ?? '?'}) is still closing its last segment; retry in a few seconds`, { retryAfterSeconds: 5 });
      }
      const url = this.resolveUrl(request, edgeDevice.value);
      if (!url.ok) return url;
      const asked = specFromRequest(request, url.value);
      const pvc = await this.checkPvc(asked.pvc);
      if (!pvc.ok) return pvc;
      // Retention on by default: most of the claim's capacity, so the volume never fills.
      const spec = { ...asked, retainBytes: asked.retainBytes ?? (pvc.value.capacityBytes === null ? 0 : Math.floor(pvc.value.capacityBytes * RETAIN_OF_CAPACITY)) };

      const body = buildRecorderDeployment(spec, { namespace: this.namespace, image: this.o.image, apiTokenId: newApiTokenId(), ...(this.o.archive ? { archive: this.o.archive } : {}) });
      let created: V1Deployment;
      try {
        created = await this.apps.createNamespacedDeployment({ namespace: this.namespace, body, fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' });
      } catch (err) {
        // Another /record/on won the race: answer as if we had come second.
        if (err instanceof ApiException && err.code === 409) {
          const winner = await this.readDeployment(request.device);
          if (winner) return this.compare(winner, request, edgeDevice.value);
        }
        throw err;
      }
      // Second, so it can be owned by the Deployment; a record-on cut here is completed by the caller's retry.
      await this.ensureApiSecret(created, spec.device);
      this.o.log.info({ device: spec.device, deployment: created.metadata?.name, url: spec.url }, 'recorder deployment created');
      return succeed({ created: true, recorder: await this.info(created, spec, []), warnings: pvc.value.warnings });
    });
  }

  /** The same recorder runs: 200; other settings: 409 naming them (off, then on, changes them). */
  private async compare(existing: V1Deployment, request: RecordOnRequest, edgeDevice: unknown): Promise<Outcome<StartResult>> {
    const name = existing.metadata?.name ?? recorderDeploymentName(request.device);
    const running = specOfDeployment(existing);
    if (!running) {
      return fail('name_taken', `Deployment ${this.namespace}/${name} exists but was not made by ${MANAGED_BY}; delete or rename it`);
    }
    if (existing.metadata?.deletionTimestamp) {
      return fail('recorder_stopping', `the recorder of ${request.device} is stopping; retry in a few seconds`, { retryAfterSeconds: 5 });
    }
    // A record-on cut between the Deployment and its token Secret left the pod waiting for it: make it now.
    await this.ensureApiSecret(existing, request.device);
    let askedUrl = running.url;
    if (request.url !== undefined || request.path !== undefined) {
      const url = this.resolveUrl(request, edgeDevice);
      if (!url.ok) return url;
      askedUrl = url.value;
    }
    const asked = specFromRequest(request, askedUrl);
    const diffs = differences(running, request, asked);
    if (diffs.length > 0) {
      return fail(
        'recorder_conflict',
        `${request.device} already records with other settings: ${describeDifferences(diffs)}. POST /record/off first, then /record/on`,
        { details: { running } },
      );
    }
    return succeed({ created: false, recorder: await this.info(existing, running, await this.recorderPods(request.device)), warnings: [] });
  }

  async stop(request: RecordOffRequest): Promise<Outcome<StopResult>> {
    return guard(async () => {
      const existing = await this.readDeployment(request.device);
      const name = recorderDeploymentName(request.device);
      if (!existing) {
        const pods = await this.recorderPods(request.device);
        if (pods.length === 0 || request.wait !== true) {
          return fail('not_recording', `no recorder runs for ${request.device} in namespace ${this.namespace}`);
        }
        // Deleted before, still stopping: waiting for it is what the caller asked.
        return succeed(await this.waitGone(request, false));
      }
      if (!specOfDeployment(existing)) {
        return fail('name_taken', `Deployment ${this.namespace}/${name} was not made by ${MANAGED_BY}; not deleting it`);
      }
      try {
        // Background: the Deployment goes at once, its pods get SIGTERM and close their last segment.
        await this.apps.deleteNamespacedDeployment({ name, namespace: this.namespace, propagationPolicy: 'Background' });
      } catch (err) {
        if (!(err instanceof ApiException && err.code === 404)) throw err;
      }
      this.o.log.info({ device: request.device, deployment: name }, 'recorder deployment deleted');
      if (request.wait !== true) return succeed({ device: request.device, deleted: true, stopped: false, detail: { deployment: name } });
      return succeed(await this.waitGone(request, true));
    });
  }

  private async waitGone(request: RecordOffRequest, deletedNow: boolean): Promise<StopResult> {
    const timeoutMs = Math.min(request.timeoutSeconds ?? this.o.stopTimeoutSeconds, this.o.stopTimeoutSeconds) * 1000;
    const deadline = Date.now() + timeoutMs;
    let pods = await this.recorderPods(request.device);
    while (pods.length > 0 && Date.now() < deadline) {
      await sleep(this.o.pollMs ?? 1000);
      pods = await this.recorderPods(request.device);
    }
    return {
      device: request.device,
      deleted: true,
      stopped: pods.length === 0,
      detail: { deployment: recorderDeploymentName(request.device), deletedNow, pods: pods.map((p) => p.metadata?.name ?? '?') },
    };
  }

  async status(device: string): Promise<Outcome<RecorderInfo>> {
    return guard(async () => {
      const existing = await this.readDeployment(device);
      const spec = existing ? specOfDeployment(existing) : undefined;
      if (!existing || !spec) return fail('not_recording', `no recorder runs for ${device} in namespace ${this.namespace}`);
      return succeed(await this.info(existing, spec, await this.recorderPods(device)));
    });
  }

  async list(): Promise<Outcome<readonly RecorderInfo[]>> {
    return guard(async () => {
      const [list, pods] = await Promise.all([
        this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector: recorderLabelSelector() }),
        this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: recorderLabelSelector() }),
      ]);
      // Every recorder asked at once: a list of N costs one timeout at most, not N.
      const out = await Promise.all(
        list.items.flatMap((d) => {
          const spec = specOfDeployment(d);
          return spec ? [this.info(d, spec, pods.items.filter((p) => p.metadata?.labels?.[LABEL.device] === spec.device))] : [];
        }),
      );
      return succeed(out.sort((a, b) => a.device.localeCompare(b.device)));
    });
  }

  async close(): Promise<void> {
    // Deployments outlive the control functions: nothing to stop.
  }

  /** The recorder's own word on its state when its pod can be asked; readiness when not (`recorderError` says why). */
  private async info(deployment: V1Deployment, spec: RecorderSpec, pods: readonly V1Pod[]): Promise<RecorderInfo> {
    const ready = deployment.status?.readyReplicas ?? 0;
    const current = deployment.status?.replicas ?? 0;
    const asked = await this.askRecorder(deployment, pods);
    const byReadiness = ready > 0 ? 'recording' : current > 0 ? 'not-ready' : 'starting';
    return {
      device: spec.device,
      backend: 'kubernetes',
      state: reportedState(Boolean(deployment.metadata?.deletionTimestamp), asked.ok ? asked.status : undefined, byReadiness),
      settings: spec,
      since: deployment.metadata?.creationTimestamp ? new Date(deployment.metadata.creationTimestamp).toISOString() : null,
      detail: {
        namespace: this.namespace,
        deployment: deployment.metadata?.name,
        image: deployment.spec?.template.spec?.containers[0]?.image,
        replicas: { desired: deployment.spec?.replicas ?? 1, current, ready },
        pods: pods.map((p) => ({
          name: p.metadata?.name,
          phase: p.status?.phase,
          node: p.spec?.nodeName ?? null,
          ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
          terminating: p.metadata?.deletionTimestamp !== undefined,
        })),
        recorder: asked.ok ? asked.status : null,
        ...(asked.ok ? {} : { recorderError: asked.reason }),
      },
    };
  }

  /** GET /record/status of the device's running pod, with the token its Deployment holds. */
  private async askRecorder(deployment: V1Deployment, pods: readonly V1Pod[]): Promise<Asked> {
    const running = pods.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running');
    const address = running.map(recorderApiAddress).find((a) => a !== undefined);
    if (!address) return { ok: false, reason: 'no running recorder pod with an address to ask (yet)' };
    return askRecorderStatus(address, this.apiToken(deployment), this.o.recorderTimeoutMs ?? 2000);
  }

  /** The recorder's token, derived again from its id (control cannot read Secrets); an older Deployment's own value. */
  private apiToken(deployment: V1Deployment): string | undefined {
    const id = apiTokenIdOfDeployment(deployment);
    const device = deployment.metadata?.labels?.[LABEL.device];
    if (id === undefined || device === undefined) return apiTokenOfDeployment(deployment);
    return recorderApiToken(this.o.recorderTokenKey, this.namespace, device, id);
  }

  /** Creates the Secret of a recorder's API token unless it exists (control may create Secrets, not read them). */
  private async ensureApiSecret(deployment: V1Deployment, device: string): Promise<void> {
    const id = apiTokenIdOfDeployment(deployment);
    if (id === undefined) return;
    const body = recorderApiSecret(deployment, device, id, recorderApiToken(this.o.recorderTokenKey, this.namespace, device, id));
    try {
      await this.core.createNamespacedSecret({ namespace: this.namespace, body, fieldManager: FIELD_MANAGER });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    }
  }

  private async readDeployment(device: string): Promise<V1Deployment | undefined> {
    try {
      return await this.apps.readNamespacedDeployment({ name: recorderDeploymentName(device), namespace: this.namespace });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  private async recorderPods(device: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: recorderLabelSelector(device) })).items;
  }

  private resolveUrl(request: RecordOnRequest, edgeDevice: unknown): Outcome<string> {
    if (request.url !== undefined) return succeed(request.url);
    return streamUrlFromEdgeDevice(edgeDevice, request.device, this.namespace, request.path);
  }

  private async readEdgeDevice(device: string): Promise<Outcome<unknown>> {
    try {
      return succeed(await this.custom.getNamespacedCustomObject({ ...EDGEDEVICE, namespace: this.namespace, name: device }));
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) {
        return fail(
          'edgedevice_missing',
          `EdgeDevice ${this.namespace}/${device} not found: a device is recorded through its deviceShifu-TCP forwarder, and its EdgeDevice says what else a record-on may use. Create the EdgeDevice and forwarder (see knative/edgedevice.yaml and knative/forwarder.yaml)`,
        );
      }
      throw err;
    }
  }

  /** A missing or lost PVC is refused (the pod would hang Pending); a Pending one is allowed with a warning. */
  private async checkPvc(name: string): Promise<Outcome<{ warnings: string[]; capacityBytes: number | null }>> {
    try {
      const pvc = await this.core.readNamespacedPersistentVolumeClaim({ name, namespace: this.namespace });
      // The bound volume's capacity; before binding (or without a PV controller's status), what was asked.
      const capacityBytes = parseQuantity(pvc.status?.capacity?.storage ?? pvc.spec?.resources?.requests?.storage);
      const phase = pvc.status?.phase;
      if (phase === 'Lost') return fail('pvc_lost', `PersistentVolumeClaim ${this.namespace}/${name} is Lost (its PersistentVolume is gone); recreate the PV from storage/`);
      if (phase !== 'Bound') {
        return succeed({
          warnings: [`PersistentVolumeClaim ${this.namespace}/${name} is ${phase ?? 'not bound yet'}: the recorder pod starts once it is bound (check its PersistentVolume from storage/)`],
          capacityBytes,
        });
      }
      return succeed({ warnings: [], capacityBytes });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) {
        return fail('pvc_missing', `PersistentVolumeClaim ${this.namespace}/${name} not found: ${STORAGE_HINT}, or give pvc`);
      }
      throw err;
    }
  }
}

/** Maps what the API server throws to failures that say where to look. */
async function guard<T>(work: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ApiException) {
      const reason = apiMessage(err);
      if (err.code === 401 || err.code === 403) {
        return fail('kubernetes_forbidden', `the Kubernetes API refused the control ServiceAccount (HTTP ${err.code}): ${reason}; check knative/control-rbac.yaml`);
      }
      if (err.code >= 500 || err.code === 429) return fail('kubernetes_unavailable', `the Kubernetes API failed (HTTP ${err.code}): ${reason}`, { retryAfterSeconds: 5 });
      return fail('internal', `the Kubernetes API answered HTTP ${err.code}: ${reason}`);
    }
    return fail('kubernetes_unavailable', `cannot reach the Kubernetes API: ${(err as Error).message}`, { retryAfterSeconds: 5 });
  }
}

function apiMessage(err: ApiException<unknown>): string {
  const body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      return body.slice(0, 300);
    }
  }
  if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  return err.message.slice(0, 300);
}

const QUANTITY_SUFFIX: Readonly<Record<string, number>> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes storage quantity (`10Gi`, `500M`, `1e9`) in bytes; null when absent or not one. */
export function parseQuantity(quantity: string | undefined): number | null {
  const m = /^(\d+(?:\.\d+)?)(?:e(\d+)|([kMGTPE]i?|Ki))?$/.exec(quantity?.trim() ?? '');
  if (!m) return null;
  const factor = m[2] !== undefined ? 10 ** Number(m[2]) : QUANTITY_SUFFIX[m[3] ?? ''];
  return factor === undefined ? null : Math.floor(Number(m[1]) * factor);
}
