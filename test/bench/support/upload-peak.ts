// Child of the archive bench's `peak` part: uploads one file through a build's own archive path (its
// functions/archive/bucket.js, as the recorder's archive does) and prints, as one JSON line, its Node's PSS before
// (MiB), at most and on average while uploading (sampled every 25 ms from /proc/self/smaps_rollup), and its CPU.
// Run under the recorder's V8 flags by the bench: node <flags> upload-peak.js <build's dist> <address JSON> <file> <sha256>
import { statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pssMiB } from './procfs.js';
import { mean } from './util.js';

const [dist, address, file, sha256] = process.argv.slice(2);
if (!dist || !address || !file || !sha256) throw new Error('usage: upload-peak.js <dist> <address JSON> <file> <sha256>');

const pss = (): number => pssMiB(process.pid) ?? NaN;

interface Uploader {
  upload(segment: { key: string; file: string; sha256: string; bytes: number; contentType: string }, options: { bytesPerSecond: number | null; partBytes: number }): Promise<string>;
  close(): Promise<void>;
}
const { Bucket } = (await import(pathToFileURL(path.join(dist, 'functions/archive/bucket.js')).href)) as { Bucket: new (address: unknown) => Uploader };
const { DEFAULT_PART_MIB } = (await import(pathToFileURL(path.join(dist, 'functions/archive/index.js')).href)) as { DEFAULT_PART_MIB: number };
const bucket = new Bucket(JSON.parse(address));
const bytes = statSync(file).size;
const before = pss();
const samples: number[] = [];
const sampler = setInterval(() => samples.push(pss()), 25);
const cpu0 = process.cpuUsage();
await bucket.upload({ key: `peak/${process.pid}`, file, sha256, bytes, contentType: 'video/mp4' }, { bytesPerSecond: null, partBytes: DEFAULT_PART_MIB * 1024 * 1024 });
const cpu = process.cpuUsage(cpu0);
clearInterval(sampler);
await bucket.close();
process.stdout.write(`${JSON.stringify({ before, max: Math.max(...samples), mean: mean(samples), cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
