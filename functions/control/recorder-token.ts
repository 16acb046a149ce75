// The recorder's API token lives in a Secret of its own, not in the Deployment: the built-in `view` role (and
// anyone who may read Deployments) can read a Deployment's env, but not Secrets. Control may only create
// Secrets (never read, list or delete them: it holds no camera password this way either), so it derives each
// token from its own key (CONTROL_TOKEN) and a random id kept in the Deployment's annotation: status calls
// compute the token again instead of reading it back. The Secret is owned by the Deployment, so the garbage
// collector deletes it with the recorder, and a new Deployment gets a new id, a new Secret and a new token.
import { createHmac, randomBytes } from 'node:crypto';
import type { V1Deployment, V1Secret } from '@kubernetes/client-node';
import { LABEL, MANAGED_BY, recorderApiSecretName } from './deployment.js';

/** A fresh id: lowercase hex, so `<device>-recorder-api-<id>` is a valid Secret name. */
export function newApiTokenId(): string {
  return randomBytes(9).toString('hex');
}

/** The token of one recorder Deployment; only who holds the control key can compute it. */
export function recorderApiToken(key: string, namespace: string, device: string, id: string): string {
  return createHmac('sha256', key).update(`shifu-rtsp recorder API v1\n${namespace}/${device}/${id}`).digest('base64url');
}

/** The Secret the recorder's RECORDER_API_TOKEN comes from, owned by its Deployment. */
export function recorderApiSecret(deployment: V1Deployment, device: string, id: string, token: string): V1Secret {
  const name = deployment.metadata?.name;
  const uid = deployment.metadata?.uid;
  if (!name || !uid) throw new Error('a recorder Deployment without a name or uid cannot own its token Secret');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: recorderApiSecretName(device, id),
      namespace: deployment.metadata?.namespace,
      labels: { [LABEL.name]: 'shifu-rtsp', [LABEL.component]: 'recorder-api-token', [LABEL.device]: device, [LABEL.managedBy]: MANAGED_BY },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid }],
    },
    type: 'Opaque',
    stringData: { token },
  };
}
