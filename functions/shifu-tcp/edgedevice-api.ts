import {
  ApiException,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { ConfigError } from '../lib/index.js';
import { EDGEDEVICE, type EdgeDevicePhase, type EdgeDeviceRef } from './edgedevice.js';

/** KUBECONFIG when set, else ~/.kube/config, else the in-cluster service account. */
export function loadKubeConfig(env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig();
  const file = env.KUBECONFIG?.split(':').find((f) => f !== '');
  if (file !== undefined) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/** The status code of a Kubernetes API failure, undefined when the server was not reached. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

// A merge patch touches only the phase; the generated client would otherwise send a JSON patch.
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Reads one EdgeDevice and writes its `status.edgedevicephase`. */
export class EdgeDeviceApi {
  private readonly api: CustomObjectsApi;
  /** The CRD shipped with Shifu has no status subresource; a newer one might, so we learn which works. */
  private statusSubresource = false;

  constructor(
    kubeConfig: KubeConfig,
    readonly ref: EdgeDeviceRef,
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** The HTTP status of a failed call, undefined when the server was not reached. */
  statusOf(err: unknown): number | undefined {
    return apiStatus(err);
  }

  /** The EdgeDevice object; a missing one is a configuration mistake. */
  async read(): Promise<unknown> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...EDGEDEVICE, ...this.ref })) as unknown;
    } catch (err) {
      if (apiStatus(err) === 404) {
        throw new ConfigError(
          `EdgeDevice ${this.ref.namespace}/${this.ref.name} not found (check EDGEDEVICE_NAME and EDGEDEVICE_NAMESPACE)`,
        );
      }
      throw err;
    }
  }

  async writePhase(phase: EdgeDevicePhase): Promise<void> {
    const request = { ...EDGEDEVICE, ...this.ref, body: { status: { edgedevicephase: phase } } };
    if (!this.statusSubresource) {
      const updated: unknown = await this.api.patchNamespacedCustomObject(request, MERGE_PATCH);
      if (phaseOf(updated) === phase) return;
      // The server ignored status on the main resource: it serves status as a subresource.
      this.statusSubresource = true;
    }
    await this.api.patchNamespacedCustomObjectStatus(request, MERGE_PATCH);
  }
}

function phaseOf(object: unknown): unknown {
  if (typeof object !== 'object' || object === null) return undefined;
  const status = (object as { status?: unknown }).status;
  if (typeof status !== 'object' || status === null) return undefined;
  return (status as { edgedevicephase?: unknown }).edgedevicephase;
}
