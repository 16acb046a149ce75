import type { V1Deployment, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { ARCHIVE_SECRET, DEFAULT_MIN_FREE_PERCENT, recorderEnvName as env } from '../contracts/index.js';
import { parseStoredSpec, type RecorderSpec } from './recorder-spec.js';

/** Labels every recorder Deployment and pod carries; the SinkBinding selects `component: recorder`. */
export const LABEL = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  device: 'shifu-rtsp/device',
} as const;
export const APP_NAME = 'shifu-rtsp';
export const RECORDER_COMPONENT = 'recorder';
export const MANAGED_BY = 'shifu-rtsp-control';
/** The settings the recorder was started with, as JSON: compared by the next /record/on. */
export const SETTINGS_ANNOTATION = 'shifu-rtsp/settings';
/** The id of the recorder's API token (not the token: that is in the Secret `<device>-recorder-api-<id>`). */
export const API_TOKEN_ID_ANNOTATION = 'shifu-rtsp/api-token-id';

export const DATA_MOUNT = '/data';
export const RECORDER_HTTP_PORT = 8080;
/** The recorder's API token: /record/* answer only to who sends it (control, which reads it here). */
export const RECORDER_API_TOKEN_ENV = env('apiToken');
/** Time to close the last segment (ffmpeg finalises, probe, sha256) before SIGKILL. */
export const TERMINATION_GRACE_SECONDS = 60;
export const RECORDER_UID = 1000;

/** Requests and limits for one `ffmpeg -c copy` plus Node: copying needs little CPU, no decoding. */
export const RECORDER_RESOURCES = {
  requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '64Mi' },
  limits: { cpu: '1', memory: '512Mi', 'ephemeral-storage': '512Mi' },
} as const;

/** The Secret holding a recorder's API token; a new id (a new Deployment) makes a new Secret. */
export function recorderApiSecretName(device: string, id: string): string {
  return `${device}-recorder-api-${id}`;
}

export function recorderDeploymentName(device: string): string {
  return `${device}-recorder`;
}

/** The immutable Deployment selector: one recorder per device. */
export function recorderSelector(device: string): Record<string, string> {
  return { [LABEL.name]: APP_NAME, [LABEL.component]: RECORDER_COMPONENT, [LABEL.device]: device };
}

export function recorderLabelSelector(device?: string): string {
  const base = `${LABEL.name}=${APP_NAME},${LABEL.component}=${RECORDER_COMPONENT}`;
  return device === undefined ? base : `${base},${LABEL.device}=${device}`;
}

export interface DeploymentOptions {
  readonly namespace: string;
  readonly image: string;
  /** Id of the recorder's API token: RECORDER_API_TOKEN comes from the Secret `<device>-recorder-api-<id>`. */
  readonly apiTokenId?: string;
  /** Control's own archive settings (ARCHIVE_S3_*, ARCHIVE_MAX_MBPS), passed on unless the record-on opted out. */
  readonly archive?: Readonly<Record<string, string>>;
}

export function fileSavePath(storagePath: string): string {
  return storagePath === '' ? DATA_MOUNT : `${DATA_MOUNT}/${storagePath}`;
}

function secretEnv(name: string, secret: string, key: string): V1EnvVar {
  // optional: cameras without a password work, and the control account cannot read Secrets to check.
  return { name, valueFrom: { secretKeyRef: { name: secret, key, optional: true } } };
}

/** The archive's settings, and its keys by reference to the Secret the operator creates (never their values). */
function archiveEnv(spec: RecorderSpec, settings: Readonly<Record<string, string>>): V1EnvVar[] {
  if (!spec.archive || Object.keys(settings).length === 0) return [];
  return [
    ...Object.entries(settings).map(([name, value]) => ({ name, value })),
    // optional: a pod with a web identity (IRSA) needs no keys; control cannot read Secrets to check.
    secretEnv('AWS_ACCESS_KEY_ID', ARCHIVE_SECRET, 'accessKeyId'),
    secretEnv('AWS_SECRET_ACCESS_KEY', ARCHIVE_SECRET, 'secretAccessKey'),
  ];
}

/** The recorder Deployment of one device: one replica, Recreate (one writer per volume), locked-down pod. */
export function buildRecorderDeployment(spec: RecorderSpec, options: DeploymentOptions): V1Deployment {
  const labels = { ...recorderSelector(spec.device), [LABEL.managedBy]: MANAGED_BY };
  const http = { path: '/health', port: 'http' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: recorderDeploymentName(spec.device),
      namespace: options.namespace,
      labels,
      annotations: { [SETTINGS_ANNOTATION]: JSON.stringify(spec), ...(options.apiTokenId !== undefined ? { [API_TOKEN_ID_ANNOTATION]: options.apiTokenId } : {}) },
    },
    spec: {
      replicas: 1,
      // Two pods on one volume would write the same files: the old one must be gone before the new starts.
      strategy: { type: 'Recreate' },
      revisionHistoryLimit: 2,
      selector: { matchLabels: recorderSelector(spec.device) },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RECORDER_UID,
            runAsGroup: RECORDER_UID,
            fsGroup: RECORDER_UID,
            // A volume full of footage is not chowned file by file on every start.
            fsGroupChangePolicy: 'OnRootMismatch',
            seccompProfile: { type: 'RuntimeDefault' },
          },
          ...(Object.keys(spec.nodeSelector).length > 0 ? { nodeSelector: { ...spec.nodeSelector } } : {}),
          ...(spec.tolerations.length > 0 ? { tolerations: spec.tolerations.map((t) => ({ ...t })) } : {}),
          containers: [
            {
              name: 'recorder',
              image: options.image,
              command: ['shifu-rtsp'],
              args: ['recorder'],
              env: [
                { name: env('url'), value: spec.url },
                secretEnv(env('username'), spec.credentialsSecret, 'username'),
                secretEnv(env('password'), spec.credentialsSecret, 'password'),
                { name: env('out'), value: fileSavePath(spec.storagePath) },
                { name: env('device'), value: spec.device },
                { name: env('segmentSeconds'), value: String(spec.segmentSeconds) },
                { name: env('format'), value: spec.format },
                { name: env('audio'), value: spec.audio },
                { name: env('httpListen'), value: `0.0.0.0:${RECORDER_HTTP_PORT}` },
                // Only who holds the token (control, which derives it; who may read Secrets) may switch it on or off.
                ...(options.apiTokenId !== undefined
                  ? [{ name: RECORDER_API_TOKEN_ENV, valueFrom: { secretKeyRef: { name: recorderApiSecretName(spec.device, options.apiTokenId), key: 'token' } } }]
                  : []),
                { name: env('retainHours'), value: String(spec.retainHours) },
                { name: env('retainBytes'), value: String(spec.retainBytes ?? 0) },
                { name: env('minFreePercent'), value: String(DEFAULT_MIN_FREE_PERCENT) },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ...archiveEnv(spec, options.archive ?? {}),
              ],
              ports: [{ name: 'http', containerPort: RECORDER_HTTP_PORT, protocol: 'TCP' }],
              // Crash recovery remuxes cut files before the API listens: up to 10 minutes to start.
              startupProbe: { httpGet: http, periodSeconds: 5, failureThreshold: 120, timeoutSeconds: 3 },
              livenessProbe: { httpGet: http, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 3 },
              // Not ready while the camera is down: nothing routes to the recorder, so this only informs.
              readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 3 },
              resources: { requests: { ...RECORDER_RESOURCES.requests }, limits: { ...RECORDER_RESOURCES.limits } },
              securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'data', mountPath: DATA_MOUNT },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'data', persistentVolumeClaim: { claimName: spec.pvc } },
            { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
          ],
        },
      },
    },
  };
}

/** The spec a recorder Deployment was built from; undefined for a Deployment we did not make. */
export function specOfDeployment(deployment: V1Deployment): RecorderSpec | undefined {
  if (deployment.metadata?.labels?.[LABEL.managedBy] !== MANAGED_BY) return undefined;
  return parseStoredSpec(deployment.metadata.annotations?.[SETTINGS_ANNOTATION]);
}

/** The id of the recorder's API token; undefined for a Deployment made before tokens moved into Secrets. */
export function apiTokenIdOfDeployment(deployment: V1Deployment): string | undefined {
  return deployment.metadata?.annotations?.[API_TOKEN_ID_ANNOTATION];
}

/** The token a Deployment of an earlier control carries as a plain value (before tokens moved into Secrets). */
export function apiTokenOfDeployment(deployment: V1Deployment): string | undefined {
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === 'recorder');
  return container?.env?.find((e) => e.name === RECORDER_API_TOKEN_ENV)?.value;
}

/** Where a recorder pod's API listens: its address and the container's `http` port. */
export function recorderApiAddress(pod: V1Pod): { host: string; port: number } | undefined {
  const host = pod.status?.podIP;
  if (host === undefined || host === '') return undefined;
  const container = pod.spec?.containers.find((c) => c.name === 'recorder');
  const port = container?.ports?.find((p) => p.name === 'http')?.containerPort ?? RECORDER_HTTP_PORT;
  return { host, port };
}
