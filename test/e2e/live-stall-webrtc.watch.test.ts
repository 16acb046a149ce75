// A WebRTC viewer that stops reading (issue 23, "Bad input and load"): a WHEP client frozen with SIGSTOP
// answers no ICE consent check; the forwarder ends its session by itself (RFC 7675, about 30 s after the last
// answer), while a WHEP viewer beside it keeps receiving video. The camera and the forwarder in one network
// namespace, the two clients in another (10.250.0.0/16 only). A watch test: it waits out the consent expiry.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, startGstCamera, type GstCamera } from './fixtures/camera.js';
import { repoRoot, spawnForwarder, waitFor, type ForwarderProcess } from './forwarder-support.js';
import { createTestNetwork, type TestNetwork } from './support/netns.js';

const CLIENT = path.join(repoRoot, 'dist', 'test', 'e2e', 'fixtures', 'whep-client.js');
const cleanups: Array<() => Promise<unknown>> = [];
let network: TestNetwork;
let camera: GstCamera;
let forwarder: ForwarderProcess;
let live: string;

interface WhepClient {
  readonly child: ChildProcess;
  packets(): number;
  states(): readonly string[];
}

function startClient(): WhepClient {
  const child = spawn('ip', ['netns', 'exec', network.viewerNs, process.execPath, CLIENT, live], { stdio: ['ignore', 'pipe', 'pipe'] });
  let packets = 0;
  const states: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('PACKETS ')) packets = Number(line.slice(8));
    if (line.startsWith('STATE ')) states.push(line.slice(6));
  });
  cleanups.push(async () => {
    child.kill('SIGKILL');
  });
  return { child, packets: () => packets, states: () => states };
}

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'gst-camera']) requireTool(tool);
  network = createTestNetwork('rtm-lg');
  cleanups.push(async () => network.remove());
  execFileSync('ip', ['-n', network.viewerNs, 'route', 'add', 'default', 'via', network.cameraDirectAddress]);
  camera = await startGstCamera({ video: 'h264', audio: 'none', gop: 25, fps: 25, shared: true, netns: network.cameraNs, address: '127.0.0.1' });
  cleanups.push(() => camera.stop());
  const livePort = 20000 + Math.floor(Math.random() * 10000);
  forwarder = spawnForwarder(
    ['--upstream', `127.0.0.1:${camera.port}`, '--listen', `127.0.0.1:${livePort + 1}`, '--health-listen', '127.0.0.1:0', '--live-listen', `0.0.0.0:${livePort}`],
    { LIVE_WEBRTC_ADDRESSES: network.cameraDirectAddress, LIVE_WEBRTC_UDP_PORTS: '8189-8199' },
    network.cameraNs,
  );
  cleanups.push(() => forwarder.stop());
  await forwarder.ready();
  live = `http://${network.cameraDirectAddress}:${livePort}${camera.path}`;
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe('a WebRTC viewer that stops reading', () => {
  it('is ended by the forwarder on its own, while the viewer beside it keeps receiving video', async () => {
    const [normal, frozen] = [startClient(), startClient()];
    // 60 s: the first viewer opens the camera session and the forwarder's RTP source; a cold CI machine under a
    // load of 11 once took more than 30. What each client saw goes in the failure.
    await waitFor('both clients receiving video', () => normal.packets() > 50 && frozen.packets() > 50, 60_000).catch((err: unknown) => {
      const seen = (c: WhepClient): string => `${c.packets()} packets, states ${c.states().join(' > ') || 'none'}`;
      const log = forwarder.lines.slice(-8).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`${String(err)}: one client ${seen(normal)}; the other ${seen(frozen)}; the forwarder's last lines:\n${log}`);
    });
    frozen.child.kill('SIGSTOP');
    const closed = (): number => forwarder.lines.filter((l) => l.msg === 'whep session closed').length;
    await waitFor('the frozen viewer\'s session to end', () => closed() === 1, 90_000);
    expect(forwarder.lines.find((l) => l.msg === 'whep session closed')?.reason).toBe('connection failed');
    // The other viewer never noticed: its connection is up and its video still comes.
    const before = normal.packets();
    await waitFor('more video for the other viewer', () => normal.packets() > before + 50, 20_000);
    expect(normal.states().at(-1)).toBe('connected');
    expect(closed()).toBe(1);
  }, 180_000);
});
