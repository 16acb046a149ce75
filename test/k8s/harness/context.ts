// Values that the k8s global setup hands to the test files through vitest's provide/inject.
// The module augmentation types `inject('kubeconfigPath')` etc. everywhere in the project.

export interface K8sTestEnvironment {
  /** Admin kubeconfig (user `admin` in group system:masters, bearer token). */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  apiserverUrl: string;
  apiserverPid: number;
  etcdPid: number;
  /** Directory that holds the kube-apiserver and etcd binaries that were started. */
  assetsDir: string;
  /** Names of the CustomResourceDefinitions installed from test/crds and Knative Serving's module (all Established). */
  installedCrds: string[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    k8s: K8sTestEnvironment;
    kubeconfigPath: string;
  }
}
