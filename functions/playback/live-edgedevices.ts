// Each device's live view found from its EdgeDevice (the contract in functions/contracts), watched in the
// playback pod's namespace (the Role shifu-rtsp-playback-live lets it get, list and watch them, nothing else).
// Loaded only when PLAYBACK_LIVE_NAMESPACE is set: the Kubernetes client costs tens of MiB.
import { CustomObjectsApi, makeInformer, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { customMetadataOf, EDGEDEVICE, forwarderServiceName, LIVE_SERVICE_PORT, LIVE_SUBSTREAM_PATH_KEY, parseEdgeDevice, PROTOCOL_TCP, STREAM_PATH_KEY } from '../contracts/index.js';
import { HttpError, type Logger } from '../lib/index.js';
import { noLiveView, parseLiveBase, type LiveCamera, type LiveDirectory } from './live-directory.js';

/** A failed watch is started again after this long (the client itself stops on an error). */
const RESTART_MS = 5_000;

/**
 * The live view of one EdgeDevice: the forwarder's Service (`deviceshifu-<name>`, its live port) and the camera
 * path, `spec.customMetadata.liveSubstreamPath` when set (a smaller H.264 stream), else `rtspPath`.
 * Undefined for an EdgeDevice the forwarder does not carry (not TCP) or that names no path.
 */
export function liveCameraOf(object: unknown, namespace: string): LiveCamera | undefined {
  const name = (object as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  if (typeof name !== 'string') return undefined;
  const parsed = parseEdgeDevice({ name, namespace }, object);
  if (!parsed.ok || parsed.device.spec?.protocol !== PROTOCOL_TCP) return undefined;
  const path = customMetadataOf(parsed.device, LIVE_SUBSTREAM_PATH_KEY) ?? customMetadataOf(parsed.device, STREAM_PATH_KEY);
  if (path === undefined || /\s|@|#/.test(path)) return undefined;
  try {
    const base = parseLiveBase(`http://${forwarderServiceName(name)}.${namespace}.svc.cluster.local:${LIVE_SERVICE_PORT}${path.startsWith('/') ? '' : '/'}${path}`, name);
    return { device: name, base };
  } catch {
    return undefined;
  }
}

/** An API failure in one line: `HTTP 403: <the Status's message>`, else the error's own message. */
function describeFailure(err: unknown): string {
  const { code, body } = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; body?: unknown };
  if (typeof code === 'number') {
    let message = '';
    try {
      const status: unknown = typeof body === 'string' ? JSON.parse(body) : body;
      const text = (status as { message?: unknown } | null)?.message;
      if (typeof text === 'string') message = `: ${text}`;
    } catch {
      // not a Status object: the code alone
    }
    return `HTTP ${code}${message}`;
  }
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}

/** Watches the namespace's EdgeDevices; answers from the watch's cache, never with a list it could not read. */
export async function edgeDeviceLiveDirectory(kubeConfig: KubeConfig, namespace: string, log: Logger): Promise<LiveDirectory> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const informer = makeInformer<KubernetesObject>(
    kubeConfig,
    `/apis/${EDGEDEVICE.group}/${EDGEDEVICE.version}/namespaces/${namespace}/${EDGEDEVICE.plural}`,
    () => api.listNamespacedCustomObject({ ...EDGEDEVICE, namespace }) as Promise<{ items: KubernetesObject[]; metadata?: { resourceVersion?: string } }>,
  );
  let failure: string | null = null;
  let synced = false;
  let stopped = false;
  let restart: NodeJS.Timeout | undefined;
  informer.on('error', (err: unknown) => {
    failure = describeFailure(err);
    log.warn({ namespace, error: failure }, 'cannot watch EdgeDevices for live view; trying again');
    if (!stopped) {
      restart = setTimeout(() => {
        void informer.start().then(() => {
          if (failure === null) synced = true;
        });
      }, RESTART_MS);
    }
  });
  informer.on('connect', () => {
    failure = null;
  });
  await informer.start();
  if (failure === null) synced = true;

  const cameras = (): LiveCamera[] => {
    if (failure !== null) {
      throw new HttpError(503, `live: cannot read the EdgeDevices of ${namespace} (${failure.slice(0, 200)}); the pod needs the Role shifu-rtsp-playback-live`, 'live_directory_unreadable', { 'retry-after': '5' });
    }
    if (!synced) throw new HttpError(503, `live: the EdgeDevices of ${namespace} are being read`, 'live_directory_loading', { 'retry-after': '2' });
    return informer
      .list(namespace)
      .map((o) => liveCameraOf(o, namespace))
      .filter((c): c is LiveCamera => c !== undefined)
      .sort((a, b) => a.device.localeCompare(b.device));
  };
  return {
    cameras,
    camera: (device) => {
      const found = cameras().find((c) => c.device === device);
      if (!found) throw noLiveView(device);
      return found;
    },
    close: async () => {
      stopped = true;
      clearTimeout(restart);
      await informer.stop();
    },
  };
}
