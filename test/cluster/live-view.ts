// Live view on the cluster (issue 23): a pod that plays a forwarder's HLS through its Service, and the
// playback page's live grid in headless Chromium on this machine, through a kubectl port-forward (loopback).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { waitFor, type Kubectl } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
/** Waits until the Service's port connects (the network plugin admits a new pod a moment after it starts). */
const WAIT_FOR_TCP = "const n=require('node:net'),[h,p]=process.argv.slice(1),end=Date.now()+30000;(function t(){const s=n.connect(+p,h,()=>{s.destroy();process.exit(0)});s.on('error',()=>{s.destroy();if(Date.now()>end)process.exit(1);setTimeout(t,250)})})()";

export interface HlsPlayer {
  readonly namespace: string;
  readonly image: string;
  /** The playlist, `http://<service>:8889/<path>/index.m3u8`. */
  readonly url: string;
  /** LIVE_TOKEN, read by the pod from its environment (a test's own pod; the forwarder never puts it in argv). */
  readonly token: string;
  readonly pod: Record<string, unknown>;
  readonly container: Record<string, unknown>;
}

/** ffmpeg in a pod the forwarder's NetworkPolicy admits (a viewer) plays 50 frames of the HLS; its phase and log. */
export async function hlsFromPod(k: Kubectl, o: HlsPlayer, diag: () => Promise<string>): Promise<{ phase: string; logs: string }> {
  const name = 'player-hls';
  const host = new URL(o.url);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace, labels: { 'app.kubernetes.io/name': 'shifu-rtsp', 'app.kubernetes.io/component': 'test-player', 'shifu-rtsp/viewer': 'true' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      ...o.pod,
      containers: [{
        name: 'ffmpeg',
        image: o.image,
        ...o.container,
        env: [{ name: 'LIVE_TOKEN', value: o.token }],
        command: ['sh', '-c', `node -e "${WAIT_FOR_TCP}" ${host.hostname} ${host.port} && exec ffmpeg -hide_banner -nostats -headers "Authorization: Bearer $LIVE_TOKEN" -i '${o.url}' -frames:v 50 -f null -`],
      }],
    },
  };
  await k.run(['apply', '-f', '-'], JSON.stringify(pod));
  const phase = await waitFor(`${name} to finish`, 120_000, async () => {
    const p = await k.json<{ status: { phase?: string } }>(['-n', o.namespace, 'get', 'pod', name]);
    return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status.phase : undefined;
  }, diag);
  const logs = await k.run(['-n', o.namespace, 'logs', name]);
  await k.run(['-n', o.namespace, 'delete', 'pod', name, '--wait=false']);
  return { phase, logs };
}

/** The page at `site` (the playback token given once), its live grid over HLS: the device's tile plays. */
export async function pagePlaysLive(site: string, token: string, device: string): Promise<{ mode: string; framesDecoded: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-cluster-chromium-'));
  const browser = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${site}/?access_token=${token}`);
    await page.goto(`${site}/?live=hls`);
    const tile = `figure[data-device="${device}"]`;
    await page.waitForSelector(`${tile}[data-playing="hls"]`, { timeout: 60_000 });
    const frames = (): Promise<number> => page.evaluate(`document.querySelector('${tile} video').getVideoPlaybackQuality().totalVideoFrames`).then(Number);
    const first = await frames();
    await page.waitForFunction(`document.querySelector('${tile} video').getVideoPlaybackQuality().totalVideoFrames > ${first + 25}`, undefined, { timeout: 30_000 });
    return { mode: String(await page.getAttribute(tile, 'data-playing')), framesDecoded: await frames() };
  } finally {
    await browser.close();
    await rm(dir, { recursive: true, force: true });
  }
}
