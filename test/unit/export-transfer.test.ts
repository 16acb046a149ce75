// Export over HTTP against the real playback server (in this process, on a scratch volume), with a TCP proxy
// that can drop the connection mid-file.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { exportSegments, ExportError, httpSource, podProxySource, serverSegments, type FootageSource } from '../../functions/export/index.js';
import { createLogger, type ProbeServer } from '../../functions/lib/index.js';
import { startPlaybackServer } from '../../functions/playback/index.js';
import { journalPathOf, type Segment } from '../../functions/contracts/index.js';
import { segmentFixture } from '../support/segment.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const device = 'cam1';
const names = ['cam1_20261124T100000Z.mp4', 'cam1_20261124T110000Z.mp4', 'cam1_20261124T120000Z.mp4'];

let volume: string;
let to: string;
let server: ProbeServer;
let proxy: net.Server;
let proxyPort: number;
/** Drop the next connection after this many bytes from the server (a dropped network link). */
let cutAfter: number | undefined;
const data = new Map<string, Buffer>();

async function writeVolume(): Promise<void> {
  await rm(path.join(volume, device), { recursive: true, force: true });
  await mkdir(path.join(volume, device, '.recording'), { recursive: true });
  await mkdir(path.dirname(journalPathOf(volume, device)), { recursive: true });
  const journal: Segment[] = [];
  for (const [i, name] of names.entries()) {
    const bytes = randomBytes(200_000 + i * 150_000);
    data.set(name, bytes);
    const segment = segmentFixture({ device, start: `2026-11-24T1${i}:00:00.000Z`, seconds: 3599, root: volume }, { sequence: i + 1, bytes: bytes.length, sha256: sha256(bytes) });
    expect(path.basename(segment.absolutePath)).toBe(name);
    await writeFile(segment.absolutePath, bytes);
    journal.push(segment);
  }
  // ffmpeg's open file: never exported.
  await writeFile(path.join(volume, device, '.recording', 'cam1_20261124T130000Z.mp4'), 'open');
  await writeFile(journalPathOf(volume, device), journal.map((s) => `${JSON.stringify(s)}\n`).join(''));
}

beforeAll(async () => {
  volume = await mkdtemp(path.join(os.tmpdir(), 'shifu-export-volume-'));
  server = await startPlaybackServer(
    { root: volume, listen: { host: '127.0.0.1', port: 0 }, token: undefined, maxClipSeconds: 3600, ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' },
    createLogger('test', 'silent'),
  );
  proxy = net.createServer((client) => {
    const upstream = net.connect(server.port, '127.0.0.1');
    client.pipe(upstream);
    // Counted from when the test arms it, on whichever (kept-alive) connection carries the next bytes.
    upstream.on('data', (chunk: Buffer) => {
      if (cutAfter !== undefined && chunk.length >= cutAfter) {
        // The bytes before the cut arrive, then the connection ends mid-body, as when a link drops after them.
        client.end(chunk.subarray(0, cutAfter));
        cutAfter = undefined;
        upstream.destroy();
        return;
      }
      if (cutAfter !== undefined) cutAfter -= chunk.length;
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = (proxy.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await server.close();
  await rm(volume, { recursive: true, force: true });
});

/** Every GET the export sends, with its headers; `before` runs first (e.g. retention deleting a file). */
const requests: Array<{ route: string; headers: Readonly<Record<string, string>> }> = [];
let before: ((route: string) => Promise<void>) | undefined;
function source(): FootageSource {
  const real = httpSource(new URL(`http://127.0.0.1:${proxyPort}`));
  return {
    description: real.description,
    async get(route, headers = {}) {
      requests.push({ route, headers });
      await before?.(route);
      return real.get(route, headers);
    },
  };
}

beforeEach(async () => {
  await writeVolume();
  to = await mkdtemp(path.join(os.tmpdir(), 'shifu-export-'));
  requests.length = 0;
  before = undefined;
  cutAfter = undefined;
});
afterEach(async () => {
  await rm(to, { recursive: true, force: true });
});

const run = (extra: { attempts?: number; since?: Date; device?: string } = {}) =>
  exportSegments({
    device: extra.device ?? device,
    to,
    window: extra.since ? { since: extra.since } : {},
    source: serverSegments(source()),
    progress: null,
    ...(extra.attempts !== undefined ? { attempts: extra.attempts } : {}),
  });
const fileRequests = () => requests.filter((r) => r.route.startsWith('/files/'));

describe('export over HTTP: copy, check, resume', () => {
  it('copies every finished segment (not the open one), checks it against the journal, and a re-run copies nothing', async () => {
    const first = await run();
    expect(first.files.map((f) => [f.name, f.outcome])).toEqual(names.map((n) => [n, 'copied']));
    expect(first.failed).toBe(0);
    for (const n of names) expect(await readFile(path.join(to, device, n))).toEqual(data.get(n));
    expect((await readdir(path.join(to, device))).sort()).toEqual(['.shifu-rtsp-export.json', ...names]);

    requests.length = 0;
    const second = await run();
    expect(second.files.map((f) => f.outcome)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(second.bytesCopied).toBe(0);
    expect(fileRequests()).toHaveLength(0);
  });

  it('continues a copy cut by a dropped connection from its last byte (Range + If-Range on the sha256 ETag)', async () => {
    before = async (route) => {
      if (route.endsWith(names[1]!)) cutAfter = 120_000;
    };
    const cut = await run({ attempts: 1 });
    expect(cut.files.map((f) => f.outcome)).toEqual(['copied', 'failed', 'copied']);
    const partial = await readFile(path.join(to, device, `${names[1]}.partial`));
    expect(partial.length).toBeGreaterThan(50_000);
    expect(partial.equals(data.get(names[1]!)!.subarray(0, partial.length))).toBe(true);

    before = undefined;
    requests.length = 0;
    const resumed = await run();
    expect(resumed.files.map((f) => f.outcome)).toEqual(['skipped', 'resumed', 'skipped']);
    expect(fileRequests()).toEqual([{ route: `/files/cam1/${names[1]}`, headers: { range: `bytes=${partial.length}-`, 'if-range': `"${sha256(data.get(names[1]!)!)}"` } }]);
    expect(resumed.bytesCopied).toBe(data.get(names[1]!)!.length - partial.length);
    for (const n of names) expect(await readFile(path.join(to, device, n))).toEqual(data.get(n));
    expect(await readdir(path.join(to, device))).not.toContain(`${names[1]}.partial`);
  });

  it('retries within one run after a dropped connection', async () => {
    before = async (route) => {
      if (route.endsWith(names[0]!) && fileRequests().length === 1) cutAfter = 50_000;
    };
    const report = await run();
    expect(report.files.map((f) => f.outcome)).toEqual(['resumed', 'copied', 'copied']);
    expect(await readFile(path.join(to, device, names[0]!))).toEqual(data.get(names[0]!));
  });

  it('refuses a file whose sha256 differs from the journal and keeps nothing of it', async () => {
    const n = names[2]!;
    await writeFile(path.join(volume, device, n), Buffer.alloc(data.get(n)!.length, 0x55));
    const report = await run();
    expect(report.files[2]).toMatchObject({ outcome: 'failed', detail: expect.stringMatching(/sha256 .* differs from the journal/) });
    expect(report.failed).toBe(1);
    expect(await readdir(path.join(to, device))).not.toContain(n);
    expect(await readdir(path.join(to, device))).not.toContain(`${n}.partial`);
  });

  it('hashes a same-size local copy it has not verified, and fetches it again when it differs', async () => {
    await run();
    const n = names[0]!;
    await writeFile(path.join(to, device, n), Buffer.alloc(data.get(n)!.length, 9));
    await rm(path.join(to, device, '.shifu-rtsp-export.json'));
    const report = await run();
    expect(report.files.map((f) => f.outcome)).toEqual(['copied', 'verified', 'verified']);
    expect(await readFile(path.join(to, device, n))).toEqual(data.get(n));
  });

  it('reports a file deleted on the volume after the timeline listed it', async () => {
    before = async (route) => {
      if (route.endsWith(names[1]!)) await rm(path.join(volume, device, names[1]!));
    };
    const report = await run();
    expect(report.files[1]).toMatchObject({ outcome: 'failed', detail: expect.stringContaining('gone from the volume') });
    expect(report.files.filter((f) => f.outcome === 'copied')).toHaveLength(2);
  });

  it('copies only segments that overlap the window', async () => {
    const report = await run({ since: new Date('2026-11-24T11:30:00Z') });
    expect(report.files.map((f) => f.name)).toEqual([names[1], names[2]]);
    expect(requests[0]?.route.startsWith('/api/timeline?device=cam1&start=2026-11-24T11%3A30%3A00.000Z&end=')).toBe(true);
  });

  it('says so when the server has no recordings of the device', async () => {
    await expect(run({ device: 'cam9' })).rejects.toBeInstanceOf(ExportError);
    await expect(run({ device: 'cam9' })).rejects.toThrow(/has no recordings of cam9 .*check --device/);
  });
});

describe('podProxySource', () => {
  it("asks the API server's pod proxy with the kubeconfig's credentials, and the playback token in the query", async () => {
    const seen: Array<{ url: string; authorization: string | undefined }> = [];
    const api = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"spans":[],"gaps":[]}');
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${(api.address() as net.AddressInfo).port}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 'kube-token' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const source = await podProxySource(kc, { namespace: 'deviceshifu', pod: 'cam1-export', port: 9996 }, 'playback-token');
      const report = await exportSegments({ device, to, window: { since: new Date('2026-11-24T00:00:00Z') }, source: serverSegments(source), progress: null });
      expect(report.selected).toBe(0);
      expect(source.description).toBe('pod proxy deviceshifu/cam1-export:9996');
      expect(seen).toHaveLength(1);
      expect(seen[0]!.url).toMatch(/^\/api\/v1\/namespaces\/deviceshifu\/pods\/cam1-export:9996\/proxy\/api\/timeline\?device=cam1&start=2026-11-24T00%3A00%3A00.000Z&end=.*&access_token=playback-token$/);
      expect(seen[0]!.authorization).toBe('Bearer kube-token');
    } finally {
      await new Promise<void>((resolve) => api.close(() => resolve()));
    }
  });
});

describe('export from a hostile playback server', () => {
  it('writes nothing outside --to when the timeline names paths, and reports each bad name as failed', async () => {
    // The peer under test: a server that answers a timeline whose `file` names leave the device folder, and
    // serves matching bytes for any file route, as a compromised or malicious export pod would.
    const body = randomBytes(1000);
    const hostile = [
      '../../escaped.txt',
      // Passed the old rule, which looked only at the start and the end of the name.
      'cam1_/../../../cam1_20261124T100000Z.mp4',
      '/tmp/cam1_20261124T100000Z.mp4',
      'cam1_20261124T100000Z.mp4/..',
    ];
    const good = 'cam1_20261124T110000Z.mp4';
    const segment = (file: string) => ({ file, start: '2026-11-24T10:00:00.000Z', end: '2026-11-24T10:59:59.000Z', bytes: body.length, sha256: sha256(body) });
    const server = http.createServer((req, res) => {
      if ((req.url ?? '').startsWith('/api/timeline')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ spans: [{ segments: [...hostile, good].map(segment) }], gaps: [] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'shifu-export-hostile-'));
    try {
      const target = path.join(scratch, 'a', 'b', 'out');
      const report = await exportSegments({
        device,
        to: target,
        window: {},
        source: serverSegments(httpSource(new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`))),
        progress: null,
      });
      const everything = (await readdir(scratch, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.relative(scratch, path.join(e.parentPath, e.name)));
      expect(everything.sort()).toEqual([path.join('a', 'b', 'out', device, '.shifu-rtsp-export.json'), path.join('a', 'b', 'out', device, good)]);
      expect(report.files.map((f) => [f.name, f.outcome])).toEqual([...hostile.map((n) => [n, 'failed']), [good, 'copied']]);
      for (const f of report.files.slice(0, hostile.length)) expect(f.detail).toMatch(/not a segment file name of cam1/);
      expect(report.failed).toBe(hostile.length);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
