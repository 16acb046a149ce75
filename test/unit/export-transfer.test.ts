import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportSegments, ExportError, type PodShell, type ShellResult } from '../../functions/export/index.js';

// An export pod in memory: it answers the four commands the export runs (listing, journal, tar, tail).

function tarHeader(name: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 100, 'utf8');
  block.write('0000644\0', 100, 'latin1');
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  block.write(`${(1_790_000_000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
  block.write('0', 156, 'latin1');
  block.write('ustar\x0000', 257, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function tarOf(files: ReadonlyArray<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of files) parts.push(tarHeader(name, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

class MemoryPod implements PodShell {
  readonly files = new Map<string, Buffer>();
  journal = '';
  readonly calls: string[][] = [];
  /** Cut the next `tar` after this many bytes (a dropped connection). */
  dropTarAfter: number | undefined;
  /** Files that vanish after the listing (retention running meanwhile). */
  readonly vanishing = new Set<string>();

  constructor(readonly deviceDir: string) {}

  async run(argv: readonly string[], stdout: Writable): Promise<ShellResult> {
    this.calls.push([...argv]);
    let out: Buffer = Buffer.alloc(0);
    let exitCode = 0;
    let drop: number | undefined;
    if (argv[0] === 'sh' && argv[2]?.includes('stat -c')) {
      if (argv[4] !== this.deviceDir) exitCode = 3;
      else out = Buffer.from([...this.files].map(([n, d]) => `${d.length} ${n}\n`).join(''));
    } else if (argv[0] === 'sh' && argv[2]?.startsWith('cat')) {
      out = Buffer.from(this.journal);
    } else if (argv[0] === 'tar') {
      const names = argv.slice(argv.indexOf('--') + 1).filter((n) => !this.vanishing.has(n));
      out = tarOf(names.map((n) => [n, this.files.get(n) ?? Buffer.alloc(0)]));
      exitCode = names.length < argv.length - argv.indexOf('--') - 1 ? 2 : 0;
      drop = this.dropTarAfter;
      this.dropTarAfter = undefined;
    } else if (argv[0] === 'tail') {
      const from = Number(argv[2]?.slice(1)) - 1;
      out = (this.files.get(path.posix.basename(argv[4] ?? '')) ?? Buffer.alloc(0)).subarray(from);
    }
    const limit = drop ?? out.length;
    for (let at = 0; at < limit; at += 1000) {
      if (!stdout.write(out.subarray(at, Math.min(at + 1000, limit)))) await new Promise((r) => stdout.once('drain', r));
    }
    if (drop !== undefined) {
      // Like KubernetesPodShell: what arrived is flushed, then the run fails.
      stdout.end();
      await finished(stdout).catch(() => undefined);
      throw new Error('connection reset');
    }
    stdout.end();
    await finished(stdout);
    return { exitCode, stderr: exitCode === 2 ? 'tar: Cannot stat: No such file or directory' : '' };
  }
}

let to: string;
let pod: MemoryPod;
const names = ['cam1_20261124T100000Z.mp4', 'cam1_20261124T110000Z.mp4', 'cam1_20261124T120000Z.mp4'];

beforeEach(async () => {
  to = await mkdtemp(path.join(os.tmpdir(), 'shifu-export-'));
  pod = new MemoryPod('/data/cam1');
  names.forEach((n, i) => pod.files.set(n, Buffer.alloc(5000 + i * 3000, i + 1)));
  pod.journal = names
    .map((n, i) => JSON.stringify({ file: `cam1/${n}`, endTime: `2026-11-24T1${i}:59:59.000Z`, bytes: pod.files.get(n)?.length, sha256: sha256(pod.files.get(n) ?? Buffer.alloc(0)) }))
    .join('\n');
});
afterEach(async () => {
  await rm(to, { recursive: true, force: true });
});

const run = (extra: { attempts?: number; since?: Date } = {}) =>
  exportSegments({
    device: 'cam1',
    root: '/data',
    to,
    window: extra.since ? { since: extra.since } : {},
    shell: pod,
    progress: null,
    ...(extra.attempts !== undefined ? { attempts: extra.attempts } : {}),
  });

describe('export: copy, check, resume', () => {
  it('copies every segment with one tar, checks it against the journal, and a re-run copies nothing', async () => {
    const first = await run();
    expect(first.files.map((f) => f.outcome)).toEqual(['copied', 'copied', 'copied']);
    expect(first.failed).toBe(0);
    for (const n of names) expect(await readFile(path.join(to, 'cam1', n))).toEqual(pod.files.get(n));
    expect(pod.calls.filter((c) => c[0] === 'tar')).toHaveLength(1);

    pod.calls.length = 0;
    const second = await run();
    expect(second.files.map((f) => f.outcome)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(second.bytesCopied).toBe(0);
    expect(pod.calls.filter((c) => c[0] === 'tar' || c[0] === 'tail')).toHaveLength(0);
  });

  it('continues a copy cut by a dropped connection from its last byte (tail -c +N)', async () => {
    pod.dropTarAfter = 512 + 5120 + 512 + 3000; // inside the second file
    const cut = await run({ attempts: 1 });
    expect(cut.files.map((f) => f.outcome)).toEqual(['copied', 'failed', 'failed']);
    expect((await readdir(path.join(to, 'cam1'))).filter((n) => n.endsWith('.partial'))).toEqual([`${names[1]}.partial`]);

    pod.calls.length = 0;
    const resumed = await run();
    expect(resumed.files.map((f) => f.outcome)).toEqual(['skipped', 'resumed', 'copied']);
    expect(pod.calls.find((c) => c[0] === 'tail')).toEqual(['tail', '-c', '+3001', '--', `/data/cam1/${names[1]}`]);
    for (const n of names) expect(await readFile(path.join(to, 'cam1', n))).toEqual(pod.files.get(n));
    expect(await readdir(path.join(to, 'cam1'))).not.toContain(`${names[1]}.partial`);
  });

  it('retries within one run after a dropped connection', async () => {
    pod.dropTarAfter = 2000;
    const report = await run();
    expect(report.files.map((f) => f.outcome)).toEqual(['resumed', 'copied', 'copied']);
  });

  it('refuses a file whose sha256 differs from the journal and keeps nothing of it', async () => {
    const n = names[2] ?? '';
    pod.files.set(n, Buffer.alloc(pod.files.get(n)?.length ?? 0, 0x55));
    const report = await run();
    expect(report.files[2]).toMatchObject({ outcome: 'failed', detail: expect.stringMatching(/sha256 .* differs from the journal/) });
    expect(report.failed).toBe(1);
    expect(await readdir(path.join(to, 'cam1'))).not.toContain(n);
    expect(await readdir(path.join(to, 'cam1'))).not.toContain(`${n}.partial`);
  });

  it('hashes a same-size local copy it has not verified, and fetches it again when it differs', async () => {
    await run();
    const n = names[0] ?? '';
    await writeFile(path.join(to, 'cam1', n), Buffer.alloc(5000, 9));
    await rm(path.join(to, 'cam1', '.shifu-rtsp-export.json'));
    const report = await run();
    expect(report.files.map((f) => f.outcome)).toEqual(['copied', 'verified', 'verified']);
    expect(await readFile(path.join(to, 'cam1', n))).toEqual(pod.files.get(n));
  });

  it('reports a file deleted in the pod after the listing', async () => {
    pod.vanishing.add(names[1] ?? '');
    const report = await run();
    expect(report.files[1]).toMatchObject({ outcome: 'failed', detail: expect.stringContaining('not in the tar stream') });
    expect(report.files.filter((f) => f.outcome === 'copied')).toHaveLength(2);
  });

  it('copies only segments that overlap the window', async () => {
    const report = await run({ since: new Date('2026-11-24T11:30:00Z') });
    expect(report.files.map((f) => f.name)).toEqual([names[1], names[2]]);
  });

  it('says so when the device has no folder in the pod', async () => {
    pod = new MemoryPod('/data/other');
    await expect(run()).rejects.toBeInstanceOf(ExportError);
    await expect(run()).rejects.toThrow(/no folder \/data\/cam1 in the export pod/);
  });
});
