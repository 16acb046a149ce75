// The live benches' rig (test/bench/live.ts, live-load.ts): a GStreamer camera and forwarders in one network
// namespace, headless Chromium (Debian's, through playwright-core) in another with a default route through the
// veth between them, so every ICE agent gathers and checks only 10.250.0.0/16 addresses.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startGstCamera, type GstCameraOptions } from '../../e2e/fixtures/camera.js';
import { createTestNetwork, type TestNetwork } from '../../e2e/support/netns.js';
import { CLI } from './processes.js';
import { sleep } from './util.js';

const CHROMIUM = '/usr/bin/chromium';

/** A forwarder to start: its build's cli.js, its WebRTC UDP ports, and extra Node flags (`--cpu-prof`). */
export interface ForwarderBuild {
  readonly cli: string;
  readonly udpPorts: string;
  readonly nodeFlags?: readonly string[];
}

/**
 * CPUs (taskset lists) for the forwarders and for the viewers (Chromium, WHEP clients), when they must not share
 * one: a packet the forwarder sends on the veth wakes its receiver in that sendmsg, and a receiver on the same CPU
 * preempts the forwarder at once, costing it a context switch a packet that a viewer on another machine never does
 * (functions/live/README.md, "What a Chromium viewer takes beyond a werift client").
 */
export interface RigCpus {
  readonly forwarders: string;
  readonly viewers: string;
}

/** `taskset -c <cpus>` before a command run by `ip netns exec`, or nothing. */
export const pinned = (cpus: string | undefined): string[] => (cpus ? ['taskset', '-c', cpus] : []);

export interface LiveForwarder {
  /** The camera's live URL (trailing slash) as Chromium and WHEP clients in the viewer namespace reach it. */
  readonly base: string;
  readonly pid: number;
  /** Its log file (LOG_LEVEL=warn), in the rig's directory: BENCH_LIVE_KEEP=1 keeps it. */
  readonly log: string;
}

export interface Rig {
  readonly network: TestNetwork;
  readonly forwarders: readonly LiveForwarder[];
  readonly browser: BrowserContext;
}

async function startForwarder(dir: string, network: TestNetwork, cameraPort: number, cameraPath: string, build: ForwarderBuild, cleanups: Array<() => Promise<unknown>>, cpus: string | undefined): Promise<LiveForwarder> {
  const livePort = 20000 + Math.floor(Math.random() * 10000);
  const node = [...(build.nodeFlags ?? []), build.cli];
  // Its log (warnings and errors), kept for a level that fails: `forwarder-<port>.log` in the rig's directory.
  const log = openSync(path.join(dir, `forwarder-${livePort}.log`), 'w');
  const forwarder = spawn('ip', ['netns', 'exec', network.cameraNs, ...pinned(cpus), process.execPath, ...node, 'forwarder', '--upstream', `127.0.0.1:${cameraPort}`, '--listen', `127.0.0.1:${livePort + 1}`, '--health-listen', '127.0.0.1:0', '--live-listen', `0.0.0.0:${livePort}`], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', LIVE_WEBRTC_ADDRESSES: network.cameraDirectAddress, LIVE_WEBRTC_UDP_PORTS: build.udpPorts },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => forwarder.once('exit', () => resolve()));
  // SIGTERM, and its exit awaited: a profiled forwarder writes its profile as it exits.
  cleanups.push(async () => {
    forwarder.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
  });
  // Up once its live port answers (a loaded machine takes seconds to start Node); asked over the host's own link
  // to the namespace, while Chromium uses the viewer's.
  const fromHost = `http://${network.cameraAddress}:${livePort}${cameraPath}/`;
  for (const deadline = Date.now() + 30_000; ; await sleep(200)) {
    const up = await fetch(fromHost).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline) throw new Error(`the forwarder's live port ${fromHost} did not answer within 30 s`);
  }
  return { base: `http://${network.cameraDirectAddress}:${livePort}${cameraPath}/`, pid: forwarder.pid ?? 0, log: path.join(dir, `forwarder-${livePort}.log`) };
}

/**
 * One camera, a forwarder per build (all reading that camera), and Chromium; `cleanups` undoes it, last first.
 * `cpus`: the forwarders (and the ffmpegs they start) on some CPUs, Chromium on others.
 */
export async function startRig(camera: GstCameraOptions, cleanups: Array<() => Promise<unknown>>, builds: readonly ForwarderBuild[] = [{ cli: CLI, udpPorts: '8189-8219' }], cpus?: RigCpus): Promise<Rig> {
  const network = createTestNetwork();
  cleanups.push(async () => network.remove());
  execFileSync('ip', ['-n', network.viewerNs, 'route', 'add', 'default', 'via', network.cameraDirectAddress]);
  const cam = await startGstCamera({ ...camera, shared: true, netns: network.cameraNs, address: '127.0.0.1' });
  cleanups.push(() => cam.stop());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-live-'));
  cleanups.push(() => (process.env.BENCH_LIVE_KEEP ? Promise.resolve() : rm(dir, { recursive: true, force: true })));
  const forwarders: LiveForwarder[] = [];
  for (const build of builds) forwarders.push(await startForwarder(dir, network, cam.port, cam.path, build, cleanups, cpus?.forwarders));
  const wrapper = path.join(dir, 'chromium-in-netns');
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${network.viewerNs} ${[...pinned(cpus?.viewers), CHROMIUM].join(' ')} "$@"\n`);
  await chmod(wrapper, 0o755);
  const browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: wrapper,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required', '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
  cleanups.push(() => browser.close());
  return { network, forwarders, browser };
}
