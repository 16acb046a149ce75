import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { ConfigError, DNS_1123_LABEL, registerSecret, zHostPort, zSeconds, type ConfigOf, type HostPort, type Logger, type OptionSpecs } from '../lib/index.js';
import { archiveSettingsToPass } from '../archive/index.js';
import type { RecorderBackend } from './backend.js';
import { KubernetesBackend } from './kubernetes-backend.js';
import { LocalBackend } from './local-backend.js';

const zListen = z
  .string()
  .trim()
  .transform((value, ctx): HostPort => {
    const full = /^\d+$/.test(value) ? `0.0.0.0:${value}` : value;
    const parsed = zHostPort().safeParse(full);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: 'expected PORT or HOST:PORT with a port from 0 to 65535' });
      return z.NEVER;
    }
    return parsed.data;
  });

const zNamespace = z
  .string()
  .regex(DNS_1123_LABEL, 'expected a namespace name (DNS-1123 label)')
  .optional();

/** Settings of `shifu-rtsp control` and of the Knative functions (same environment variables). */
export const controlOptions = {
  backend: {
    flag: 'backend',
    env: ['CONTROL_BACKEND'],
    schema: z.enum(['local', 'kubernetes']),
    default: 'local',
    description: 'where recorders run: local (child processes of this one) | kubernetes (one Deployment per device)',
  },
  port: {
    flag: 'port',
    env: ['PORT'],
    schema: zListen,
    default: '8080',
    description: 'HTTP port, or HOST:PORT, of POST /record/on, POST /record/off, GET /record/status',
  },
  token: {
    flag: 'token',
    env: ['CONTROL_TOKEN'],
    schema: z.string().min(16, 'expected at least 16 characters').optional(),
    secret: true,
    description: 'require Authorization: Bearer <token> (prefer the variable: flags show in ps); required with --backend kubernetes',
  },
  dataDir: {
    flag: 'data-dir',
    env: ['DATA_DIR'],
    schema: z.string().min(1),
    default: './recordings',
    description: 'local backend: recordings go to <data-dir>/<storagePath>/<device>/',
  },
  secretsDir: {
    flag: 'secrets-dir',
    env: ['SECRETS_DIR'],
    schema: z.string().min(1).optional(),
    description: 'local backend: camera credentials in <secrets-dir>/<credentialsSecret>/{username,password}, like a mounted Secret',
  },
  namespace: {
    flag: 'namespace',
    env: ['CONTROL_NAMESPACE', 'POD_NAMESPACE'],
    schema: zNamespace,
    description: "kubernetes backend: namespace of recorders, PVCs and EdgeDevices (default: the pod's own, else the kubeconfig's, else deviceshifu)",
  },
  recorderImage: {
    flag: 'recorder-image',
    env: ['RECORDER_IMAGE'],
    schema: z.string().min(1).optional(),
    description: 'kubernetes backend: image of the recorder Deployments (required there)',
  },
  startTimeout: {
    flag: 'start-timeout',
    env: ['START_TIMEOUT_SECONDS'],
    schema: zSeconds(1, 3600),
    default: '60',
    description: 'local backend: seconds a recorder may take to answer /health',
  },
  stopTimeout: {
    flag: 'stop-timeout',
    env: ['STOP_TIMEOUT_SECONDS'],
    schema: zSeconds(1, 600),
    default: '120',
    description: 'longest wait of POST /record/off?wait=true (and of a local recorder closing its last segment)',
  },
} satisfies OptionSpecs;

export type ControlConfig = ConfigOf<typeof controlOptions>;

export function checkControlConfig(config: ControlConfig): void {
  if (config.backend === 'kubernetes' && config.recorderImage === undefined) {
    throw new ConfigError('RECORDER_IMAGE (flag --recorder-image) is required with --backend kubernetes');
  }
  // In a cluster every pod could otherwise start recorders: the token is what a caller must hold. The local
  // backend (the demo, one person's machine) may run without one.
  if (config.backend === 'kubernetes' && config.token === undefined) {
    throw new ConfigError(
      'CONTROL_TOKEN (flag --token) is required with --backend kubernetes: create the Secret shifu-rtsp-control-token (knative/README.md, Install on Kubernetes)',
    );
  }
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The pod's own namespace, else the kubeconfig context's, else `deviceshifu`. */
function defaultNamespace(kc: KubeConfig): string {
  if (existsSync(SERVICE_ACCOUNT_NAMESPACE)) {
    const ns = readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
    if (ns !== '') return ns;
  }
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'deviceshifu';
}

/** The built CLI beside this module (dist/functions/cli.js): local recorders are that program. */
export function builtCliPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');
}

/** Builds the backend the configuration names; `kubeConfig` replaces the default one (tests). */
export function createBackend(config: ControlConfig, env: NodeJS.ProcessEnv, log: Logger, kubeConfig?: KubeConfig): RecorderBackend {
  registerSecret(config.token);
  if (config.backend === 'kubernetes') {
    // checkControlConfig refuses this at start-up; here for a caller that skipped it.
    if (config.token === undefined) throw new ConfigError('CONTROL_TOKEN (flag --token) is required with --backend kubernetes');
    checkControlConfig(config);
    const kc = kubeConfig ?? loadDefaultKubeConfig();
    return new KubernetesBackend({
      kubeConfig: kc,
      namespace: config.namespace ?? defaultNamespace(kc),
      image: config.recorderImage ?? '',
      log,
      stopTimeoutSeconds: config.stopTimeout,
      recorderTokenKey: config.token,
      archive: archiveSettingsToPass(env),
    });
  }
  return new LocalBackend({
    dataDir: path.resolve(config.dataDir),
    node: process.execPath,
    cli: builtCliPath(),
    ...(config.secretsDir !== undefined ? { secretsDir: path.resolve(config.secretsDir) } : {}),
    env,
    log,
    startTimeoutSeconds: config.startTimeout,
    stopTimeoutSeconds: config.stopTimeout,
  });
}

/** KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount, as kubectl would. */
function loadDefaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
