// vitest globalSetup of the `cluster` project: one real single-node cluster per run (test/cluster/cluster.sh up),
// the Shifu and Knative CRDs from test/crds applied to it, and `down` at the end, which removes every
// process, mount, iptables chain and file it made. SHIFU_RTSP_CLUSTER_KEEP=1 leaves it up for a look.
// A part that cannot start fails the run with its log tail (cluster.sh prints it): never a skip.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { crdDirectories } from '../../crds/index.js';
import type { ClusterEnvironment } from './context.js';

const harnessDir = path.dirname(fileURLToPath(import.meta.url));
const clusterScript = path.resolve(harnessDir, '..', 'cluster.sh');

function run(args: string[], echo: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [clusterScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      if (echo) process.stderr.write(c);
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`cluster.sh ${args.join(' ')} exited with ${code}:\n${err.split('\n').slice(-60).join('\n')}`)),
    );
  });
}

function value(out: string, key: string): string {
  const line = out.split('\n').find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`cluster.sh up printed no ${key}=`);
  return line.slice(key.length + 1).trim();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const teardown = async (): Promise<void> => {
    if (process.env['SHIFU_RTSP_CLUSTER_KEEP'] === '1') return;
    await run(['down'], true);
  };
  try {
    // Under CI a cluster left by an earlier, killed run (its processes gone, its state on disk) is removed first.
    if (process.env['CI'] === 'true') await run(['down'], true);
    const out = await run(['up'], true);
    const env = await run(['env'], false);
    const cluster: ClusterEnvironment = {
      image: value(out, 'IMAGE'),
      versitygwImage: value(out, 'VERSITYGW_IMAGE'),
      kubeconfig: value(out, 'KUBECONFIG'),
      kubectl: value(env, 'KUBECTL'),
      nodeName: value(env, 'NODE_NAME'),
      nodeIp: value(env, 'NODE_IP'),
      clusterScript,
    };
    // Shifu's and Knative's CRDs (test/crds): knative/ holds a Knative Service, Broker, Trigger, SinkBinding.
    for (const dir of await crdDirectories()) {
      await run(['kubectl', 'apply', '--server-side', '--force-conflicts', '-R', '-f', dir], true);
    }
    await run(['kubectl', 'wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s'], true);
    project.provide('cluster', cluster);
    return teardown;
  } catch (err) {
    await teardown().catch(() => undefined);
    throw err;
  }
}
