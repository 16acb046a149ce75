// The archive scenario's S3 server: versitygw (an S3 gateway over a folder, nobody here wrote it) as a pod and a
// Service in the cluster, as a user's MinIO or Ceph RGW would run, and Debian's awscli on the node to check what
// the recorder wrote there. The keys go in the Secret the recorder reads (`shifu-rtsp-archive`, knative/README.md)
// and in the gateway's environment, never in argv.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { awsCli, awsClientEnv } from '../support/s3-server.js';
import type { Kubectl } from './support.js';

export const S3_PORT = 7070;
export const S3_SERVICE = 's3';
export const S3_BUCKET = 'footage';

export interface ClusterS3 {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** What the recorder pods use: the Service's name. */
  readonly inClusterEndpoint: string;
  /** awscli on the node against the pod's address; resolves stdout, rejects with stderr. */
  aws(podIp: string, args: readonly string[]): Promise<string>;
}

/** The Secret, the gateway's pod (Pod Security "restricted", its folder an emptyDir) and its Service. */
export function clusterS3Objects(namespace: string, image: string, keys: { accessKeyId: string; secretAccessKey: string }): object[] {
  const labels = { 'app.kubernetes.io/name': 'versitygw', 'app.kubernetes.io/component': 'test-s3' };
  const keyRef = (key: string): object => ({ secretKeyRef: { name: 'shifu-rtsp-archive', key } });
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'shifu-rtsp-archive', namespace },
      stringData: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'versitygw', namespace, labels },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 65535, runAsGroup: 65535, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'versitygw',
            image,
            imagePullPolicy: 'Never',
            args: ['--port', `:${S3_PORT}`, '--quiet', 'posix', '/data'],
            env: [
              { name: 'ROOT_ACCESS_KEY_ID', valueFrom: keyRef('accessKeyId') },
              { name: 'ROOT_SECRET_ACCESS_KEY', valueFrom: keyRef('secretAccessKey') },
            ],
            ports: [{ containerPort: S3_PORT }],
            readinessProbe: { tcpSocket: { port: S3_PORT }, periodSeconds: 1 },
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
          },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: S3_SERVICE, namespace },
      spec: { selector: labels, ports: [{ port: 9000, targetPort: S3_PORT }] },
    },
  ];
}

export async function deployClusterS3(k: Kubectl, namespace: string, image: string): Promise<ClusterS3> {
  const keys = { accessKeyId: `cluster${randomBytes(6).toString('hex')}`, secretAccessKey: randomBytes(20).toString('hex') };
  await k.run(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: clusterS3Objects(namespace, image, keys) }));
  const env = awsClientEnv(keys);
  return {
    ...keys,
    inClusterEndpoint: `http://${S3_SERVICE}.${namespace}.svc.cluster.local:9000`,
    aws: (podIp, args) => awsCli(`http://${podIp}:${S3_PORT}`, env, os.tmpdir(), args),
  };
}
