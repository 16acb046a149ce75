// The whole path on a real single-node cluster, in the order a user meets it: storage, the application, the
// forwarder, recording, a SinkBinding's restart, export through the kubelet, a hard crash, a recorder switched
// off behind control's back, archiving to an S3 server in a pod, off, and uninstall.
// Every pod runs the image built from the Dockerfile. The camera is GStreamer's RTSP server on the node's
// bridge address, which pods reach as the EdgeDevice's address.
// Over 400 lines because the scenarios are one story on one cluster, in order: each starts from the state the
// one before left (the PV, the recorder, its token); the longer ones live in files of their own
// (archive-s3.ts, live-view.ts).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freeLoopbackPort } from '../../functions/lib/index.js';
import type { Segment } from '../../functions/recorder/index.js';
import { requireTool, startGstCamera, type GstCamera } from '../e2e/fixtures/camera.js';
import { placeFootage } from '../e2e/support/placed-footage.js';
import { journalOf } from '../support/journal.js';
import { deployClusterS3, S3_BUCKET } from './archive-s3.js';
import { hlsFromPod, pagePlaysLive } from './live-view.js';
import { EventSink, getJson, type KnativeService, knativeRevisionStandIn, Kubectl, postJson, probeFile, runProgram, sha256File, waitFor } from './support.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cluster = inject('cluster');
const k = new Kubectl(cluster);
const NS = 'deviceshifu';
const DEVICE = 'cam1';
// storage/pv.yaml's hostPath for this device, on the node (this machine).
const hostDir = `/var/lib/shifu-rtsp/${DEVICE}`;
const SEGMENT_SECONDS = 4;
const CAMERA_USER = 'admin';
const CAMERA_PASSWORD = 'cluster-Pa55:w0rd@cam';
// knative/README.md's step 2: control's token, in the Secret shifu-rtsp-control-token.
const CONTROL_TOKEN = randomBytes(24).toString('hex');
const controlAuth = { authorization: `Bearer ${CONTROL_TOKEN}` };
const PLAYBACK_TOKEN = randomBytes(24).toString('hex');
const LIVE_TOKEN = randomBytes(24).toString('hex');
/** `node -e` in a pod: exits 0 once HOST PORT (argv) accepts a TCP connection, 1 after 30 s of trying. */
const WAIT_FOR_TCP = "const n=require('node:net'),[h,p]=process.argv.slice(1),end=Date.now()+30000;(function t(){const s=n.connect(+p,h,()=>{s.destroy();process.exit(0)});s.on('error',()=>{s.destroy();if(Date.now()>end)process.exit(1);setTimeout(t,250)})})()";
/** What Pod Security "restricted" (the namespace's level) asks of a pod and its containers. */
const RESTRICTED_POD = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } };
const RESTRICTED_CONTAINER = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
const diag = (): Promise<string> => k.diagnostics(NS);
const CHROMIUM = '/usr/bin/chromium';

interface PodList {
  items: Array<{
    metadata: { name: string; deletionTimestamp?: string };
    spec: { nodeName?: string; containers: Array<{ image: string; env?: Array<{ name: string; value?: string }> }>; volumes?: Array<{ persistentVolumeClaim?: { claimName: string } }> };
    status: {
      phase?: string;
      podIP?: string;
      containerStatuses?: Array<{ ready: boolean; restartCount: number; containerID?: string; image: string; state?: { running?: unknown } }>;
    };
  }>;
}
type Pod = PodList['items'][number];

/** Control's GET /record/status?device= as the scenarios read it. */
interface ControlStatus {
  state: string;
  detail: { recorder?: { state: string; recording: boolean } | null; recorderError?: string };
}

const [imageName, imageTag] = ((): [string, string] => {
  const at = cluster.image.lastIndexOf(':');
  return [cluster.image.slice(0, at), cluster.image.slice(at + 1)];
})();

/** The argv of every process on the node, as any user there can read it (`/proc/<pid>/cmdline`). */
async function nodeArgvs(): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      out.push((await readFile(`/proc/${name}/cmdline`, 'latin1')).split('\0').join(' ').trim().replace(/^\/usr\/bin\//, ''));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function pods(selector: string): Promise<Pod[]> {
  return (await k.json<PodList>(['-n', NS, 'get', 'pods', '-l', selector])).items.filter((p) => p.metadata.deletionTimestamp === undefined);
}

function readyPod(list: Pod[]): Pod | undefined {
  return list.find((p) => p.status.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready));
}

const RECORDER = `app.kubernetes.io/component=recorder,shifu-rtsp/device=${DEVICE}`;
const journal = (): Promise<Segment[]> => journalOf(hostDir, DEVICE);
const segmentPath = (s: Segment): string => path.join(hostDir, s.file);

/** The user's edits that knative/README.md asks for: the image in kustomization.yaml, and the device's own values. */
async function userCopy(folder: string, dest: string, edits: Array<[string, string]>): Promise<string> {
  await cp(path.join(repo, folder), dest, { recursive: true });
  for (const entry of await readdir(dest, { withFileTypes: true })) {
    // storage/all-cameras/ is a folder of its own, applied on its own (its own userCopy).
    if (!entry.isFile()) continue;
    const file = path.join(dest, entry.name);
    let text = await readFile(file, 'utf8');
    const all: Array<[string, string]> = [
      ['newName: registry.example.com/shifu-rtsp', `newName: ${imageName}`],
      ['newTag: 0.1.0', `newTag: "${imageTag}"`],
      ...edits,
    ];
    for (const [from, to] of all) text = text.split(from).join(to);
    await writeFile(file, text);
  }
  return dest;
}


/** Devices of scenarios 9-11, each with an EdgeDevice and a claim (left Pending: their recorder pods never start). */
const BURST = ['burst1', 'burst2', 'burst3', 'burst4', 'burst5'];

async function makeDevices(devices: string[]): Promise<void> {
  const objects = devices.flatMap((device) => [
    {
      apiVersion: 'shifu.edgenesis.io/v1alpha1',
      kind: 'EdgeDevice',
      metadata: { name: device, namespace: NS },
      spec: { sku: 'test', connection: 'Ethernet', address: `${cluster.nodeIp}:${camera.port}`, protocol: 'TCP', protocolSettings: { TCPSetting: { ListenPort: '8081', NetworkType: 'tcp' } } },
    },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: `${device}-pvc`, namespace: NS },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'none-here', resources: { requests: { storage: '1Gi' } } },
    },
  ]);
  await k.run(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

async function removeDevices(devices: string[]): Promise<void> {
  for (const device of devices) {
    await k.run(['-n', NS, 'delete', 'edgedevice', device, '--ignore-not-found']);
    await k.run(['-n', NS, 'delete', 'pvc', `${device}-pvc`, '--ignore-not-found']);
  }
}

async function recorderDeployments(): Promise<string[]> {
  const list = await k.json<{ items: Array<{ metadata: { name: string } }> }>(['-n', NS, 'get', 'deployments', '-l', 'app.kubernetes.io/component=recorder']);
  return list.items.map((d) => d.metadata.name);
}

/** The host pid of a pod's first container (containerd's task), for signals the kubelet would send. */
async function containerPid(pod: Pod): Promise<number> {
  const containerId = pod.status.containerStatuses?.[0]?.containerID?.replace('containerd://', '');
  if (!containerId) throw new Error(`pod ${pod.metadata.name} has no running container`);
  const tasks = await runProgram('ctr', ['--address', '/run/shifu-rtsp-cluster/containerd.sock', '-n', 'k8s.io', 'tasks', 'ls']);
  const pid = Number(tasks.stdout.split('\n').find((l) => l.startsWith(containerId))?.trim().split(/\s+/)[1]);
  if (!(pid > 1)) throw new Error(`no task for container ${containerId} of ${pod.metadata.name}`);
  return pid;
}

/**
 * Runs a pod with `labels` that tries each target once (HTTP: the status; TCP: whether it connects) and returns
 * what it saw. `retry`: a target may be retried for 30 s, since kube-router adds a new pod to the policies'
 * address sets shortly after it starts (a refusal never turns into an answer by waiting).
 */
async function probeFrom(
  name: string,
  labels: Record<string, string>,
  targets: Array<{ name: string; url?: string; host?: string; port?: number }>,
  retry: boolean,
): Promise<Record<string, number | string>> {
  const script = `
    const net = require('node:net');
    const once = (t) => new Promise((resolve) => {
      if (t.url) {
        fetch(t.url, { signal: AbortSignal.timeout(4000) }).then((r) => resolve(r.status), () => resolve('unreachable'));
        return;
      }
      const s = net.connect(t.port, t.host);
      const timer = setTimeout(() => { s.destroy(); resolve('unreachable'); }, 4000);
      s.on('connect', () => { clearTimeout(timer); s.destroy(); resolve('connected'); });
      s.on('error', () => { clearTimeout(timer); resolve('unreachable'); });
    });
    (async () => {
      const [targets, retry] = JSON.parse(process.argv[1]);
      const out = {};
      for (const t of targets) {
        const deadline = Date.now() + (retry ? 30000 : 0);
        do { out[t.name] = await once(t); } while (out[t.name] === 'unreachable' && Date.now() < deadline);
      }
      console.log('RESULT ' + JSON.stringify(out));
    })();`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/name': 'shifu-rtsp', 'app.kubernetes.io/component': 'test-probe', ...labels } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: RESTRICTED_POD,
      containers: [{ name: 'probe', image: cluster.image, securityContext: RESTRICTED_CONTAINER, command: ['node', '-e', script, JSON.stringify([targets, retry])] }],
    },
  };
  await k.run(['apply', '-f', '-'], JSON.stringify(pod));
  try {
    await waitFor(`${name} to finish`, 180_000, async () => {
      const p = await k.json<Pod>(['-n', NS, 'get', 'pod', name]);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status.phase : undefined;
    }, diag);
    const logs = await k.run(['-n', NS, 'logs', name]);
    const line = logs.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`${name} printed no result:\n${logs}`);
    return JSON.parse(line.slice('RESULT '.length)) as Record<string, number | string>;
  } finally {
    await k.run(['-n', NS, 'delete', 'pod', name, '--wait=false']);
  }
}

/** A recorder's API token, as its pod gets it: from the Secret its Deployment names (read here as admin). */
async function recorderApiToken(deployment: string): Promise<string> {
  const d = await k.json<{ spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string } } }> }> } } } }>(['-n', NS, 'get', 'deployment', deployment]);
  const secret = d.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'RECORDER_API_TOKEN')?.valueFrom?.secretKeyRef?.name;
  if (!secret) throw new Error(`${deployment} takes RECORDER_API_TOKEN from no Secret`);
  const s = await k.json<{ data?: Record<string, string> }>(['-n', NS, 'get', 'secret', secret]);
  return Buffer.from(s.data?.['token'] ?? '', 'base64').toString('utf8');
}

let work: string;
let camera: GstCamera;
let sink: EventSink;
let storageDir: string;
let knativeDir: string;
let controlUrl: string;
/** Every control replica's address (2 replicas from scenario 2). */
let controlUrls: string[] = [];
/** What scenario 11b archived, and its S3 server: 11c plays it from the bucket. */
let archivedInBucket: Segment[] | undefined;
let clusterS3: Awaited<ReturnType<typeof deployClusterS3>> | undefined;
let revision: string;

beforeAll(async () => {
  requireTool('gst-camera');
  requireTool('ffprobe');
  requireTool(CHROMIUM);
  work = await mkdtemp(path.join(os.tmpdir(), 'shifu-rtsp-cluster-'));
  // A kept cluster (SHIFU_RTSP_CLUSTER_KEEP=1) may hold an earlier run's objects: start from none.
  await k.run(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=180s']);
  await k.run(['delete', 'pv', `${DEVICE}-pv`, '--ignore-not-found', '--wait=true']);
  // A camera with a login, as real ones have: Digest, checked through the forwarder by the recorder's relay.
  camera = await startGstCamera({ address: cluster.nodeIp, video: 'h264', audio: 'aac', gop: 25, shared: true, user: CAMERA_USER, password: CAMERA_PASSWORD, auth: 'digest' });
  sink = await EventSink.start(cluster.nodeIp);
  // storage/README.md's step, on the node: the folder the hostPath PV points at, owned by the recorder's uid.
  await rm(hostDir, { recursive: true, force: true });
  await mkdir(hostDir, { recursive: true });
  await chown(hostDir, 1000, 1000);
  storageDir = await userCopy('storage', path.join(work, 'storage'), [
    ['device: camera1', `device: ${DEVICE}`],
    ['size: 10Gi', 'size: 1Gi'],
    ['node: worker-1', `node: ${cluster.nodeName}`],
  ]);
  knativeDir = await userCopy('knative', path.join(work, 'knative'), [
    ['camera1', DEVICE],
    ['192.168.1.64:554', `${cluster.nodeIp}:${camera.port}`],
    ['/Streaming/Channels/101', camera.path],
  ]);
});

afterAll(async () => {
  await camera?.stop();
  await sink?.close();
  if (process.env['SHIFU_RTSP_CLUSTER_KEEP'] !== '1') {
    await rm(hostDir, { recursive: true, force: true });
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe('a camera recorded on a real single-node cluster', () => {
  const before: { segments: Segment[]; recorderPod?: string } = { segments: [] };

  it('1. storage/: the PV binds to the PVC and the export pod runs', async () => {
    await k.run(['apply', '-f', path.join(repo, 'knative', 'namespace.yaml')]);
    // Pod Security "restricted" on the namespace: a privileged pod (what a compromised control could try) is refused.
    const privileged = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged', namespace: NS },
      spec: { containers: [{ name: 'x', image: cluster.image, securityContext: { privileged: true } }], volumes: [{ name: 'host', hostPath: { path: '/' } }] },
    };
    const refused = await runProgram(cluster.kubectl, ['--kubeconfig', cluster.kubeconfig, 'apply', '-f', '-'], { input: JSON.stringify(privileged) });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted:latest".*privileged/s);
    // storage/README.md's step: the playback token, which the export pod requires; and knative/README.md's: the
    // live token (forwarders and the playback page's live grid) and the camera's login (recorder and live view).
    await k.run(['-n', NS, 'create', 'secret', 'generic', `${DEVICE}-playback`, `--from-literal=token=${PLAYBACK_TOKEN}`]);
    await k.run(['-n', NS, 'create', 'secret', 'generic', 'shifu-rtsp-live-token', `--from-literal=token=${LIVE_TOKEN}`]);
    await k.run(['-n', NS, 'create', 'secret', 'generic', `${DEVICE}-rtsp`, `--from-literal=username=${CAMERA_USER}`, `--from-literal=password=${CAMERA_PASSWORD}`]);
    await k.run(['apply', '-k', storageDir]);
    const pvc = await waitFor('cam1-pvc Bound', 60_000, async () => {
      const c = await k.json<{ status: { phase?: string }; spec: { volumeName?: string } }>(['-n', NS, 'get', 'pvc', `${DEVICE}-pvc`]);
      return c.status.phase === 'Bound' ? c : undefined;
    }, diag);
    expect(pvc.spec.volumeName).toBe(`${DEVICE}-pv`);
    const pv = await k.json<{ spec: { persistentVolumeReclaimPolicy: string; hostPath: { path: string } } }>(['get', 'pv', `${DEVICE}-pv`]);
    expect(pv.spec.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(pv.spec.hostPath.path).toBe(hostDir);
    const exportPod = await waitFor('the export pod Running', 120_000, async () => readyPod(await pods(`app.kubernetes.io/component=export,shifu-rtsp/device=${DEVICE}`)), diag);
    expect(exportPod.spec.nodeName).toBe(cluster.nodeName);
    expect(exportPod.spec.containers[0]?.image).toBe(cluster.image);
  });

  it("2. knative/: applies, and the control function runs under the shipped Role and Knative's runtime contract", async () => {
    await k.run(['-n', NS, 'create', 'secret', 'generic', 'shifu-rtsp-control-token', `--from-literal=token=${CONTROL_TOKEN}`]);
    await k.run(['apply', '-k', knativeDir]);
    // Knative's controllers don't run here: the Knative Service's revision runs as the Deployment Knative would
    // make of its template, with what Knative's runtime contract adds (support.ts), 2 replicas as the autoscaler may.
    const rendered = loadAll(await k.run(['kustomize', knativeDir])) as Array<KnativeService & { apiVersion: string; kind: string }>;
    const ksvc = rendered.find((o) => o.apiVersion === 'serving.knative.dev/v1' && o.kind === 'Service');
    if (!ksvc) throw new Error('knative/ renders no Knative Service');
    const standIn = knativeRevisionStandIn(ksvc, NS, 2);
    revision = standIn.revision;
    await k.run(['apply', '-f', '-'], JSON.stringify(standIn.deployment));
    const ready = await waitFor('2 control pods Ready', 180_000, async () => {
      const list = (await pods('app.kubernetes.io/component=control')).filter((p) => readyPod([p]));
      return list.length === 2 ? list : undefined;
    }, diag);
    for (const control of ready) {
      const container = control.spec.containers[0];
      expect(container?.image).toBe(cluster.image);
      expect(container?.env?.find((e) => e.name === 'RECORDER_IMAGE')?.value).toBe(cluster.image);
      // The platform's PORT (the container port), not the code's default, and the revision's names.
      expect(Object.fromEntries((container?.env ?? []).filter((e) => ['PORT', 'K_SERVICE', 'K_REVISION', 'K_CONFIGURATION'].includes(e.name)).map((e) => [e.name, e.value]))).toEqual({
        PORT: '8080',
        K_SERVICE: 'shifu-rtsp-control',
        K_CONFIGURATION: 'shifu-rtsp-control',
        K_REVISION: revision,
      });
    }
    controlUrls = ready.map((p) => `http://${p.status.podIP}:8080`);
    controlUrl = controlUrls[0] ?? '';
    for (const url of controlUrls) {
      await waitFor('the control function answering', 60_000, async () => (await runProgram('curl', ['-fsS', '-H', `authorization: Bearer ${CONTROL_TOKEN}`, `${url}/record/status`])).code === 0, diag);
    }
  });

  it('3. the forwarder reads its EdgeDevice, reports Running, and a pod plays the camera by its Service name', async () => {
    await waitFor('EdgeDevice cam1 Running', 120_000, async () => {
      const ed = await k.json<{ status?: { edgedevicephase?: string } }>(['-n', NS, 'get', 'edgedevice', DEVICE]);
      return ed.status?.edgedevicephase === 'Running';
    }, diag);
    // Ready while the camera accepts TCP: only then does the Service send clients to it.
    const forwarder = await waitFor('the forwarder pod Ready', 120_000, async () => readyPod(await pods(`app.kubernetes.io/component=forwarder,shifu-rtsp/device=${DEVICE}`)), diag);
    expect(forwarder.spec.containers[0]?.image).toBe(cluster.image);
    const url = `rtsp://${CAMERA_USER}:${encodeURIComponent(CAMERA_PASSWORD)}@deviceshifu-${DEVICE}.${NS}.svc.cluster.local:554${camera.path}`;
    // Over interleaved TCP, and with ffmpeg's default (UDP first): the forwarder's RTSP mode sends RTP from its pod.
    for (const [name, transport] of [['player-tcp', ['-rtsp_transport', 'tcp']], ['player-default', []]] as const) {
      const player = {
        apiVersion: 'v1',
        kind: 'Pod',
        // A viewer the forwarder's NetworkPolicy admits; Pod Security "restricted", as the namespace enforces.
        metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/name': 'shifu-rtsp', 'app.kubernetes.io/component': 'test-player', 'shifu-rtsp/viewer': 'true' } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: RESTRICTED_POD,
          // The network plugin admits a new pod a moment after it starts (kube-router adds its address to the
          // policy's set): wait until the Service's port connects, then play once.
          containers: [{ name: 'ffmpeg', image: cluster.image, securityContext: RESTRICTED_CONTAINER, command: ['sh', '-c', `node -e "${WAIT_FOR_TCP}" deviceshifu-${DEVICE}.${NS}.svc.cluster.local 554 && exec ffmpeg -hide_banner -nostats ${transport.join(' ')} -i '${url}' -frames:v 50 -f null -`] }],
        },
      };
      await k.run(['apply', '-f', '-'], JSON.stringify(player));
      const phase = await waitFor(`${name} to finish`, 120_000, async () => {
        const p = await k.json<Pod>(['-n', NS, 'get', 'pod', name]);
        return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status.phase : undefined;
      }, diag);
      const logs = await k.run(['-n', NS, 'logs', name]);
      expect(phase, logs).toBe('Succeeded');
      expect(logs).toMatch(/Stream #0:0.*Video: h264/);
      expect(logs).toMatch(/frame=\s*50\b/);
      await k.run(['-n', NS, 'delete', 'pod', name, '--wait=false']);
    }
  });

  it("3b. NetworkPolicy (kube-router enforcing): a pod without the labels reaches neither control, playback nor the forwarder; with them, control and playback still want their tokens", async () => {
    const ip = async (selector: string): Promise<string> => {
      const pod = readyPod(await pods(selector));
      if (!pod?.status.podIP) throw new Error(`no ready pod for ${selector}`);
      return pod.status.podIP;
    };
    const targets = [
      { name: 'control', url: `http://${await ip('app.kubernetes.io/component=control')}:8080/record/status` },
      { name: 'playback', url: `http://${await ip(`app.kubernetes.io/component=export,shifu-rtsp/device=${DEVICE}`)}:9996/api/devices` },
      { name: 'forwarder', host: await ip(`app.kubernetes.io/component=forwarder,shifu-rtsp/device=${DEVICE}`), port: 8081 },
    ];
    const unlabelled = await probeFrom('probe-unlabelled', {}, targets, false);
    expect(unlabelled).toEqual({ control: 'unreachable', playback: 'unreachable', forwarder: 'unreachable' });
    const labelled = await probeFrom('probe-labelled', { 'shifu-rtsp/control-client': 'true', 'shifu-rtsp/playback-client': 'true', 'shifu-rtsp/viewer': 'true' }, targets, true);
    expect(labelled).toEqual({ control: 401, playback: 401, forwarder: 'connected' });
  });

  it("3c. live view: a pod plays the camera over HLS through the forwarder's Service, and the storage pod's page plays it through kubectl port-forward", async () => {
    const player = await hlsFromPod(k, { namespace: NS, image: cluster.image, url: `http://deviceshifu-${DEVICE}.${NS}.svc.cluster.local:8889${camera.path}/index.m3u8`, token: LIVE_TOKEN, pod: { securityContext: RESTRICTED_POD }, container: { securityContext: RESTRICTED_CONTAINER } }, diag);
    expect(player.phase, player.logs).toBe('Succeeded');
    expect(player.logs).toMatch(/Video: h264/);
    expect(player.logs).toMatch(/frame=\s*50\b/);
    const localPort = await freeLoopbackPort();
    const forward = spawn(cluster.kubectl, ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'port-forward', `pod/${DEVICE}-export`, `${localPort}:9996`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await waitFor('kubectl port-forward', 30_000, async () => (await fetch(`http://127.0.0.1:${localPort}/health`).then((r) => r.ok, () => false)) || undefined);
      const played = await pagePlaysLive(`http://127.0.0.1:${localPort}`, PLAYBACK_TOKEN, DEVICE);
      expect(played.mode).toBe('hls');
      expect(played.framesDecoded).toBeGreaterThan(25);
    } finally {
      forward.kill('SIGTERM');
    }
  });

  it('4. /record/on creates the recorder, which records through the forwarder Service onto the PV', async () => {
    // The camera's login is in the Secret the recorder reads (CAMERA_USERNAME / CAMERA_PASSWORD), made in scenario 1.
    const on = await postJson(`${controlUrl}/record/on`, { device: DEVICE, segmentSeconds: SEGMENT_SECONDS }, controlAuth);
    expect(on.status, on.body).toBeLessThan(300);
    const pod = await waitFor('the recorder pod Running', 180_000, async () => readyPod(await pods(RECORDER)), diag);
    before.recorderPod = pod.metadata.name;
    expect(pod.spec.nodeName).toBe(cluster.nodeName);
    expect(pod.spec.containers[0]?.image).toBe(cluster.image);
    expect(pod.spec.volumes?.some((v) => v.persistentVolumeClaim?.claimName === `${DEVICE}-pvc`)).toBe(true);
    expect(pod.spec.containers[0]?.env?.find((e) => e.name === 'RTSP_URL')?.value).toBe(
      `rtsp://deviceshifu-${DEVICE}.${NS}.svc.cluster.local:554${camera.path}`,
    );
    const segments = await waitFor('3 segments in the journal on the node', 120_000, async () => {
      const j = await journal();
      return j.length >= 3 ? j : undefined;
    }, diag);
    for (const s of segments) {
      expect(existsSync(segmentPath(s)), s.file).toBe(true);
      expect(await sha256File(segmentPath(s))).toBe(s.sha256);
      const probed = await probeFile(segmentPath(s));
      expect(probed.codecs).toEqual(expect.arrayContaining(['h264', 'aac']));
      expect(probed.durationSeconds).toBeGreaterThan(0);
    }
    before.segments = segments;
    // Every user on the node can read every process's argv: the recorder pod's ffmpeg (seen from the node) is
    // there, reading the relay's loopback address, and no process on the node shows the camera password.
    const argvs = await nodeArgvs();
    expect(argvs.some((a) => a.startsWith('ffmpeg ') && a.includes(' -i rtsp://127.0.0.1:') && a.includes(camera.path))).toBe(true);
    // (The test camera itself takes its password as a flag: it is the camera, not ours.)
    const leaks = argvs.filter((a) => !a.includes('gst-camera.py') && (a.includes(CAMERA_PASSWORD) || a.includes(encodeURIComponent(CAMERA_PASSWORD))));
    expect(leaks).toEqual([]);
  });

  it('5. K_SINK patched in (as the SinkBinding does): the pod restarts, the last segment is closed, the gap is reported, events arrive', async () => {
    const oldPod = before.recorderPod;
    await k.run(['-n', NS, 'set', 'env', `deployment/${DEVICE}-recorder`, `K_SINK=${sink.url}`]);
    const pod = await waitFor('a new recorder pod with K_SINK', 180_000, async () => {
      const list = await pods(RECORDER);
      const ready = readyPod(list);
      return ready && ready.metadata.name !== oldPod && list.length === 1 ? ready : undefined;
    }, diag);
    expect(pod.spec.containers[0]?.env?.find((e) => e.name === 'K_SINK')?.value).toBe(sink.url);
    const afterRestart = await waitFor('a segment from the new pod', 120_000, async () => {
      const j = await journal();
      return j.find((s) => s.gapBeforeSeconds > 0 && s.sequence > (before.segments.at(-1)?.sequence ?? 0)) ? j : undefined;
    }, diag);
    const firstNew = afterRestart.find((s) => s.gapBeforeSeconds > 0 && s.sequence > (before.segments.at(-1)?.sequence ?? 0));
    if (!firstNew) throw new Error('unreachable');
    // The old pod's last segment: closed on SIGTERM (not left for crash recovery) and playable.
    const lastOld = afterRestart.filter((s) => s.sequence < firstNew.sequence).at(-1);
    if (!lastOld) throw new Error('no segment before the restart');
    expect(lastOld.recovered).toBe(false);
    expect(await sha256File(segmentPath(lastOld))).toBe(lastOld.sha256);
    expect((await probeFile(segmentPath(lastOld))).codecs).toContain('h264');
    // The gap is the time between the old pod's last frame and the new pod's first.
    expect(firstNew.gapBeforeSeconds).toBeCloseTo((Date.parse(firstNew.startTime) - Date.parse(lastOld.endTime)) / 1000, 0);
    // Events (functions/events/README.md): from the first start with a sink on, every segment; the ones finished before it are
    // in the journal only (a new subscriber is not flooded with old footage).
    const announced = await waitFor('segment events for every segment since the restart', 120_000, async () => {
      const seqs = new Set(sink.events.filter((e) => e.type === 'dev.shifu.rtsp.segment.finished.v1').map((e) => e.data['sequence']));
      return afterRestart.filter((s) => s.sequence >= firstNew.sequence).every((s) => seqs.has(s.sequence)) ? seqs : undefined;
    }, diag);
    expect(afterRestart.filter((s) => s.sequence <= lastOld.sequence && announced.has(s.sequence))).toEqual([]);
    expect(sink.events.some((e) => e.type === 'dev.shifu.rtsp.recorder.state.v1' && e.data['change'] === 'started')).toBe(true);
    before.recorderPod = pod.metadata.name;
  });

  it('6. shifu-rtsp export (the API\'s pod proxy to the playback server), a clip, and the README\'s kubectl recipes (exec, port-forward)', async () => {
    const segments = await journal();
    const to = path.join(work, 'export');
    const env = { ...process.env, KUBECONFIG: cluster.kubeconfig, EXPORT_TOKEN: PLAYBACK_TOKEN };
    const r = await runProgram('node', [path.join(repo, 'dist', 'functions', 'cli.js'), 'export', '--device', DEVICE, '--namespace', NS, '--to', to, '--no-progress'], { env, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    let exported = 0;
    for (const s of segments) {
      const copy = path.join(to, DEVICE, path.basename(s.file));
      expect(existsSync(copy), copy).toBe(true);
      expect(await sha256File(copy)).toBe(s.sha256);
      exported++;
    }
    expect(exported).toBeGreaterThanOrEqual(4);
    // One clip cut by time across segments, through the same pod proxy.
    const clipStart = new Date(Date.parse(segments[1]?.startTime ?? '') + 1_000);
    const clipEnd = new Date(clipStart.getTime() + 6_000);
    const clipTo = path.join(work, 'clip');
    const c = await runProgram('node', [path.join(repo, 'dist', 'functions', 'cli.js'), 'export', '--device', DEVICE, '--namespace', NS, '--to', clipTo, '--no-progress', '--clip', `${clipStart.toISOString()}..${clipEnd.toISOString()}`], { env, timeoutMs: 300_000 });
    expect(c.code, c.stderr).toBe(0);
    const clips = await readdir(path.join(clipTo, DEVICE)).catch(async () => readdir(clipTo));
    const clipFile = clips.find((f) => f.endsWith('.mp4'));
    if (!clipFile) throw new Error(`no clip in ${clipTo}: ${clips.join(', ')}`);
    const clip = await probeFile(existsSync(path.join(clipTo, DEVICE, clipFile)) ? path.join(clipTo, DEVICE, clipFile) : path.join(clipTo, clipFile));
    expect(clip.codecs).toEqual(expect.arrayContaining(['h264', 'aac']));
    // 6 s asked; it starts at the keyframe at or before the start (GOP 1 s).
    expect(clip.durationSeconds).toBeGreaterThan(5);
    expect(clip.durationSeconds).toBeLessThan(7.5);
    // functions/export/README.md's plain-kubectl recipe, with this cluster's kubectl.
    const recipe = path.join(work, 'recipe');
    const one = segments[0];
    if (!one) throw new Error('no segment');
    const name = path.basename(one.file);
    const script = [
      'set -euo pipefail',
      `NS=${NS}; DEVICE=${DEVICE}; POD=$DEVICE-export; SRC=/data/$DEVICE`,
      `mkdir -p ${recipe}/footage/$DEVICE && cd ${recipe}`,
      `kubectl cp -c export --retries=5 $NS/$POD:$SRC/${name} footage/$DEVICE/${name}`,
      'kubectl -n $NS exec $POD -c export -- tar cf - -C $SRC --exclude=./.recording . | tar xf - -C footage/$DEVICE',
      'kubectl -n $NS exec $POD -c export -- cat /data/.shifu-rtsp/$DEVICE/segments.jsonl > footage/segments.jsonl',
      `(cd footage/$DEVICE && node -e 'for (const l of require("fs").readFileSync("../segments.jsonl","utf8").split("\\n")) if (l.trim()) { const s = JSON.parse(l); console.log(s.sha256 + "  " + s.file.split("/").pop()); }' | sha256sum -c --ignore-missing)`,
    ].join('\n');
    const kubectlDir = path.dirname(cluster.kubectl);
    const sh = await runProgram('bash', ['-c', script], { env: { ...env, PATH: `${kubectlDir}:${process.env['PATH'] ?? ''}` }, timeoutMs: 300_000 });
    expect(sh.code, sh.stderr + sh.stdout).toBe(0);
    expect(sh.stdout).toContain(`${name}: OK`);
    expect(sh.stdout).not.toMatch(/FAILED/);
    // The storage pod serves the playback page and API: storage/README.md's port-forward + curl recipe.
    const localPort = await freeLoopbackPort();
    const forward = spawn(cluster.kubectl, ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'port-forward', `pod/${DEVICE}-export`, `${localPort}:9996`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await waitFor('kubectl port-forward', 30_000, async () => (await fetch(`http://127.0.0.1:${localPort}/health`).then((r) => r.ok, () => false)) || undefined);
      const page = await fetch(`http://127.0.0.1:${localPort}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect((await fetch(`http://127.0.0.1:${localPort}/api/devices`)).status).toBe(401);
      const devices = (await (await fetch(`http://127.0.0.1:${localPort}/api/devices`, { headers: { authorization: `Bearer ${PLAYBACK_TOKEN}` } })).json()) as { devices: Array<{ device: string; segments: number }> };
      expect(devices.devices.find((d) => d.device === DEVICE)?.segments).toBeGreaterThanOrEqual(segments.length);
      const curl = await runProgram('curl', ['-fsS', '-H', `authorization: Bearer ${PLAYBACK_TOKEN}`, '-o', path.join(work, 'curl-clip.mp4'), `http://127.0.0.1:${localPort}/api/clip?device=${DEVICE}&start=${encodeURIComponent(clipStart.toISOString())}&duration=4`]);
      expect(curl.code, curl.stderr).toBe(0);
      expect((await probeFile(path.join(work, 'curl-clip.mp4'))).codecs).toContain('h264');
      // HLS of the recordings (a playlist ffmpeg plays, its token carried into the URIs) and a thumbnail kept in the
      // pod's own emptyDir (/cache): the container's root and the footage volume are both read-only.
      const hls = `http://127.0.0.1:${localPort}/api/hls/${DEVICE}.m3u8?start=${encodeURIComponent(segments[0]!.startTime)}&end=${encodeURIComponent(segments.at(-1)!.endTime)}&access_token=${PLAYBACK_TOKEN}`;
      const played = await runProgram('ffmpeg', ['-nostdin', '-v', 'error', '-i', hls, '-map', '0:v', '-f', 'framemd5', path.join(work, 'hls.framemd5')], { timeoutMs: 120_000 });
      expect(played.code, played.stderr).toBe(0);
      expect((await readFile(path.join(work, 'hls.framemd5'), 'utf8')).split('\n').filter((l) => /^0,/.test(l)).length).toBeGreaterThan(50);
      const thumbnail = `http://127.0.0.1:${localPort}/api/thumbnail?device=${DEVICE}&time=${encodeURIComponent(clipStart.toISOString())}&width=160`;
      const auth = { authorization: `Bearer ${PLAYBACK_TOKEN}` };
      const image = await fetch(thumbnail, { headers: auth });
      expect(image.status).toBe(200);
      expect(image.headers.get('content-type')).toBe('image/jpeg');
      const etag = image.headers.get('etag') ?? '';
      expect((await fetch(thumbnail, { headers: { ...auth, 'if-none-match': etag } })).status).toBe(304);
      expect(await k.run(['-n', NS, 'exec', `${DEVICE}-export`, '-c', 'export', '--', 'ls', '/cache'])).toContain(`${etag.slice(1, -1)}.jpg`);
    } finally {
      forward.kill('SIGTERM');
    }
  });

  it('6b. storage/all-cameras/: one playback pod mounts cam1 and a second device read-only, one page shows both through kubectl port-forward, and its live grid plays cam1', async () => {
    // The second device's volume, as its recorder would have left it: one of cam1's segments, journaled as cam2's.
    const SECOND = 'cam2';
    const secondDir = `/var/lib/shifu-rtsp/${SECOND}`;
    const one = (await journal()).at(-1);
    if (!one) throw new Error('no segment of cam1');
    await rm(secondDir, { recursive: true, force: true });
    await placeFootage(secondDir, SECOND, segmentPath(one), one.startTime, one.durationSeconds);
    await runProgram('chown', ['-R', '1000:1000', secondDir]);
    const forward: { child?: ReturnType<typeof spawn> } = {};
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    try {
      // Its PV and PVC from storage/ (storage/README.md: a copy per device), without its own export pod.
      const second = await userCopy('storage', path.join(work, 'storage-cam2'), [
        ['device: camera1', `device: ${SECOND}`],
        ['size: 10Gi', 'size: 1Gi'],
        ['node: worker-1', `node: ${cluster.nodeName}`],
      ]);
      const built = (loadAll(await k.run(['kustomize', second])) as Array<{ kind: string }>).filter((o) => o.kind === 'PersistentVolume' || o.kind === 'PersistentVolumeClaim');
      await k.run(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: built }));
      // storage/README.md's steps for the all-cameras pod: its token, the devices and the node in playback-all.yaml.
      await k.run(['-n', NS, 'create', 'secret', 'generic', 'shifu-rtsp-playback', `--from-literal=token=${PLAYBACK_TOKEN}`]);
      const all = await userCopy('storage/all-cameras', path.join(work, 'all-cameras'), [
        ['camera1', DEVICE],
        ['camera2', SECOND],
        ['worker-1', cluster.nodeName],
      ]);
      await k.run(['apply', '-k', all]);
      const pod = await waitFor('the all-cameras pod Running', 120_000, async () => readyPod(await pods('app.kubernetes.io/component=playback')), diag);
      expect(pod.spec.nodeName).toBe(cluster.nodeName);
      expect(pod.spec.volumes?.flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []))).toEqual([`${DEVICE}-pvc`, `${SECOND}-pvc`]);
      // Mounted read-only: nothing in the pod can write to either volume.
      for (const device of [DEVICE, SECOND]) {
        const touched = await runProgram(cluster.kubectl, ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'exec', 'shifu-rtsp-playback', '--', 'touch', `/data/${device}/written-by-playback`]);
        expect(touched.code).not.toBe(0);
        expect(touched.stderr).toContain('Read-only file system');
      }
      const localPort = await freeLoopbackPort();
      forward.child = spawn(cluster.kubectl, ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'port-forward', 'pod/shifu-rtsp-playback', `${localPort}:9996`], { stdio: ['ignore', 'pipe', 'pipe'] });
      await waitFor('kubectl port-forward', 30_000, async () => (await fetch(`http://127.0.0.1:${localPort}/health`).then((r) => r.ok, () => false)) || undefined);
      const devices = (await (await fetch(`http://127.0.0.1:${localPort}/api/devices`, { headers: { authorization: `Bearer ${PLAYBACK_TOKEN}` } })).json()) as { devices: Array<{ device: string }> };
      expect(devices.devices.map((d) => d.device)).toEqual([DEVICE, SECOND]);
      const page = await browser.newPage({ timezoneId: 'UTC' });
      await page.goto(`http://127.0.0.1:${localPort}/?access_token=${PLAYBACK_TOKEN}`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      expect(await page.evaluate(`[...document.querySelectorAll('#all-cameras .camera-row')].map((r) => r.dataset.camera)`)).toEqual([DEVICE, SECOND]);
      // Both have footage on the day shown, on one axis.
      for (const device of [DEVICE, SECOND]) expect(await page.locator(`#all-cameras .bar[data-camera="${device}"] .span`).count(), device).toBeGreaterThan(0);
      // Its token form names the Secret it reads; its live grid plays cam1 (found from its EdgeDevice with the
      // Role of storage/playback-rbac.yaml, through the forwarders' NetworkPolicy), as an export pod's does.
      const session = (await (await fetch(`http://127.0.0.1:${localPort}/api/session`)).json()) as { tokenSecret?: string };
      expect(session.tokenSecret).toBe('shifu-rtsp-playback');
      const played = await pagePlaysLive(`http://127.0.0.1:${localPort}`, PLAYBACK_TOKEN, DEVICE);
      expect(played.mode).toBe('hls');
      expect(played.framesDecoded).toBeGreaterThan(25);
    } finally {
      forward.child?.kill('SIGTERM');
      await browser.close();
      await k.run(['-n', NS, 'delete', 'pod', 'shifu-rtsp-playback', '--ignore-not-found', '--wait=true']);
      await k.run(['-n', NS, 'delete', 'pvc', 'cam2-pvc', '--ignore-not-found', '--wait=true']);
      await k.run(['delete', 'pv', 'cam2-pv', '--ignore-not-found', '--wait=true']);
      await rm(secondDir, { recursive: true, force: true });
    }
  });

  it('7. a recorder SIGKILLed: the next start recovers and announces the orphan, then records on', async () => {
    const pod = readyPod(await pods(RECORDER));
    if (!pod) throw new Error('no running recorder container');
    const restarts = pod.status.containerStatuses?.[0]?.restartCount ?? 0;
    const pid = await containerPid(pod);
    const lastSeq = (await journal()).at(-1)?.sequence ?? 0;
    // Kill mid-segment, once the open file holds a few fragments (1 s GOP, ~25 kB/s of a ~100 kB segment), so
    // there is an orphan to recover; the size is read and the kill sent in one step.
    const openDir = path.join(hostDir, DEVICE, '.recording');
    const killedAt = await waitFor('the open segment half full', 60_000, async () => {
      for (let i = 0; i < 25; i++) {
        for (const f of await readdir(openDir)) {
          const size = (await stat(path.join(openDir, f)).catch(() => ({ size: 0 }))).size;
          if (size > 40_000 && size < 70_000) {
            process.kill(pid, 'SIGKILL');
            return Date.now();
          }
        }
        await new Promise((r) => setTimeout(r, 40));
      }
      return undefined;
    }, diag);
    const recovered = await waitFor('the orphan recovered and a new segment after it', 240_000, async () => {
      const j = (await journal()).filter((s) => s.sequence > lastSeq);
      const orphan = j.find((s) => s.recovered);
      return orphan && j.some((s) => s.sequence > orphan.sequence && !s.recovered) ? { orphan, next: j.find((s) => s.sequence > orphan.sequence && !s.recovered) } : undefined;
    }, diag);
    // The restarted container is Ready at its next readiness probe (every 10 s), which may come after the segment.
    const now = await waitFor('the restarted recorder Ready', 60_000, async () => readyPod(await pods(RECORDER)), diag);
    expect(now.status.containerStatuses?.[0]?.restartCount).toBeGreaterThan(restarts);
    const { orphan, next } = recovered;
    expect(await sha256File(segmentPath(orphan))).toBe(orphan.sha256);
    expect((await probeFile(segmentPath(orphan))).durationSeconds).toBeGreaterThan(0);
    // What was written up to the kill is kept: the orphan ends within a few GOPs of it.
    expect(Date.parse(orphan.endTime)).toBeGreaterThan(killedAt - 3_000);
    // Lost: only the restart gap, which the next segment reports.
    if (!next) throw new Error('unreachable');
    expect(next.gapBeforeSeconds).toBeGreaterThan(0);
    await waitFor('the orphan announced as recovered', 60_000, async () =>
      sink.events.some((e) => e.type === 'dev.shifu.rtsp.segment.finished.v1' && e.data['sequence'] === orphan.sequence && e.data['recovered'] === true),
    diag);
  });

  it("8. a recorder switched off through its own API (with its Deployment's token): control's status says so, from the recorder; on again", async () => {
    const pod = await waitFor('a ready recorder pod', 60_000, async () => readyPod(await pods(RECORDER)), diag);
    if (!pod.status.podIP) throw new Error(`recorder pod ${pod.metadata.name} has no address`);
    const recorderUrl = `http://${pod.status.podIP}:8080`;
    // The token is in a Secret the Deployment names (not in the Deployment, which `view` may read).
    const token = await recorderApiToken(`${DEVICE}-recorder`);
    const auth = { authorization: `Bearer ${token}` };
    const status = async (): Promise<ControlStatus> => (await getJson<ControlStatus>(`${controlUrl}/record/status?device=${DEVICE}`, controlAuth)).body;
    await waitFor('control reporting recording', 60_000, async () => (await status()).state === 'recording', diag);
    // Without the token the recorder refuses; with it, anyone who can read the Deployment switches it off.
    expect((await postJson(`${recorderUrl}/record/off`, {})).status).toBe(401);
    const off = await postJson(`${recorderUrl}/record/off`, {}, auth);
    expect(off.status, off.body).toBe(200);
    expect(JSON.parse(off.body)).toMatchObject({ state: 'idle', recording: false });
    const lastSeq = (await journal()).at(-1)?.sequence ?? 0;
    try {
      // Idle is what it was asked, so the pod stays Ready: only the recorder's own status shows it stopped.
      const seen = await waitFor("control's status not recording", 30_000, async () => {
        const s = await status();
        if (s.state === 'recording') throw new Error(`control still reports recording; detail.recorder ${JSON.stringify(s.detail.recorder)}, recorderError ${s.detail.recorderError}`);
        return s;
      }, diag);
      expect(seen).toMatchObject({ state: 'not-ready', detail: { recorder: { state: 'idle', recording: false } } });
      expect(seen.detail.recorderError).toBeUndefined();
      expect(readyPod(await pods(RECORDER))?.metadata.name).toBe(pod.metadata.name);
    } finally {
      // On again the same way, also after a failed check: the scenarios after need it recording.
      const on = await postJson(`${recorderUrl}/record/on`, {}, auth);
      expect(on.status, on.body).toBe(200);
      await waitFor('a segment after on', 60_000, async () => ((await journal()).at(-1)?.sequence ?? 0) > lastSeq, diag);
    }
    await waitFor('control reporting recording again, from the recorder', 60_000, async () => {
      const s = await status();
      return s.state === 'recording' && s.detail.recorder?.state === 'recording';
    }, diag);
  });

  it("9. 20 concurrent /record/on for 5 devices across control's 2 replicas make exactly 5 recorder Deployments; the logs name the revision", async () => {
    await makeDevices(BURST);
    const asks = Array.from({ length: 20 }, (_, i) => ({ device: BURST[i % BURST.length] ?? '', url: controlUrls[i % controlUrls.length] ?? '' }));
    const answers = await Promise.all(asks.map(async (a) => ({ ...a, ...(await postJson(`${a.url}/record/on`, { device: a.device }, controlAuth)) })));
    for (const a of answers) expect(a.status, `${a.device} via ${a.url}: ${a.body}`).toBeLessThan(300);
    expect(answers.filter((a) => a.status === 201).length).toBe(BURST.length);
    const made = await recorderDeployments();
    expect(made.filter((d) => BURST.some((b) => d === `${b}-recorder`)).sort()).toEqual(BURST.map((b) => `${b}-recorder`).sort());
    // Both replicas served some of them, and each one's log lines carry Knative's names for it.
    for (const control of (await pods('app.kubernetes.io/component=control')).filter((p) => readyPod([p]))) {
      const lines = (await k.run(['-n', NS, 'logs', control.metadata.name])).split('\n').filter((l) => l.includes('record on'));
      expect(lines.length, control.metadata.name).toBeGreaterThan(0);
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ kService: 'shifu-rtsp-control', kRevision: revision, kConfiguration: 'shifu-rtsp-control' });
    }
    for (const device of BURST) {
      const off = await postJson(`${controlUrl}/record/off`, { device }, controlAuth);
      expect(off.status, off.body).toBeLessThan(300);
    }
    await waitFor('the burst recorders gone', 120_000, async () => (await recorderDeployments()).every((d) => !BURST.some((b) => d === `${b}-recorder`)), diag);
  });

  it('10. a /record/on in flight when its control pod gets SIGTERM leaves the recorder Deployment whole or absent, and the retry succeeds', async () => {
    const device = 'term1';
    await makeDevices([device]);
    const name = `${device}-recorder`;
    // functions-framework exits at once on SIGTERM: the request is cut wherever it is. Three tries, the signal
    // sent 0, 15 and 40 ms after the request, each time to the other replica (the kubelet restarts it).
    // The containers signalled so far: a pod's Ready lags its container's exit by up to the kubelet's next look
    // (the probe runs every second), so "Ready" alone could pick the last victim as this try's survivor before
    // its new container listens (seen in CI: ECONNREFUSED on the retry 2 s in). Ready with a new container is.
    const signalled = new Set<string>();
    for (const [i, delayMs] of [0, 15, 40].entries()) {
      const replicas = await waitFor('2 control pods Ready, none of them running a signalled container', 180_000, async () => {
        const list = (await pods('app.kubernetes.io/component=control')).filter((p) => readyPod([p]) && !signalled.has(p.status.containerStatuses?.[0]?.containerID ?? ''));
        return list.length === 2 ? list : undefined;
      }, diag);
      const victim = replicas[i % 2];
      const survivor = replicas[(i + 1) % 2];
      if (!victim?.status.podIP || !survivor?.status.podIP) throw new Error('a control pod without an address');
      const pid = await containerPid(victim);
      signalled.add(victim.status.containerStatuses?.[0]?.containerID ?? '');
      const asked = postJson(`http://${victim.status.podIP}:8080/record/on`, { device }, controlAuth).catch((err: unknown) => ({ status: 0, body: String(err) }));
      await new Promise((r) => setTimeout(r, delayMs));
      process.kill(pid, 'SIGTERM');
      const answer = await asked;
      const found = await k.find<{ metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }> }>; volumes?: Array<{ persistentVolumeClaim?: { claimName: string } }> } } } }>(['-n', NS, 'get', 'deployment', name]);
      if (found) {
        // Whole: made by control, with its settings, the camera's address, the token and the device's volume.
        expect(found.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('shifu-rtsp-control');
        expect(found.metadata.annotations?.['shifu-rtsp/settings']).toBeTruthy();
        const env = found.spec.template.spec.containers[0]?.env ?? [];
        expect(env.find((e) => e.name === 'RTSP_URL')?.value).toMatch(/^rtsp:\/\//);
        expect(env.find((e) => e.name === 'RECORDER_API_TOKEN')?.valueFrom?.secretKeyRef?.name).toMatch(new RegExp(`^${device}-recorder-api-`));
        expect(found.spec.template.spec.volumes?.some((v) => v.persistentVolumeClaim?.claimName === `${device}-pvc`)).toBe(true);
      } else {
        // Cut before it answered (status 0: the connection closed) or refused: never a success without the Deployment.
        expect(answer.status === 0 || answer.status >= 300, `no Deployment, yet control answered ${answer.status} ${answer.body}`).toBe(true);
      }
      const retry = await postJson(`http://${survivor.status.podIP}:8080/record/on`, { device }, controlAuth);
      expect(retry.status, retry.body).toBeLessThan(300);
      expect((await recorderDeployments()).filter((d) => d === name)).toEqual([name]);
      // Whole after the retry: the token Secret the Deployment names exists too.
      expect((await recorderApiToken(name)).length).toBeGreaterThanOrEqual(32);
      const off = await postJson(`http://${survivor.status.podIP}:8080/record/off`, { device }, controlAuth);
      expect(off.status, off.body).toBeLessThan(300);
      await waitFor(`${name} and its pods gone`, 120_000, async () => !(await recorderDeployments()).includes(name) && (await pods(`shifu-rtsp/device=${device}`)).length === 0, diag);
    }
  });

  it("11. control scaled to 0 and back to 1, as Knative's autoscaler does: the recorder records on, and the next request is served", async () => {
    await k.run(['-n', NS, 'scale', 'deployment', 'shifu-rtsp-control', '--replicas=0']);
    await waitFor('no control pod', 120_000, async () => (await pods('app.kubernetes.io/component=control')).length === 0, diag);
    const lastSeq = (await journal()).at(-1)?.sequence ?? 0;
    await waitFor('segments while control is at zero', 60_000, async () => ((await journal()).at(-1)?.sequence ?? 0) >= lastSeq + 2, diag);
    await k.run(['-n', NS, 'scale', 'deployment', 'shifu-rtsp-control', '--replicas=1']);
    const control = await waitFor('a control pod Ready', 180_000, async () => readyPod(await pods('app.kubernetes.io/component=control')), diag);
    controlUrl = `http://${control.status.podIP}:8080`;
    controlUrls = [controlUrl];
    const status = await getJson<ControlStatus>(`${controlUrl}/record/status?device=${DEVICE}`, controlAuth);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ state: 'recording', detail: { recorder: { state: 'recording' } } });
    await removeDevices([...BURST, 'term1']);
  });

  it('11b. archive: control given a bucket on an S3 server in a pod makes recorders that upload each finished segment there with its sha256, the keys by reference only', async () => {
    const s3 = await deployClusterS3(k, NS, cluster.versitygwImage);
    const gateway = await waitFor('the S3 server pod Ready', 120_000, async () => readyPod(await pods('app.kubernetes.io/component=test-s3')), diag);
    const gatewayIp = gateway.status.podIP;
    if (!gatewayIp) throw new Error('the S3 server pod has no address');
    await s3.aws(gatewayIp, ['s3', 'mb', `s3://${S3_BUCKET}`]);
    // As knative/README.md says: control's settings change, then a recorder is switched off and on to take them.
    const off = await postJson(`${controlUrl}/record/off`, { device: DEVICE, wait: true }, controlAuth);
    expect(off.status, off.body).toBeLessThan(300);
    const before = (await pods('app.kubernetes.io/component=control')).map((p) => p.metadata.name);
    await k.run(['-n', NS, 'set', 'env', 'deployment/shifu-rtsp-control', `ARCHIVE_S3_ENDPOINT=${s3.inClusterEndpoint}`, `ARCHIVE_S3_BUCKET=${S3_BUCKET}`, 'ARCHIVE_S3_REGION=us-east-1', 'ARCHIVE_S3_FORCE_PATH_STYLE=true']);
    const control = await waitFor('control rolled out with the bucket', 180_000, async () => {
      const list = await pods('app.kubernetes.io/component=control');
      const ready = readyPod(list.filter((p) => !before.includes(p.metadata.name)));
      return ready && list.length === 1 ? ready : undefined;
    }, diag);
    controlUrl = `http://${control.status.podIP}:8080`;
    controlUrls = [controlUrl];
    const lastSeq = (await journal()).at(-1)?.sequence ?? 0;
    const on = await postJson(`${controlUrl}/record/on`, { device: DEVICE, segmentSeconds: SEGMENT_SECONDS }, controlAuth);
    expect(on.status, on.body).toBeLessThan(300);
    // The recorder's Deployment names the bucket and takes the keys from the operator's Secret by reference.
    const deployment = await k.run(['-n', NS, 'get', 'deployment', `${DEVICE}-recorder`, '-o', 'json']);
    const env = (JSON.parse(deployment) as { spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }> }> } } } }).spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'ARCHIVE_S3_BUCKET')?.value).toBe(S3_BUCKET);
    expect(env.find((e) => e.name === 'AWS_SECRET_ACCESS_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'shifu-rtsp-archive', key: 'secretAccessKey', optional: true });
    expect(deployment).not.toContain(s3.secretAccessKey);
    // Two segments recorded after the record-on are objects `<namespace>/<device>/<file name>` (the default prefix).
    const prefix = `${NS}/${DEVICE}/`;
    const archived = await waitFor('2 new segments in the bucket', 120_000, async () => {
      const fresh = (await journal()).filter((s) => s.sequence > lastSeq);
      const listed = JSON.parse((await s3.aws(gatewayIp, ['s3api', 'list-objects-v2', '--bucket', S3_BUCKET, '--prefix', prefix])) || '{}') as { Contents?: Array<{ Key: string; Size: number }> };
      const objects = new Map((listed.Contents ?? []).map((o) => [o.Key, o.Size]));
      const inBucket = fresh.filter((s) => objects.get(prefix + path.basename(s.file)) === s.bytes);
      return inBucket.length >= 2 ? inBucket : undefined;
    }, diag);
    const first = archived[0];
    if (!first) throw new Error('no archived segment');
    archivedInBucket = archived;
    clusterS3 = s3;
    const head = JSON.parse(await s3.aws(gatewayIp, ['s3api', 'head-object', '--bucket', S3_BUCKET, '--key', prefix + path.basename(first.file)])) as { Metadata?: Record<string, string> };
    expect(head.Metadata?.['sha256']).toBe(first.sha256);
    // Its state says where the footage goes; no key in its status or its log.
    const status = await getJson<{ detail: { recorder?: { archive?: { state: string; bucket: string } } } }>(`${controlUrl}/record/status?device=${DEVICE}`, controlAuth);
    expect(status.body.detail.recorder?.archive).toMatchObject({ state: 'archiving', bucket: S3_BUCKET });
    const log = await k.run(['-n', NS, 'logs', `deployment/${DEVICE}-recorder`]);
    expect(`${JSON.stringify(status.body)}\n${log}`).not.toContain(s3.secretAccessKey);
  });

  it('11c. storage/bucket-playback/: the playback Deployment, 2 replicas and no claim, lists cam1 from the bucket and plays a clip of an archived segment through kubectl port-forward', async () => {
    if (!archivedInBucket || !clusterS3) throw new Error('scenario 11b archived nothing');
    const archived = archivedInBucket;
    // storage/README.md's steps: the playback token (made in 6b, or here), the archive's endpoint and bucket.
    if ((await k.find(['-n', NS, 'get', 'secret', 'shifu-rtsp-playback'])) === undefined) {
      await k.run(['-n', NS, 'create', 'secret', 'generic', 'shifu-rtsp-playback', `--from-literal=token=${PLAYBACK_TOKEN}`]);
    }
    const folder = await userCopy('storage/bucket-playback', path.join(work, 'bucket-playback'), [
      ['http://minio.storage.svc:9000', clusterS3.inClusterEndpoint],
      ['value: shifu-rtsp-footage', `value: ${S3_BUCKET}`],
    ]);
    const forward: { child?: ReturnType<typeof spawn> } = {};
    try {
      await k.run(['apply', '-k', folder]);
      const selector = 'app.kubernetes.io/component=playback,shifu-rtsp/playback=bucket';
      const ready = await waitFor('2 bucket playback pods Ready', 120_000, async () => {
        const list = (await pods(selector)).filter((p) => readyPod([p]) !== undefined);
        return list.length === 2 ? list : undefined;
      }, diag);
      for (const p of ready) expect(p.spec.volumes?.some((v) => v.persistentVolumeClaim !== undefined), p.metadata.name).toBe(false);
      const localPort = await freeLoopbackPort();
      forward.child = spawn(cluster.kubectl, ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'port-forward', 'service/shifu-rtsp-playback-bucket', `${localPort}:9996`], { stdio: ['ignore', 'pipe', 'pipe'] });
      await waitFor('kubectl port-forward', 30_000, async () => (await fetch(`http://127.0.0.1:${localPort}/health`).then((r) => r.ok, () => false)) || undefined);
      const auth = { headers: { authorization: `Bearer ${PLAYBACK_TOKEN}` } };
      const devices = (await (await fetch(`http://127.0.0.1:${localPort}/api/devices`, auth)).json()) as { devices: Array<{ device: string; stored: string }> };
      expect(devices.devices).toContainEqual(expect.objectContaining({ device: DEVICE, stored: 'bucket' }));
      const first = archived[0]!;
      // The archive adds a segment to its day file up to a minute after its object (the timeline in the bucket,
      // functions/archive/README.md): playback lists and cuts it from then on.
      const window = `start=${first.startTime}&end=${first.endTime}`;
      await waitFor('the archived segment in the bucket timeline', 120_000, async () => {
        const timeline = (await (await fetch(`http://127.0.0.1:${localPort}/api/timeline?device=${DEVICE}&${window}`, auth)).json()) as { spans?: Array<{ segments: Array<{ file: string }> }> };
        return (timeline.spans ?? []).some((span) => span.segments.some((g) => g.file === path.basename(first.file))) || undefined;
      }, diag);
      const clip = await fetch(`http://127.0.0.1:${localPort}/api/clip?device=${DEVICE}&${window}`, auth);
      expect(clip.status, clip.status === 200 ? '' : await clip.text()).toBe(200);
      const file = path.join(work, 'bucket-clip.mp4');
      await writeFile(file, Buffer.from(await clip.arrayBuffer()));
      const probed = await probeFile(file);
      expect(probed.durationSeconds).toBeGreaterThan(first.durationSeconds - 1.5);
      // No key in the Deployment or the pods' logs.
      const deployment = await k.run(['-n', NS, 'get', 'deployment', 'shifu-rtsp-playback-bucket', '-o', 'json']);
      const logs = await k.run(['-n', NS, 'logs', '-l', selector, '--tail=-1']);
      expect(`${deployment}\n${logs}`).not.toContain(clusterS3.secretAccessKey);
    } finally {
      forward.child?.kill('SIGTERM');
      await k.run(['delete', '-k', folder, '--ignore-not-found', '--wait=true']);
    }
  });

  it('12. /record/off deletes the Deployment; the pod closes and journals its last segment inside the grace period', async () => {
    const lastSeq = (await journal()).at(-1)?.sequence ?? 0;
    const off = await postJson(`${controlUrl}/record/off`, { device: DEVICE, wait: true }, controlAuth);
    expect(off.status, off.body).toBeLessThan(300);
    await waitFor('the recorder pod gone', 120_000, async () => (await pods(RECORDER)).length === 0 && (await k.find(['-n', NS, 'get', 'deployment', `${DEVICE}-recorder`])) === undefined, diag);
    const j = await journal();
    const last = j.at(-1);
    if (!last) throw new Error('empty journal');
    expect(last.sequence).toBeGreaterThan(lastSeq);
    expect(last.recovered).toBe(false);
    expect(await sha256File(segmentPath(last))).toBe(last.sha256);
    const open = await readdir(path.join(hostDir, DEVICE, '.recording')).catch(() => []);
    expect(open).toEqual([]);
  });

  it('13. kubectl delete -k knative/ leaves the PV, the PVC and every file', async () => {
    const segments = await journal();
    await k.run(['delete', '-k', knativeDir, '--wait=true']);
    await k.run(['-n', NS, 'delete', 'deployment', 'shifu-rtsp-control', '--wait=true']);
    const pvc = await k.json<{ status: { phase?: string } }>(['-n', NS, 'get', 'pvc', `${DEVICE}-pvc`]);
    expect(pvc.status.phase).toBe('Bound');
    const pv = await k.json<{ status: { phase?: string } }>(['get', 'pv', `${DEVICE}-pv`]);
    expect(pv.status.phase).toBe('Bound');
    for (const s of segments) expect(await sha256File(segmentPath(s)), s.file).toBe(s.sha256);
  });
});
