// Apply (server-side apply) or create arbitrary manifests with server-side field validation.
//
// client-node's KubernetesObjectApi.create/patch run the object through its typed serializer
// first, which silently DROPS fields it does not know (a typo such as `spec.replicaz` never
// reaches the server) and offers no `fieldValidation` parameter. This subclass reuses its
// discovery (kind -> resource path), authentication and error handling (ApiException) but
// sends the manifest verbatim with `?fieldValidation=Strict` (by default), so the real
// kube-apiserver judges exactly what the manifest says, as with `kubectl apply --server-side`
// or `kubectl create`.
import {
  ApiException,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
// Raw YAML parsing on purpose: client-node's loadAllYaml maps documents onto its typed models,
// which drops unknown fields and renames keys such as x-kubernetes-preserve-unknown-fields, so
// the server would never see what the manifest really says. (js-yaml is what client-node uses.)
import { loadAll } from 'js-yaml';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface ApplyOptions {
  /**
   * 'apply' (default): server-side apply, idempotent, like `kubectl apply --server-side`.
   *   Note: for SSA the server refuses fields missing from the schema whatever fieldValidation
   *   says ("failed to create typed patch object ... field not declared in schema", HTTP 500 as
   *   of Kubernetes 1.37); fieldValidation still governs duplicate fields.
   * 'create': POST, like `kubectl create`; an existing object is a 409. Unknown fields are a 400
   *   ("strict decoding error: unknown field ...") under Strict, pruned under Warn/Ignore.
   */
  mode?: 'apply' | 'create';
  /** Server-side field validation (`?fieldValidation=`); default 'Strict'. */
  fieldValidation?: FieldValidation;
  /** Field manager of the apply; default 'shifu-rtsp-tests'. */
  fieldManager?: string;
  /** Take over fields owned by another manager (kubectl --force-conflicts); default true. */
  force?: boolean;
  /** Namespace for namespaced objects whose metadata.namespace is unset. */
  namespace?: string;
  /** Run as `dryRun=All`: validated and admitted, never persisted. */
  dryRun?: boolean;
  /** How long to retry while a just-installed CRD's kind is not in discovery yet; default 15 s. */
  discoveryTimeoutMs?: number;
}

export const DEFAULT_FIELD_MANAGER = 'shifu-rtsp-tests';

class ApplyObjectApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): ApplyObjectApi {
    const api = kc.makeApiClient(ApplyObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  /** undefined when the kind is not (yet) served, e.g. a CRD that is not in discovery yet. */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    try {
      const resource = await this.resource(apiVersion, kind);
      return resource?.namespaced;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined; // group/version unknown
      throw err;
    }
  }

  async send<T extends KubernetesObject>(spec: T, opts: Required<Omit<ApplyOptions, 'namespace' | 'discoveryTimeoutMs'>>): Promise<T> {
    const create = opts.mode === 'create';
    const path = await this.specUriPath(spec, create ? 'create' : 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, create ? HttpMethod.POST : HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', create ? 'application/json' : PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', opts.fieldManager);
    ctx.setQueryParam('fieldValidation', opts.fieldValidation);
    if (opts.force && !create) ctx.setQueryParam('force', 'true');
    if (opts.dryRun) ctx.setQueryParam('dryRun', 'All');
    // JSON is YAML: the manifest goes out exactly as given.
    ctx.setBody(JSON.stringify(spec));
    return this.requestPromise<T>(ctx);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isKubernetesObject(value: unknown): value is KubernetesObject {
  if (!isRecord(value)) return false;
  const metadata = value['metadata'];
  return (
    typeof value['apiVersion'] === 'string' &&
    typeof value['kind'] === 'string' &&
    isRecord(metadata) &&
    typeof metadata['name'] === 'string'
  );
}

/**
 * Parse a (multi-document) YAML string into Kubernetes objects exactly as written (wire format,
 * no client-side model mapping); empty documents are skipped.
 */
export function parseManifests(yamlText: string): KubernetesObject[] {
  const docs: unknown[] = loadAll(yamlText);
  const out: KubernetesObject[] = [];
  docs.forEach((doc, i) => {
    if (doc === null || doc === undefined) return;
    if (!isKubernetesObject(doc)) {
      throw new Error(`YAML document #${i + 1} is not a Kubernetes object (needs apiVersion, kind, metadata.name)`);
    }
    out.push(doc);
  });
  return out;
}

function describe(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj.apiVersion}/${obj.kind} ${ns}${obj.metadata?.name ?? '?'}`;
}

function apiErrorMessage(err: ApiException<unknown>): string {
  const body = err.body;
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      if (isRecord(parsed) && typeof parsed['message'] === 'string') return parsed['message'];
    } catch {
      // not JSON: fall through
    }
    return body;
  }
  if (isRecord(body) && typeof body['message'] === 'string') return body['message'];
  return err.message;
}

/** Error thrown by applyYaml: keeps the ApiException (and its `.code`) as `cause`. */
export class ApplyError extends Error {
  readonly code: number | undefined;
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = 'ApplyError';
    this.code = cause instanceof ApiException ? cause.code : undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Server-side apply (or create: ApplyOptions.mode) every object in `docs` (a YAML string, an
 * object or a list of objects), in order, with Strict field validation unless told otherwise.
 * Objects are sent as given, so they must be in wire format (JSON field names, as parsed from
 * YAML), not client-node model instances (those use names such as
 * `xKubernetesPreserveUnknownFields`). Returns the objects as the server stored them (built-in
 * kinds deserialized into client-node's models). A rejected object raises ApplyError (`.code`
 * is the HTTP status); the objects before it stay applied.
 */
export async function applyManifests(
  kc: KubeConfig,
  docs: string | KubernetesObject | readonly KubernetesObject[],
  options: ApplyOptions = {},
): Promise<KubernetesObject[]> {
  const objects: KubernetesObject[] =
    typeof docs === 'string' ? parseManifests(docs) : Array.isArray(docs) ? [...(docs as readonly KubernetesObject[])] : [docs as KubernetesObject];
  const opts = {
    mode: options.mode ?? 'apply',
    fieldValidation: options.fieldValidation ?? 'Strict',
    fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER,
    force: options.force ?? true,
    dryRun: options.dryRun ?? false,
  } as const;
  const discoveryTimeoutMs = options.discoveryTimeoutMs ?? 15_000;
  const api = ApplyObjectApi.forConfig(kc);
  const applied: KubernetesObject[] = [];

  for (const original of objects) {
    // Work on a copy: the caller's object is never mutated.
    const obj = structuredClone(original);
    const deadline = Date.now() + discoveryTimeoutMs;
    for (;;) {
      try {
        const namespaced = await api.isNamespaced(obj.apiVersion ?? 'v1', obj.kind ?? '');
        if (namespaced === undefined) throw new Error(`Unrecognized API version and kind: ${obj.apiVersion} ${obj.kind}`);
        if (namespaced && !obj.metadata?.namespace && options.namespace) {
          obj.metadata = { ...obj.metadata, namespace: options.namespace };
        }
        applied.push(await api.send(obj, opts));
        break;
      } catch (err) {
        if (err instanceof ApiException) {
          throw new ApplyError(`${opts.mode} ${describe(obj)} failed with HTTP ${err.code}: ${apiErrorMessage(err)}`, err);
        }
        const unknownKind = err instanceof Error && err.message.startsWith('Unrecognized API version and kind');
        if (unknownKind && Date.now() < deadline) {
          await sleep(250); // a CRD that was just Established may take a moment to show in discovery
          continue;
        }
        throw new ApplyError(`${opts.mode} ${describe(obj)} failed: ${err instanceof Error ? err.message : String(err)}`, err);
      }
    }
  }
  return applied;
}
