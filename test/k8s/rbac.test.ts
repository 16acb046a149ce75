// RBAC is enforced by the real authorizer: an identity with no Role is refused (403), and the
// same call succeeds once a Role + RoleBinding grant it. Two identities are exercised: a real
// ServiceAccount token from the TokenRequest API, and impersonation of a user with groups.
import { AppsV1Api, AuthenticationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { applyYaml, createNamespace, expectHttpError, impersonatedKubeConfig, serviceAccountKubeConfig } from './harness/index.js';

const ns = createNamespace('rbac');

async function listPodsAndDeployments(kc: KubeConfig, namespace: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace });
  await kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace });
}

/** RBAC changes reach the authorizer through an informer: allow it a moment. */
async function eventually(fn: () => Promise<void>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function readerRole(name: string): string {
  return `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ${name}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch"]
`;
}

describe('RBAC', () => {
  it('a ServiceAccount token without a Role gets 403, and 200 after Role + RoleBinding', async () => {
    const sa = await serviceAccountKubeConfig(ns.name, 'recorder');
    expect(sa.token.split('.')).toHaveLength(3); // a signed JWT

    // The token authenticates as the ServiceAccount (not anonymous, not admin).
    const review = await sa.kubeConfig.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(sa.username);
    expect(review.status?.userInfo?.groups).toContain(`system:serviceaccounts:${ns.name}`);

    const core = sa.kubeConfig.makeApiClient(CoreV1Api);
    const apps = sa.kubeConfig.makeApiClient(AppsV1Api);
    expect(await expectHttpError(() => core.listNamespacedPod({ namespace: ns.name }))).toBe(403);
    expect(await expectHttpError(() => apps.listNamespacedDeployment({ namespace: ns.name }))).toBe(403);

    await applyYaml(
      readerRole('recorder-reader') +
        `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: recorder-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: recorder-reader
subjects:
- kind: ServiceAccount
  name: recorder
  namespace: ${ns.name}
`,
      { namespace: ns.name },
    );

    await eventually(() => listPodsAndDeployments(sa.kubeConfig, ns.name));
    // Granted exactly what the Role says: reading pods, not deleting them, nor other namespaces.
    expect(await expectHttpError(() => core.deleteCollectionNamespacedPod({ namespace: ns.name }))).toBe(403);
    expect(await expectHttpError(() => core.listNamespacedPod({ namespace: 'default' }))).toBe(403);
  });

  it('an impersonated user is refused until a RoleBinding to one of its groups exists', async () => {
    const kc = impersonatedKubeConfig('jane@example.com', ['camera-operators', 'night-shift']);

    // Both Impersonate-Group headers reached the server.
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe('jane@example.com');
    expect(review.status?.userInfo?.groups).toEqual(expect.arrayContaining(['camera-operators', 'night-shift', 'system:authenticated']));
    expect(review.status?.userInfo?.groups).not.toContain('system:masters');

    expect(await expectHttpError(() => kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name }))).toBe(403);
    expect(await expectHttpError(() => kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: ns.name }))).toBe(403);

    await applyYaml(
      readerRole('night-shift-reader') +
        `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: night-shift-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: night-shift-reader
subjects:
- kind: Group
  apiGroup: rbac.authorization.k8s.io
  name: night-shift
`,
      { namespace: ns.name },
    );
    await eventually(() => listPodsAndDeployments(kc, ns.name));

    // The same user without that group is still refused.
    const withoutGroup = impersonatedKubeConfig('jane@example.com', ['camera-operators']);
    expect(await expectHttpError(() => withoutGroup.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name }))).toBe(403);
  });
});
