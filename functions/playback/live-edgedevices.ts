// Each device's live view found from its EdgeDevice, watched in the playback pod's namespace (the Role
// shifu-rtsp-playback-live lets it get, list and watch them, nothing else). Loaded only when
// PLAYBACK_LIVE_NAMESPACE is set: the Kubernetes client costs tens of MiB.
import { CustomObjectsApi, makeInformer, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { z } from 'zod';
import { HttpError, type Logger } from '../lib/index.js';
import { EDGEDEVICE, forwarderServiceName, LIVE_SERVICE_PORT, LIVE_SUBSTREAM_PATH_KEY, STREAM_PATH_KEY } from '../shifu-tcp/index.js';
import { noLiveView, parseLiveBase, type LiveCamera, type LiveDirectory } from './live-directory.js';

/** A failed watch is started again after this long (the client itself stops on an error). */
const RESTART_MS = 5_000;

const edgeDeviceSchema = z.object({
  metadata: z.object({ name: z.string() }),
  spec: z
    .object({
      protocol: z.string().optional(),
      customMetadata: z.record(z.string(), z.unknown()).nullish(),
    })
    .optional(),
});

const pathOf = (metadata: Record<string, unknown> | null | undefined, key: string): string | undefined => {
  const value = metadata?.[key];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
};

/**
 * The live view of one EdgeDevice: the forwarder's Service (`deviceshifu-<name>`, its live port) and the camera
 * path, `spec.customMetadata.liveSubstreamPath` when set (a smaller H.264 stream), else `rtspPath`.
 * Undefined for an EdgeDevice the forwarder does not carry (not TCP) or that names no path.
 */
export function liveCameraOf(object: unknown, namespace: string): LiveCamera | undefined {
  const parsed = edgeDeviceSchema.safeParse(object);
  if (!parsed.success || parsed.data.spec?.protocol !== 'TCP') return undefined;
  const device = parsed.data.metadata.name;
  const metadata = parsed.data.spec.customMetadata;
  const path = pathOf(metadata, LIVE_SUBSTREAM_PATH_KEY) ?? pathOf(metadata, STREAM_PATH_KEY);
  if (path === undefined || /\s|@|#/.test(path)) return undefined;
  try {
    const base = parseLiveBase(`http://${forwarderServiceName(device)}.${namespace}.svc.cluster.local:${LIVE_SERVICE_PORT}${path.startsWith('/') ? '' : '/'}${path}`, device);
    return { device, base };
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
