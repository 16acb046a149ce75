// The export pod as the Kubernetes API sees it: found, running and scheduled before anything is fetched.
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

export class ExportPodError extends Error {
  constructor(
    readonly code: 'pod_missing' | 'pod_not_running',
    message: string,
  ) {
    super(message);
    this.name = 'ExportPodError';
  }
}

export interface PodRef {
  readonly namespace: string;
  readonly pod: string;
}

/** Fails with a message that says what to do unless the export pod exists, runs and has a node. */
export async function checkExportPod(kc: KubeConfig, ref: PodRef): Promise<void> {
  const { namespace, pod } = ref;
  let found;
  try {
    found = await kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace, name: pod });
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) {
      throw new ExportPodError('pod_missing', `export pod ${namespace}/${pod} not found: apply storage/ (kubectl apply -k storage/), or name it with --pod`);
    }
    throw err;
  }
  const phase = found.status?.phase ?? 'Unknown';
  if (phase !== 'Running') {
    throw new ExportPodError('pod_not_running', `export pod ${namespace}/${pod} is ${phase}, not Running: see kubectl -n ${namespace} describe pod ${pod}`);
  }
  if (!found.spec?.nodeName) {
    throw new ExportPodError('pod_not_running', `export pod ${namespace}/${pod} is not scheduled on a node: see kubectl -n ${namespace} describe pod ${pod}`);
  }
}
