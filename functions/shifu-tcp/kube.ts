import type { KubeConfig } from '@kubernetes/client-node';
import type { EdgeDeviceRef } from './edgedevice.js';
import type { EdgeDeviceApi } from './edgedevice-api.js';

/**
 * The EdgeDevice API client. @kubernetes/client-node costs ~55 MiB of memory, so it is loaded only
 * when an EdgeDevice is named. Without `kubeConfig`: KUBECONFIG, ~/.kube/config, then in-cluster.
 */
export async function openEdgeDeviceApi(
  ref: EdgeDeviceRef,
  env: NodeJS.ProcessEnv,
  kubeConfig?: KubeConfig,
): Promise<EdgeDeviceApi> {
  const { EdgeDeviceApi, loadKubeConfig } = await import('./edgedevice-api.js');
  return new EdgeDeviceApi(kubeConfig ?? loadKubeConfig(env), ref);
}
