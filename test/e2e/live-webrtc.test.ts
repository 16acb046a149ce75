// Live view over WebRTC (WHEP, werift) in Chromium, with every ICE agent inside network namespaces this test
// makes: the camera and the forwarder in one, Chromium in another, joined by a veth (10.250.0.0/16). Nothing
// gathers or checks a candidate on the machine's own addresses.
import { execFileSync } from 'node:child_process';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, startGstCamera, type GstCamera, type GstCameraOptions } from './fixtures/camera.js';
import { runFfmpeg } from './fixtures/player.js';
import { spawnForwarder, waitFor, type ForwarderProcess } from './forwarder-support.js';
import { chromiumInNetns, CHROMIUM } from './support/chromium-netns.js';
import { createTestNetwork, type TestNetwork } from './support/netns.js';

const cleanups: Array<() => Promise<unknown>> = [];
let network: TestNetwork;
let camera: GstCamera;
let forwarder: ForwarderProcess;
let browser: BrowserContext;
/** The live port as the viewer namespace reaches it (the forwarder's namespace, through the direct veth). */
let live: string;
let rtsp: string;
/** The same live port from this (the host) namespace, through the camera namespace's host veth. */
let fromHost: string;

const count = (msg: string): number => forwarder.lines.filter((l) => l.msg === msg).length;

beforeAll(async () => {
  for (const tool of ['ffmpeg', 'gst-camera', CHROMIUM]) requireTool(tool);
  network = createTestNetwork();
  cleanups.push(async () => network.remove());
  // Chromium gathers no candidate without a default route (issue 23's measurement): one through the direct veth.
  execFileSync('ip', ['-n', network.viewerNs, 'route', 'add', 'default', 'via', network.cameraDirectAddress]);
  camera = await startGstCamera({ video: 'h264', audio: 'pcma', gop: 25, fps: 25, shared: true, maxSessions: 1, netns: network.cameraNs, address: '127.0.0.1' });
  cleanups.push(() => camera.stop());
  const livePort = 20000 + Math.floor(Math.random() * 10000);
  const rtspPort = livePort + 1;
  forwarder = spawnForwarder(
    ['--upstream', `127.0.0.1:${camera.port}`, '--listen', `0.0.0.0:${rtspPort}`, '--health-listen', '127.0.0.1:0', '--live-listen', `0.0.0.0:${livePort}`, '--linger', '2'],
    { LIVE_WEBRTC_ADDRESSES: network.cameraDirectAddress, LIVE_WEBRTC_UDP_PORTS: '8189-8199' },
    network.cameraNs,
  );
  cleanups.push(() => forwarder.stop());
  await forwarder.ready();
  live = `http://${network.cameraDirectAddress}:${livePort}${camera.path}`;
  fromHost = `http://${network.cameraAddress}:${livePort}${camera.path}`;
  rtsp = `rtsp://${network.cameraDirectAddress}:${rtspPort}${camera.path}`;

  // Chromium itself in the viewer namespace.
  const chromium = await chromiumInNetns(network.viewerNs);
  browser = chromium.browser;
  cleanups.push(chromium.close);
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** Another camera with its own forwarder in the same namespace, on UDP ports of its own; its live URL and the forwarder. */
async function rig(options: GstCameraOptions, udpPorts: string): Promise<{ url: string; forwarder: ForwarderProcess }> {
  const cam = await startGstCamera({ ...options, shared: true, netns: network.cameraNs, address: '127.0.0.1' });
  cleanups.push(() => cam.stop());
  const livePort = 20000 + Math.floor(Math.random() * 10000);
  const f = spawnForwarder(
    ['--upstream', `127.0.0.1:${cam.port}`, '--listen', `127.0.0.1:${livePort + 1}`, '--health-listen', '127.0.0.1:0', '--live-listen', `0.0.0.0:${livePort}`],
    { LIVE_WEBRTC_ADDRESSES: network.cameraDirectAddress, LIVE_WEBRTC_UDP_PORTS: udpPorts },
    network.cameraNs,
  );
  cleanups.push(() => f.stop());
  await f.ready();
  return { url: `http://${network.cameraDirectAddress}:${livePort}${cam.path}`, forwarder: f };
}

describe('live view over WebRTC (WHEP) in Chromium, inside network namespaces', () => {
  it('two pages play over WebRTC (clock runs, frames decoded) while an RTSP viewer plays a camera that allows one session', async () => {
    const rtspViewer = runFfmpeg(['-rtsp_transport', 'tcp', '-i', rtsp, '-map', '0:v:0', '-frames:v', '150', '-f', 'null', '-'], { netns: network.viewerNs });
    const pages = await Promise.all([browser.newPage(), browser.newPage()]);
    await Promise.all(pages.map((p) => p.goto(`${live}/?via=webrtc`)));
    for (const page of pages) {
      await page.waitForSelector('body[data-playing="webrtc"]', { timeout: 30_000 });
      const start = Number(await page.evaluate('document.querySelector("video").currentTime'));
      // Strings, not functions: they run in the page, and this file is compiled without DOM types.
      await page.waitForFunction(`document.querySelector('video').currentTime > ${start + 2}`, undefined, { timeout: 30_000 });
      expect(Number(await page.evaluate('document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames'))).toBeGreaterThan(25);
    }
    // H.264 and G.711 (A-law here) as the camera sends them: no transcoding, and audio arrives too.
    const received = (await pages[0]!.evaluate(`(async () => {
      const out = { codecs: [], audioPackets: 0, srtpCiphers: [] };
      (await window.livePeer.getStats()).forEach((r) => {
        if (r.type === 'codec') out.codecs.push(r.mimeType);
        if (r.type === 'inbound-rtp' && r.kind === 'audio') out.audioPackets = r.packetsReceived;
        if (r.type === 'transport') out.srtpCiphers.push(r.srtpCipher);
      });
      return out;
    })()`)) as { codecs: string[]; audioPackets: number; srtpCiphers: string[] };
    expect(received.codecs.sort()).toEqual(['audio/PCMA', 'video/H264']);
    expect(received.audioPackets).toBeGreaterThan(0);
    // AES-GCM SRTP (Chromium's name for it), which werift encrypts with one cipher a packet, where AES-CM + HMAC-SHA1 takes two (the
    // forwarder's CPU per viewer: functions/live/README.md, "Measured").
    expect(received.srtpCiphers).toEqual(['SRTP_AEAD_AES_128_GCM']);
    // The answer keeps NACK and PLI but no bandwidth-estimation feedback (REMB, transport-cc): a camera's bitrate
    // cannot follow it, and Chromium would send REMB several times a second for werift to decrypt.
    const feedback = String(await pages[0]!.evaluate('livePeer.remoteDescription.sdp')).match(/^a=rtcp-fb:\S+ .*$/gm)?.map((l) => l.replace(/^a=rtcp-fb:\S+ /, '').trim());
    expect(feedback).toContain('nack');
    expect(feedback).toContain('nack pli');
    expect(feedback?.filter((f) => f === 'goog-remb' || f === 'transport-cc')).toEqual([]);
    // G.711 in 40 ms packets (two of the camera's 20 ms joined), and Chromium decodes every sample of them: 320
    // samples (8 kHz) decoded, not concealed, per packet received over 50 packets.
    const audio = async (): Promise<{ packets: number; decoded: number }> =>
      (await pages[0]!.evaluate(`(async () => {
        let out = { packets: 0, decoded: 0 };
        (await window.livePeer.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'audio') out = { packets: r.packetsReceived, decoded: r.totalSamplesReceived - r.concealedSamples };
        });
        return out;
      })()`)) as { packets: number; decoded: number };
    const before = await audio();
    let after = before;
    while (after.packets < before.packets + 50) after = await new Promise((resolve) => setTimeout(resolve, 250)).then(audio);
    expect((after.decoded - before.decoded) / (after.packets - before.packets)).toBeGreaterThan(280);
    expect((after.decoded - before.decoded) / (after.packets - before.packets)).toBeLessThan(360);
    const r = await rtspViewer;
    expect(r.code, r.stderr).toBe(0);
    expect(count('camera session opened')).toBe(1);

    // DELETE on the session's Location ends it.
    const resource = String(await pages[0]!.evaluate('document.body.dataset.whep'));
    expect(resource).toMatch(/^\/stream\/whep\/[0-9a-f]{24}$/);
    const deleted = await fetch(new URL(resource, fromHost), { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    await waitFor('the session to close', () => forwarder.lines.some((l) => l.msg === 'whep session closed' && l.reason === 'deleted by the viewer'));
    for (const page of pages) await page.close();
  });

  it('an H.265 + AAC camera plays over WebRTC (H.264 and Opus, each encoded once) and over HLS (H.264 + AAC)', async () => {
    const { url } = await rig({ video: 'h265', audio: 'aac', gop: 25, fps: 25 }, '8200-8210');
    const [webrtc, hls] = await Promise.all([browser.newPage(), browser.newPage()]);
    await Promise.all([webrtc.goto(`${url}/?via=webrtc`), hls.goto(`${url}/?via=hls`)]);
    for (const [page, mode] of [[webrtc, 'webrtc'], [hls, 'hls']] as const) {
      await page.waitForSelector(`body[data-playing="${mode}"]`, { timeout: 45_000 });
      const start = Number(await page.evaluate('document.querySelector("video").currentTime'));
      await page.waitForFunction(`document.querySelector('video').currentTime > ${start + 2}`, undefined, { timeout: 30_000 });
      expect(Number(await page.evaluate('document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames')), mode).toBeGreaterThan(25);
    }
    // AAC is no WebRTC codec: the page gets it as Opus, and its packets arrive.
    const received = (await webrtc.evaluate(`(async () => {
      const out = { codecs: [], audioPackets: 0 };
      (await window.livePeer.getStats()).forEach((r) => {
        if (r.type === 'codec') out.codecs.push(r.mimeType);
        if (r.type === 'inbound-rtp' && r.kind === 'audio') out.audioPackets = r.packetsReceived;
      });
      return out;
    })()`)) as { codecs: string[]; audioPackets: number };
    expect(received.codecs.sort()).toEqual(['audio/opus', 'video/H264']);
    expect(received.audioPackets).toBeGreaterThan(0);
    await Promise.all([webrtc.close(), hls.close()]);
  });

  it("starts from the GOP the stream kept: pages play at once though the camera's next keyframe is 100 s away", async () => {
    // One keyframe at the start of the camera session, the next 100 s later: a viewer that waited for a keyframe
    // after its connection came up (as before) would show nothing for 100 s.
    const { url: live, forwarder: f } = await rig({ video: 'h264', audio: 'pcma', gop: 2500, fps: 25, width: 320, height: 240, bitrate: 300 }, '8211-8215');
    const url = `${live}/?via=webrtc`;
    // The first page opens the stream; the second joins it a few seconds into the GOP.
    const first = await browser.newPage();
    await first.goto(url);
    await first.waitForFunction(`document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames > 50`, undefined, { timeout: 45_000 });
    const second = await browser.newPage();
    await second.goto(url);
    await second.waitForSelector('body[data-playing="webrtc"]', { timeout: 45_000 });
    const start = Number(await second.evaluate('document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames'));
    await second.waitForFunction(`document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames > ${start + 25}`, undefined, { timeout: 45_000 });
    // One keyframe decoded: both started from the kept one, not a later one.
    const keyframes = Number(await second.evaluate(`(async () => { let n = 0; (await window.livePeer.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n = r.keyFramesDecoded; }); return n; })()`));
    expect(keyframes).toBe(1);
    expect(f.lines.filter((l) => l.msg === 'camera session opened')).toHaveLength(1);
    await Promise.all([first.close(), second.close()]);
  });

  it('refuses an offer without video, with no codec in common, over 64 KiB or not SDP, naming the reason', async () => {
    const post = (body: string, type = 'application/sdp') => fetch(`${fromHost}/whep`, { method: 'POST', headers: { 'content-type': type }, body });
    const session = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n';
    const audioOnly = await post(`${session}m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n`);
    expect(audioOnly.status, await audioOnly.clone().text()).toBe(400);
    expect(await audioOnly.text()).toMatch(/offer: no video/);
    const vp8 = await post(`${session}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n`);
    expect(vp8.status).toBe(400);
    expect(await vp8.text()).toMatch(/no codec in common: live view sends H264, the offer has VP8/);
    const huge = await post(`${session}${'a=x\r\n'.repeat(14_000)}`);
    expect(huge.status).toBe(413);
    const json = await post('{}', 'application/json');
    expect(json.status).toBe(415);
    const unknown = await fetch(`${fromHost}/whep/${'0'.repeat(24)}`, { method: 'DELETE' });
    expect(unknown.status).toBe(404);
  });
});
