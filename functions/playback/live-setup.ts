// Which live directory the settings ask for: the list given (PLAYBACK_LIVE_URLS), the EdgeDevices of a
// namespace (PLAYBACK_LIVE_NAMESPACE, the Kubernetes client loaded only then), or none.
import { ConfigError, type Logger } from '../lib/index.js';
import { staticLiveDirectory, type LiveCamera, type LiveDirectory } from './live-directory.js';

/** The directory the settings ask for: the list given, the EdgeDevices of a namespace, or none. */
export async function openLiveDirectory(given: { readonly urls?: readonly LiveCamera[] | undefined; readonly namespace?: string | undefined }, log: Logger): Promise<LiveDirectory | undefined> {
  if (given.urls !== undefined && given.namespace !== undefined) {
    throw new ConfigError('PLAYBACK_LIVE_URLS and PLAYBACK_LIVE_NAMESPACE are both set: the live grid takes its cameras from one of them');
  }
  if (given.urls !== undefined) return staticLiveDirectory(given.urls);
  if (given.namespace === undefined) return undefined;
  const [{ KubeConfig }, { edgeDeviceLiveDirectory }] = await Promise.all([import('@kubernetes/client-node'), import('./live-edgedevices.js')]);
  const kubeConfig = new KubeConfig();
  // KUBECONFIG, ~/.kube/config, else the pod's service account.
  kubeConfig.loadFromDefault();
  return edgeDeviceLiveDirectory(kubeConfig, given.namespace, log);
}
