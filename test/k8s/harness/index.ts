// Helpers for test/k8s/*.test.ts. The control plane itself is started once per run by
// ./global-setup.ts; these helpers only talk to it through the kubeconfig it provides.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type https from 'node:https';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  type Cluster,
  type ConnectOptions,
  type DispatcherOptions,
  type KubernetesObject,
  type RequestContext,
  type User,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';
import { applyManifests, parseManifests, type ApplyOptions } from './apply.js';
import type { K8sTestEnvironment } from './context.js';

export { ApplyError, isKubernetesObject, parseManifests, type ApplyOptions, type FieldValidation } from './apply.js';
export type { K8sTestEnvironment } from './context.js';

/** What the global setup started (pids, URL, asset dir, installed CRDs). */
export function k8sEnvironment(): K8sTestEnvironment {
  return inject('k8s');
}

let adminConfig: KubeConfig | undefined;

/** Admin KubeConfig (system:masters) for the control plane of this run. */
export function kubeConfig(): KubeConfig {
  if (!adminConfig) {
    const file = inject('kubeconfigPath');
    if (!file) throw new Error('no kubeconfig was provided: is test/k8s/harness/global-setup.ts the globalSetup of this project?');
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    adminConfig = kc;
  }
  return adminConfig;
}

function currentCluster(kc: KubeConfig): Cluster {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  return cluster;
}

/** A KubeConfig for the same cluster as `base` but authenticating as `user` (only). */
function kubeConfigForUser(base: KubeConfig, user: User, make: () => KubeConfig = () => new KubeConfig()): KubeConfig {
  const kc = make();
  kc.loadFromClusterAndUser(currentCluster(base), user);
  return kc;
}

// ---------------------------------------------------------------------------------------------
// Namespaces

export interface TestNamespace {
  /** The namespace's name; it exists from the file's beforeAll on. */
  readonly name: string;
}

function dnsLabel(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'test';
  return `${clean}-${randomBytes(3).toString('hex')}`;
}

/**
 * Give the calling test file (or describe block) its own namespace: call at collection time
 * (top level of the file or inside describe). The namespace is created in beforeAll and deleted
 * in afterAll. Its name (prefix + random suffix) is known at once.
 * Note: without a controller-manager, a deleted namespace stays Terminating; that is harmless.
 */
export function createNamespace(prefix: string): TestNamespace {
  const name = dnsLabel(prefix);
  beforeAll(async () => {
    await kubeConfig().makeApiClient(CoreV1Api).createNamespace({
      body: { metadata: { name, labels: { 'shifu-rtsp.test/k8s': 'true' } } },
    });
  });
  afterAll(async () => {
    try {
      await kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
    }
  });
  return { name };
}

// ---------------------------------------------------------------------------------------------
// Identities for RBAC tests

/** Turn a header map/list of any form undici accepts into [name, value] pairs. */
function headerPairs(headers: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const push = (k: unknown, v: unknown): void => {
    if (v === undefined || v === null) return;
    if (Array.isArray(v)) for (const item of v) out.push([String(k), String(item)]);
    else out.push([String(k), String(v)]);
  };
  if (headers === null || headers === undefined) return out;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) push(headers[i], headers[i + 1]);
  } else if (typeof headers === 'object' && Symbol.iterator in headers) {
    for (const pair of headers as Iterable<unknown>) {
      if (Array.isArray(pair)) push(pair[0], pair[1]);
    }
  } else if (typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) push(k, v);
  }
  return out;
}

/**
 * client-node honours a kubeconfig user's `as` (Impersonate-User) but has no `as-groups`, and its
 * request headers are a plain string map, so several Impersonate-Group headers cannot be set
 * that way. This KubeConfig adds them at the HTTP layer (an undici dispatcher interceptor), one
 * header per group, exactly as kubectl --as --as-group sends them. It also keeps the connection
 * on HTTP/1.1: undici's HTTP/2 client folds repeated headers into one "a, b" value, which the
 * apiserver would read as a single group named "a, b".
 */
class ImpersonatingKubeConfig extends KubeConfig {
  constructor(
    private readonly impersonateUser: string,
    private readonly impersonateGroups: readonly string[],
  ) {
    super();
  }

  override createDispatcherOptions(cluster: Cluster | null, agentOptions: https.AgentOptions): DispatcherOptions {
    const opts = super.createDispatcherOptions(cluster, agentOptions);
    if (opts.type !== 'agent') return opts;
    // `allowH2` is an undici connector option (it restricts TLS ALPN to http/1.1).
    const connect: ConnectOptions = Object.assign({}, opts.connect, { allowH2: false });
    return { type: 'agent', connect };
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    context.setHeaderParam('Impersonate-User', this.impersonateUser);
    if (this.impersonateGroups.length === 0) return;
    const dispatcher = context.getDispatcher();
    if (!dispatcher) throw new Error('impersonation with groups needs an https cluster (no dispatcher was created)');
    const groups = this.impersonateGroups;
    context.setDispatcher(
      dispatcher.compose((dispatch) => (opts, handler) => {
        const pairs = headerPairs(opts.headers).filter(([k]) => k.toLowerCase() !== 'impersonate-group');
        for (const g of groups) pairs.push(['Impersonate-Group', g]);
        return dispatch({ ...opts, headers: pairs.flat() }, handler);
      }),
    );
  }
}

/**
 * A KubeConfig that acts as `user` (with `groups`) through the admin's impersonation right, like
 * `kubectl --as=user --as-group=g1 --as-group=g2`. Impersonating a service-account user name
 * (system:serviceaccount:<ns>:<name>) gets that account's groups added by the server.
 */
export function impersonatedKubeConfig(user: string, groups: readonly string[] = []): KubeConfig {
  const admin = kubeConfig();
  const adminUser = admin.getCurrentUser();
  if (!adminUser) throw new Error('admin kubeconfig has no user');
  return kubeConfigForUser(
    admin,
    { ...adminUser, name: `${adminUser.name}-as-${user}`, impersonateUser: user },
    () => new ImpersonatingKubeConfig(user, [...groups]),
  );
}

export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  /** system:serviceaccount:<namespace>:<name> */
  username: string;
  /** A bound token from the TokenRequest API, signed by the apiserver's service-account key. */
  token: string;
  kubeConfig: KubeConfig;
}

/**
 * Create (if needed) ServiceAccount `name` in `namespace`, request a real token for it through
 * the TokenRequest API, and return a KubeConfig that authenticates with that token only.
 */
export async function serviceAccountKubeConfig(namespace: string, name: string, expirationSeconds = 3600): Promise<ServiceAccountIdentity> {
  const admin = kubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
  const tr = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const kc = kubeConfigForUser(admin, { name: `sa-${namespace}-${name}`, token });
  return { namespace, name, username: `system:serviceaccount:${namespace}:${name}`, token, kubeConfig: kc };
}

// ---------------------------------------------------------------------------------------------
// Manifests

/**
 * Server-side apply manifests (YAML text, one object or a list; `mode: 'create'` POSTs instead)
 * with Strict field validation by default, as the admin unless `kubeConfig` is given. Returns the stored objects; a rejection throws
 * ApplyError whose `.code` is the HTTP status (e.g. 400 for an unknown field under Strict).
 */
export async function applyYaml(
  docs: string | KubernetesObject | readonly KubernetesObject[],
  options: ApplyOptions & { kubeConfig?: KubeConfig } = {},
): Promise<KubernetesObject[]> {
  const { kubeConfig: kc, ...rest } = options;
  return applyManifests(kc ?? kubeConfig(), docs, rest);
}

/**
 * Control's ServiceAccount, Role and RoleBinding from knative/control-rbac.yaml, moved into `namespace`; returns the
 * ServiceAccount's kubeconfig, so a test's control acts with exactly the rights it has when installed.
 */
export async function controlServiceAccount(namespace: string): Promise<ServiceAccountIdentity> {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const rbac = parseManifests(await readFile(path.join(repo, 'knative/control-rbac.yaml'), 'utf8')).map((o) => {
    const copy = structuredClone(o) as KubernetesObject & { subjects?: Array<{ namespace?: string }> };
    copy.metadata = { ...copy.metadata, namespace };
    for (const subject of copy.subjects ?? []) subject.namespace = namespace;
    return copy;
  });
  await applyYaml(rbac);
  return serviceAccountKubeConfig(namespace, 'shifu-rtsp-control');
}

/** The HTTP status of a client-node ApiException (or ApplyError), else undefined. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number') return err.code;
  return undefined;
}

/** Await `fn` and return the HTTP status it failed with; fails if it succeeded or failed otherwise. */
export async function expectHttpError(fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
  } catch (err) {
    const code = httpStatus(err);
    if (code === undefined) throw err;
    return code;
  }
  throw new Error('expected the Kubernetes API call to fail, but it succeeded');
}

/**
 * A device's EdgeDevice (protocol TCP) as an operator writes it; `allowedStreamUrls` lists cameras its
 * record-on may name besides its own forwarder (control refuses others with 403).
 */
export async function createEdgeDevice(namespace: string, name: string, customMetadata: Record<string, string> = {}): Promise<void> {
  await applyManifests(kubeConfig(), [
    {
      apiVersion: 'shifu.edgenesis.io/v1alpha1',
      kind: 'EdgeDevice',
      metadata: { name, namespace },
      spec: { sku: 'test-camera', connection: 'Ethernet', address: '10.0.0.1:554', protocol: 'TCP', customMetadata },
    } as KubernetesObject,
  ], { fieldValidation: 'Strict', fieldManager: 'shifu-rtsp-k8s-test' });
}
