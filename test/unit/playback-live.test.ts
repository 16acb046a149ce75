// The playback server's live proxy without a camera: where each device's live view is (PLAYBACK_LIVE_URLS,
// an EdgeDevice), what is sent on to the forwarder (its own token, never the page's), and the answers to bad
// requests, against a stand-in forwarder on loopback.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, parseConfig, type ProbeServer } from '../../functions/lib/index.js';
import { playbackOptions, staticLiveDirectory, startPlaybackServer, upstreamUrl } from '../../functions/playback/index.js';
import { liveCameraOf } from '../../functions/playback/live-edgedevices.js';

const LIVE_TOKEN = 'live-token-0123456789';
const PAGE_TOKEN = 'page-token-0123456789';

describe('PLAYBACK_LIVE_URLS', () => {
  it('maps devices to live URLs of a camera path; a bad entry stops start-up naming the variable', () => {
    const { config } = parseConfig(playbackOptions, [], { PLAYBACK_LIVE_URLS: 'cam1=http://127.0.0.1:8889/Streaming/Channels/101, cam2=http://10.0.0.2:8889/cam/realmonitor?channel=1&subtype=0' });
    expect(config.liveUrls?.map((c) => [c.device, c.base.href])).toEqual([
      ['cam1', 'http://127.0.0.1:8889/Streaming/Channels/101'],
      ['cam2', 'http://10.0.0.2:8889/cam/realmonitor?channel=1&subtype=0'],
    ]);
    for (const [bad, why] of [
      ['cam1=http://127.0.0.1:8889', /names no camera path/],
      ['Cam1=http://127.0.0.1:8889/s', /DEVICE=URL/],
      ['cam1=rtsp://127.0.0.1/s', /rtsp: is not http/],
      ['cam1=http://admin:pw@127.0.0.1:8889/s', /login/],
      ['cam1=http://a:1/s,cam1=http://b:1/s', /listed twice/],
    ] as const) {
      expect(() => parseConfig(playbackOptions, [], { PLAYBACK_LIVE_URLS: bad }), bad).toThrow(/PLAYBACK_LIVE_URLS/);
      expect(() => parseConfig(playbackOptions, [], { PLAYBACK_LIVE_URLS: bad }), bad).toThrow(why);
    }
  });
});

describe('PLAYBACK_TOKEN_SECRET', () => {
  it("takes the name of the token's Secret for the page's form; anything else stops start-up naming the variable", () => {
    expect(parseConfig(playbackOptions, [], { PLAYBACK_TOKEN_SECRET: 'shifu-rtsp-playback' }).config.tokenSecret).toBe('shifu-rtsp-playback');
    for (const bad of ['Camera1-playback', 'a b', '-x', 'x'.repeat(254), '<device>-playback']) {
      expect(() => parseConfig(playbackOptions, [], { PLAYBACK_TOKEN_SECRET: bad }), bad).toThrow(/PLAYBACK_TOKEN_SECRET.*Secret name/);
    }
  });
});

describe('an EdgeDevice as a live view', () => {
  const device = (customMetadata: Record<string, string> | undefined, protocol = 'TCP') => ({ metadata: { name: 'cam1' }, spec: { protocol, customMetadata } });
  it("is its forwarder Service's live port and the camera path; liveSubstreamPath wins over rtspPath", () => {
    expect(liveCameraOf(device({ rtspPath: '/Streaming/Channels/101' }), 'ns1')?.base.href).toBe('http://deviceshifu-cam1.ns1.svc.cluster.local:8889/Streaming/Channels/101');
    expect(liveCameraOf(device({ rtspPath: '/Streaming/Channels/101', liveSubstreamPath: 'Streaming/Channels/102' }), 'ns1')?.base.pathname).toBe('/Streaming/Channels/102');
    expect(liveCameraOf(device({ rtspPath: '/cam/realmonitor?channel=1&subtype=0' }), 'ns1')?.base.search).toBe('?channel=1&subtype=0');
    expect(liveCameraOf(device({ rtspPath: '/s' }, 'HTTP'), 'ns1')).toBeUndefined();
    expect(liveCameraOf(device(undefined), 'ns1')).toBeUndefined();
    expect(liveCameraOf(device({ rtspPath: 'rtsp://x@y/' }), 'ns1')).toBeUndefined();
  });
});

describe('the live proxy', () => {
  let forwarder: Server;
  let playback: ProbeServer;
  let site: string;
  let volume: string;
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    // A stand-in forwarder: answers like the live port, and 401 for /denied.
    forwarder = createServer((req, res) => {
      let body = '';
      req.on('data', (b: Buffer) => (body += b.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (req.url?.startsWith('/denied/')) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
        } else if (req.method === 'POST') {
          res.writeHead(201, { 'content-type': 'application/sdp', location: `/Streaming/Channels/101/whep/${'ab'.repeat(12)}?channel=1`, 'x-internal': 'yes' }).end('v=0 answer');
        } else res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-store' }).end('#EXTM3U\nseg-1.m4s\n');
      });
    });
    await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
    const port = (forwarder.address() as { port: number }).port;
    volume = await mkdtemp(path.join(os.tmpdir(), 'shifu-playback-live-'));
    const directory = staticLiveDirectory([
      { device: 'cam1', base: new URL(`http://127.0.0.1:${port}/Streaming/Channels/101?channel=1`) },
      { device: 'denied', base: new URL(`http://127.0.0.1:${port}/denied/s`) },
      // Nothing listens on port 9 of loopback here.
      { device: 'gone', base: new URL('http://127.0.0.1:9/s') },
    ]);
    playback = await startPlaybackServer(
      { root: volume, listen: { host: '127.0.0.1', port: 0 }, token: PAGE_TOKEN, maxClipSeconds: 60, ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', live: { directory, token: LIVE_TOKEN } },
      createLogger('test', 'silent'),
    );
    site = `http://127.0.0.1:${playback.port}`;
  });

  afterAll(async () => {
    await playback.close();
    await new Promise((resolve) => forwarder.close(resolve));
    await rm(volume, { recursive: true, force: true });
  });

  const asPage = { cookie: `shifu_rtsp_playback_token=${PAGE_TOKEN}` };

  it('lists the devices with live view, and sends a playlist request on with the live token, not the page token', async () => {
    expect((await fetch(`${site}/api/live`)).status).toBe(401);
    expect(await (await fetch(`${site}/api/live`, { headers: asPage })).json()).toEqual({
      devices: [
        { device: 'cam1', live: '/live/cam1/' },
        { device: 'denied', live: '/live/denied/' },
        { device: 'gone', live: '/live/gone/' },
      ],
    });
    const res = await fetch(`${site}/live/cam1/live.m3u8?viewer=v1&channel=9&access_token=${PAGE_TOKEN}`, { headers: asPage });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(await res.text()).toBe('#EXTM3U\nseg-1.m4s\n');
    const sent = seen.at(-1)!;
    // The camera's query from the directory (the page cannot pick another channel), the viewer from the page.
    expect(sent.url).toBe('/Streaming/Channels/101/live.m3u8?channel=1&viewer=v1');
    expect(sent.headers.authorization).toBe(`Bearer ${LIVE_TOKEN}`);
    expect(sent.headers.cookie).toBeUndefined();
    // LL-HLS: a blocking reload's parameters and a part pass too.
    expect((await fetch(`${site}/live/cam1/live.m3u8?viewer=v1&_HLS_msn=12&_HLS_part=3`, { headers: asPage })).status).toBe(200);
    expect(seen.at(-1)!.url).toBe('/Streaming/Channels/101/live.m3u8?channel=1&viewer=v1&_HLS_msn=12&_HLS_part=3');
    expect((await fetch(`${site}/live/cam1/part-12.3.m4s`, { headers: asPage })).status).toBe(200);
    expect(seen.at(-1)!.url).toBe('/Streaming/Channels/101/part-12.3.m4s?channel=1');
  });

  it('sends a WHEP offer on and gives back the session URL under /live/<device>/', async () => {
    const res = await fetch(`${site}/live/cam1/whep`, { method: 'POST', headers: { ...asPage, 'content-type': 'application/sdp' }, body: 'v=0 offer' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/live/cam1/whep/${'ab'.repeat(12)}`);
    expect(res.headers.get('x-internal')).toBeNull();
    expect(await res.text()).toBe('v=0 answer');
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/Streaming/Channels/101/whep?channel=1', body: 'v=0 offer' });
    const deleted = await fetch(`${site}/live/cam1/whep/${'ab'.repeat(12)}`, { method: 'DELETE', headers: asPage });
    expect(deleted.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', url: `/Streaming/Channels/101/whep/${'ab'.repeat(12)}?channel=1` });
  });

  it('answers bad requests with a 4xx naming the part at fault, and a forwarder it cannot use with 502', async () => {
    const status = async (url: string, init: RequestInit = {}): Promise<[number, string]> => {
      const res = await fetch(`${site}${url}`, { ...init, headers: { ...asPage, ...(init.headers as Record<string, string> | undefined) } });
      return [res.status, String(((await res.json()) as { message?: string }).message)];
    };
    expect(await status('/live/cam1/../../etc/passwd')).toEqual([404, expect.stringMatching(/^(no route|live: no live file)/)]);
    expect(await status('/live/cam1/secret.txt')).toEqual([404, expect.stringMatching(/^live: no live file "secret.txt"/)]);
    expect(await status('/live/Cam%201/index.m3u8')).toEqual([400, expect.stringMatching(/^device:/)]);
    expect(await status('/live/cam9/index.m3u8')).toEqual([404, expect.stringMatching(/^device: cam9 has no live view/)]);
    expect(await status('/live/cam1/index.m3u8', { method: 'POST' })).toEqual([405, expect.stringMatching(/^method: POST/)]);
    expect(await status('/live/cam1/whep', { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'x'.repeat(65 * 1024) })).toEqual([413, expect.stringMatching(/^body:/)]);
    expect(await status('/live/denied/index.m3u8')).toEqual([502, expect.stringMatching(/refused the live token \(PLAYBACK_LIVE_TOKEN/)]);
    expect(await status('/live/gone/index.m3u8')).toEqual([502, expect.stringMatching(/^live: cannot reach the live view of gone/)]);
    // None of it stopped the server.
    expect((await fetch(`${site}/health`)).status).toBe(200);
  });
});
