// `npm run bench -- live-load`: the forwarder's CPU and memory per WebRTC viewer (issue 23's goal: at most 0.5 % of
// a core per H.264 viewer) of one 1080p camera (25 fps, 2 s GOP, 4 Mbit/s, H.264 + G.711), on the live rig
// (support/live-rig.ts). One werift viewer per forwarder holds the stream open from start to end, so that a level
// measures its viewers, not the stream's ffmpeg and camera session (the baseline level is that viewer alone).
// Levels: 1 and 5 Chromium pages, 5 Chromium viewers taking video only and video + G.711 (a peer connection of the
// bench's own), 25 and 5 werift WHEP clients (one process, test/e2e/fixtures/whep-client.ts) taking video, then video
// and G.711 as a browser does: the split of a browser viewer's cost. Each level is measured over BENCH_LIVE_WINDOW_S
// seconds (20); per viewer = (CPU(n) - CPU(baseline)) / n, what one more viewer of an open stream costs, for the
// forwarder with its ffmpeg and for Node alone; the baseline is the mean of its window first and one more last. BENCH_LIVE_PEER_CLI: another build's dist/functions/cli.js (main's, from a worktree of
// its own), run beside ours on the same camera, each level measured on both in turn: a before/after in one window.
// BENCH_LIVE_PROFILE=<dir>: our forwarder runs with `--cpu-prof --cpu-prof-dir <dir>` (written as it exits), and each
// window's start and end are noted on the profile's clock (CLOCK_MONOTONIC, microseconds), to read a level's samples
// alone. BENCH_LIVE_LEVELS=1,3: only those levels (numbered from 0, the baseline, which always runs).
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { keyLength, ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80, RtpHeader, saltLength, SrtpSession } from 'werift';
import { importSrtpKeys } from '../../functions/live/srtp-keys.js';
import { memoryMiB, processTree } from './forwarder-proxies.js';
import { firstFrame } from './live.js';
import { CLK_TCK, cpuTicks, loadAverage } from './support/procfs.js';
import { CLI } from './support/processes.js';
import { pinned, startRig, type ForwarderBuild, type LiveForwarder, type Rig, type RigCpus } from './support/live-rig.js';
import { envNumber, note, sleep } from './support/util.js';

const WINDOW_S = Math.max(5, envNumber('BENCH_LIVE_WINDOW_S', 20));
/** After the viewers play, before the window: the kept GOP's burst and ICE's first checks are over. */
const SETTLE_MS = 3000;
const WHEP_CLIENT = path.resolve(path.dirname(CLI), '../test/e2e/fixtures/whep-client.js');
/**
 * The forwarders on CPU 0, every viewer on CPU 1 (BENCH_LIVE_PIN=0: anywhere): a viewer sharing the forwarder's CPU
 * preempts it on every packet it is sent, which a browser on another machine never does (RigCpus).
 */
const CPUS: RigCpus | undefined = process.env.BENCH_LIVE_PIN === '0' || os.availableParallelism() < 2 ? undefined : { forwarders: '0', viewers: '1' };

/**
 * Who watches: Chromium's player page (video and G.711 audio), Chromium with a peer connection of the bench's own
 * taking video only or video and audio (to split a browser viewer's cost: its audio, and the page), werift clients
 * taking video only or both.
 */
type Viewer = 'chromium' | 'chromium-video' | 'chromium-av' | 'werift' | 'werift-av';
type Level = { readonly name: string; readonly viewers: number; readonly viewer: Viewer };
const ALL_LEVELS: readonly Level[] = [
  { name: 'baseline: the stream held open by one werift viewer', viewers: 0, viewer: 'werift' },
  { name: '1 Chromium viewer', viewers: 1, viewer: 'chromium' },
  { name: '5 Chromium viewers', viewers: 5, viewer: 'chromium' },
  { name: '5 Chromium viewers, video only', viewers: 5, viewer: 'chromium-video' },
  { name: '5 Chromium viewers, video + G.711 without the page', viewers: 5, viewer: 'chromium-av' },
  { name: '25 werift WHEP clients', viewers: 25, viewer: 'werift' },
  { name: '25 werift WHEP clients, video + G.711', viewers: 25, viewer: 'werift-av' },
  { name: '5 werift WHEP clients', viewers: 5, viewer: 'werift' },
  { name: '5 werift WHEP clients, video + G.711', viewers: 5, viewer: 'werift-av' },
];
const chosen = process.env.BENCH_LIVE_LEVELS?.split(',').map(Number);
const LEVELS = chosen ? ALL_LEVELS.filter((_, i) => i === 0 || chosen.includes(i)) : ALL_LEVELS;
/** The profile's clock: V8 stamps samples with CLOCK_MONOTONIC, as process.hrtime does. */
const monotonicUs = (): bigint => process.hrtime.bigint() / 1000n;

/**
 * In a page of the live port's origin: a WHEP viewer taking video (and audio, played muted, when `audio`) with a
 * peer connection of its own (not the player page's), resolved at its first decoded frame.
 */
const OWN_VIEWER = `async (whep, audio) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  if (audio) pc.addTransceiver('audio', { direction: 'recvonly' });
  const video = document.createElement('video');
  video.muted = true;
  document.body.append(video);
  const stream = new MediaStream();
  video.srcObject = stream;
  pc.addEventListener('track', (event) => { stream.addTrack(event.track); void video.play(); });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
  });
  const res = await fetch(whep, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
  if (res.status !== 201) throw new Error('WHEP answered ' + res.status + ': ' + await res.text());
  document.body.dataset.whep = res.headers.get('location') ?? '';
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  await new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
}`;

/** Ends a page's WHEP session with DELETE on its Location (`document.body.dataset.whep`). */
async function endSession(page: Page): Promise<void> {
  const status = await page.evaluate(`(async () => { const r = document.body.dataset.whep; return r ? (await fetch(r, { method: 'DELETE' })).status : 'no session'; })()`);
  if (status !== 200) note(`live-load: DELETE of a Chromium viewer's session answered ${String(status)}`);
}

interface Figures {
  /** % of a core: the forwarder with its ffmpeg, Node alone, and Node's time in the kernel (sending: sendmsg). */
  readonly tree: number;
  readonly node: number;
  readonly nodeSys: number;
  readonly mib: number;
  /** Video RTP packets per second the werift clients received (all together); NaN for Chromium. */
  readonly packetsPerS: number;
}

/** WHEP clients in the viewer namespace; resolves once `viewers` connected. */
async function whepClients(rig: Rig, f: LiveForwarder, viewers: number, media: 'video' | 'av' = 'video'): Promise<{ stop: () => Promise<void>; packets: () => number }> {
  const child = spawn('ip', ['netns', 'exec', rig.network.viewerNs, ...pinned(CPUS?.viewers), process.execPath, WHEP_CLIENT, f.base.replace(/\/$/, ''), String(viewers), media], { stdio: ['ignore', 'pipe', 'inherit'] });
  let packets = 0;
  let ready = 0;
  const want = 'connected';
  const up = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`whep-client exited (${code}) before its ${viewers} viewers were ${want}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('PACKETS ')) packets = Number(line.slice(8));
      if (line === `STATE ${want}` && (ready += 1) === viewers) resolve();
    });
  });
  try {
    await Promise.race([up, sleep(180_000).then(() => Promise.reject(new Error(`whep-client: ${ready} of ${viewers} ${want} within 180 s`)))]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  // SIGTERM: it ends its sessions (DELETE) and exits; SIGKILL if it has not within 10 s.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
  };
  return { stop, packets: () => packets };
}

/** utime + stime of each process of the forwarder's tree (Node and its ffmpeg), by pid. */
function treeTicks(root: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of processTree(root)) {
    const own = cpuTicks(pid)?.own;
    if (own !== undefined) out.set(pid, own);
  }
  return out;
}

/** utime + stime of the forwarder's Node process alone, and its stime. */
function nodeTicks(pid: number): { all: number; sys: number } {
  const ticks = cpuTicks(pid);
  if (!ticks) throw new Error(`the forwarder (pid ${pid}) is gone`);
  return { all: ticks.own, sys: ticks.sys };
}

async function measure(rig: Rig, f: LiveForwarder, level: Level): Promise<Figures> {
  const stops: Array<() => Promise<unknown>> = [];
  try {
    let packets = (): number => NaN;
    if (level.viewers === 0) {
      // The baseline: the viewer holding the stream open, alone.
    } else if (level.viewer === 'werift' || level.viewer === 'werift-av') {
      const clients = await whepClients(rig, f, level.viewers, level.viewer === 'werift-av' ? 'av' : 'video');
      stops.push(() => clients.stop());
      packets = clients.packets;
    } else {
      // One after another, as viewers come: five 1080p pages opened at once on a loaded 2-core machine time out.
      const pages: Page[] = [];
      // Each session ended with DELETE (its URL in the page, where the player page keeps it too), then the page
      // closed: a closed peer connection alone is sent to until ICE consent fails 30 s later, in the next level's window.
      stops.push(() => Promise.all(pages.map((p) => endSession(p).finally(() => p.close()))));
      for (let i = 0; i < level.viewers; i += 1) {
        const page = await rig.browser.newPage();
        pages.push(page);
        if (level.viewer === 'chromium') await firstFrame(page, `${f.base}?via=webrtc`, 'webrtc');
        else {
          await page.goto(new URL('/_live/players.js', f.base).href);
          await page.evaluate(`(${OWN_VIEWER})(${JSON.stringify(`${f.base}whep`)}, ${level.viewer === 'chromium-av'})`);
        }
      }
    }
    await sleep(SETTLE_MS);
    const [tree0, node0, packets0, start] = [treeTicks(f.pid), nodeTicks(f.pid), packets(), monotonicUs()];
    await sleep(WINDOW_S * 1000);
    const [tree1, node1, packets1] = [treeTicks(f.pid), nodeTicks(f.pid), packets()];
    if (process.env.BENCH_LIVE_PROFILE) note(`live-load: window of pid ${f.pid} at ${level.name}: ${start}-${monotonicUs()} us`);
    const share = (ticks: number): number => (100 * ticks) / CLK_TCK / WINDOW_S;
    // Per process: an ffmpeg of the level before, gone by the window's end, must not count against it.
    let tree = 0;
    for (const [pid, ticks] of tree1) tree += ticks - (tree0.get(pid) ?? 0);
    return { tree: share(tree), node: share(node1.all - node0.all), nodeSys: share(node1.sys - node0.sys), mib: memoryMiB(f.pid).mib, packetsPerS: (packets1 - packets0) / WINDOW_S };
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    // The viewers' sessions close (each ended with DELETE, or by the page's closing connection).
    await sleep(3000);
  }
}

/**
 * The floor werift sets: its SRTP encryption alone (what it does for every packet to every viewer, in JavaScript
 * calling node:crypto), CPU microseconds per 1200-byte packet, measured in this process in the same window.
 */
function srtpMicroseconds(profile: Parameters<typeof keyLength>[0], keysImported: boolean): number {
  const [key, salt] = [keyLength(profile), saltLength(profile)];
  const session = new SrtpSession({ profile, keys: { localMasterKey: randomBytes(key), localMasterSalt: randomBytes(salt), remoteMasterKey: randomBytes(key), remoteMasterSalt: randomBytes(salt) } });
  // As a live viewer's transport has it once connected (whep.ts), or as werift makes it.
  if (keysImported) importSrtpKeys({ srtp: session });
  const header = new RtpHeader({ payloadType: 96, ssrc: 1, sequenceNumber: 0, timestamp: 0 });
  const payload = randomBytes(1188);
  const packets = 20_000;
  const encrypt = (from: number): void => {
    for (let i = 0; i < packets; i += 1) {
      header.sequenceNumber = (from + i) & 0xffff;
      session.encrypt(payload, header);
    }
  };
  encrypt(0);
  const before = process.cpuUsage();
  encrypt(packets);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / packets;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

export async function run(): Promise<ReadonlyArray<Record<string, string | number>>> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const profile = process.env.BENCH_LIVE_PROFILE;
    const builds: ForwarderBuild[] = [{ cli: CLI, udpPorts: '8189-8219', ...(profile ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profile] } : {}) }];
    const peer = process.env.BENCH_LIVE_PEER_CLI;
    if (peer) builds.push({ cli: peer, udpPorts: '8220-8250' });
    const names = peer ? ['this build', 'peer build'] : ['this build'];
    const rig = await startRig({ video: 'h264', audio: 'pcma', width: 1920, height: 1080, fps: 25, gop: 50, bitrate: 4000 }, cleanups, builds, CPUS);
    // One werift viewer per forwarder holds its stream open throughout: the baseline, and no level opens the stream.
    for (const f of rig.forwarders) {
      const anchor = await whepClients(rig, f, 1);
      cleanups.push(() => anchor.stop());
    }
    const load = [loadAverage()];
    const figures = new Map<string, Figures[]>(names.map((n) => [n, []]));
    for (const level of LEVELS) {
      // Each level on each build in turn, so that both see the same machine.
      for (const [i, f] of rig.forwarders.entries()) {
        // A level that fails (a WHEP offer refused on a loaded machine) is tried once more, then left out as NaN.
        const once = (): Promise<Figures> => measure(rig, f, level);
        const got = await once().catch((err: unknown) => {
          note(`live-load: ${names[i]} at ${level.name}: ${err instanceof Error ? err.message : String(err)} (its log: ${f.log}); again`);
          return once().catch(() => ({ tree: NaN, node: NaN, nodeSys: NaN, mib: NaN, packetsPerS: NaN }));
        });
        figures.get(names[i]!)!.push(got);
      }
    }
    // The baseline once more at the end: one 20 s window of it moved every level's figure by its noise.
    for (const [i, f] of rig.forwarders.entries()) {
      const again = await measure(rig, f, LEVELS[0]!).catch(() => undefined);
      const first = figures.get(names[i]!)![0]!;
      if (again) figures.get(names[i]!)![0] = { tree: (first.tree + again.tree) / 2, node: (first.node + again.node) / 2, nodeSys: (first.nodeSys + again.nodeSys) / 2, mib: first.mib, packetsPerS: NaN };
    }
    load.push(loadAverage());
    const rows: Array<Record<string, string | number>> = [];
    for (const name of names) {
      const all = figures.get(name)!;
      const idle = all[0]!;
      for (const [i, level] of LEVELS.entries()) {
        const at = all[i]!;
        const perViewer = (cpu: number, base: number): string | number => (level.viewers === 0 ? '' : round((cpu - base) / level.viewers, 2));
        rows.push({
          build: name,
          level: level.name,
          'forwarder+ffmpeg CPU %': round(at.tree),
          'Node CPU %': round(at.node),
          'per viewer, forwarder+ffmpeg %': perViewer(at.tree, idle.tree),
          'per viewer, Node %': perViewer(at.node, idle.node),
          'per viewer, Node in the kernel %': perViewer(at.nodeSys, idle.nodeSys),
          'memory MiB': Math.round(at.mib),
          'video packets/s received': Number.isNaN(at.packetsPerS) ? '' : Math.round(at.packetsPerS),
        });
      }
    }
    // Per viewer, the packets a werift client received (video only: they take no audio).
    const videoOnly = LEVELS.findIndex((l) => l.viewer === 'werift' && l.viewers > 0);
    const rate = videoOnly < 0 ? NaN : figures.get(names[0]!)![videoOnly]!.packetsPerS / LEVELS[videoOnly]!.viewers;
    for (const [name, profile] of [['AEAD_AES_128_GCM', ProtectionProfileAeadAes128Gcm], ['AES_CM_128_HMAC_SHA1_80', ProtectionProfileAes128CmHmacSha1_80]] as const) {
      for (const imported of [false, true]) {
        const us = srtpMicroseconds(profile, imported);
        const build = `werift SRTP alone, ${name}${imported ? ', keys imported (srtp-keys.ts)' : ', keys as werift makes them'}`;
        rows.push({ build, level: `${round(us, 1)} us per packet`, 'per viewer, Node %': round((us * rate) / 1e4, 2), 'video packets/s received': Math.round(rate) });
      }
    }
    rows.push({ build: `load average ${load.join(' -> ')}`, level: `${WINDOW_S} s windows, ${CPUS ? `forwarders on CPU ${CPUS.forwarders}, viewers on CPU ${CPUS.viewers}` : 'CPUs shared'}` });
    return rows;
  } finally {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  }
}
