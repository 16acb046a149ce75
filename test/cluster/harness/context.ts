// What the cluster global setup hands to the test files (inject('cluster')).
export interface ClusterEnvironment {
  /** The image built from the Dockerfile and imported into containerd, e.g. localhost/shifu-rtsp:<hash>. */
  image: string;
  /** The archive scenario's S3 server (versitygw, one static binary), imported the same way. */
  versitygwImage: string;
  /** Admin kubeconfig (client certificate in system:masters). */
  kubeconfig: string;
  /** The kubectl built with the cluster. */
  kubectl: string;
  nodeName: string;
  /** The node's address on the pod bridge: pods reach host processes (the test camera, the event sink) here. */
  nodeIp: string;
  clusterScript: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterEnvironment;
  }
}
