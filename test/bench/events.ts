// Benchmark, not a test: latency from a segment's close (journal write, then `segment` emit) to its receipt at the sink.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachEvents, startLocalSink, type EventMode } from '../../functions/events/index.js';
import { createLogger } from '../../functions/lib/index.js';
import { appendToJournal, journalPathOf, Recorder, parseCameraAddress, type Segment } from '../../functions/recorder/index.js';
import { startGstCamera } from '../e2e/fixtures/camera.js';
import { segmentFixture } from '../support/segment.js';
import { percentile, whenRunDirectly } from './support/util.js';

export type BenchRow = Readonly<Record<string, string | number>>;

const here = path.dirname(fileURLToPath(import.meta.url));
/** The built CLI, beside this file once compiled (dist/test/bench -> dist/functions). */
const CLI = path.resolve(here, '../../functions/cli.js');

function row(scenario: string, latencies: number[], extra: Record<string, string | number> = {}): BenchRow {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 10) / 10;
  return {
    scenario,
    events: sorted.length,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted.at(-1) ?? NaN),
    ...extra,
  };
}

function syntheticSegment(out: string, sequence: number): Segment {
  // One a second back from now (each its own file), 3 s long.
  return segmentFixture(
    { device: 'bench', start: Date.now() - 3000 - sequence * 1000, seconds: 3, root: out },
    { sequence, bytes: 1_000_000 + sequence, sha256: sequence.toString(16).padStart(64, '0'), video: { codec: 'h264', width: 1920, height: 1080, fps: 25 }, audio: { codec: 'aac', transcodedFrom: 'pcm_alaw' } },
  );
}

/**
 * In one process, what a recorder does at a segment's close and after: the journal line (fsynced), the `segment`
 * signal, the announcer's read of the journal up to it, the outbox file + fsyncs, the HTTP POST, the local sink.
 * The signal alone sends nothing: the announcer follows the journal (one feed) and announces files that exist, so
 * each segment's file is made and the segment journaled first; the clock starts at the journal write.
 */
async function inProcess(mode: EventMode, count: number, spacingMs: number): Promise<number[]> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-events-'));
  const log = createLogger('bench', 'silent');
  const emitted = new Map<number, number>();
  const latencies: number[] = [];
  const sink = await startLocalSink({
    port: 0,
    onEvent: (e) => {
      if (e.type !== 'dev.shifu.rtsp.segment.finished.v1') return;
      const at = emitted.get(e.data.sequence);
      if (at !== undefined) latencies.push(performance.now() - at);
    },
  });
  const recorder = new Recorder(
    {
      device: 'bench',
      camera: parseCameraAddress('rtsp://127.0.0.1:9/bench'),
      out,
      segmentSeconds: 3,
      format: 'mp4',
      audio: 'auto',
      transport: 'tcp',
      alignToClock: false,
      watchdogSeconds: 10,
      retention: { retainHours: 0, retainBytes: 0, minFreePercent: 0 },
      ffmpeg: 'ffmpeg',
      ffprobe: 'ffprobe',
    },
    log,
  );
  const announcer = await attachEvents(recorder, { sink: sink.url, eventMode: mode, namespace: 'bench', ceOverrides: undefined, eventFlushSeconds: 30, outboxRescanSeconds: 0 }, log);
  const journal = journalPathOf(out, 'bench');
  await mkdir(path.dirname(journal), { recursive: true });
  await mkdir(path.join(out, 'bench'), { recursive: true });
  for (let i = 1; i <= count; i++) {
    const segment = syntheticSegment(out, i);
    // The announcer announces only a file that is there (retention may have taken it).
    await writeFile(segment.absolutePath, '');
    emitted.set(i, performance.now());
    await appendToJournal(journal, segment);
    recorder.events.emit('segment', segment);
    if (spacingMs > 0) await new Promise((r) => setTimeout(r, spacingMs));
  }
  const deadline = Date.now() + 60_000;
  while (latencies.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await announcer.close();
  await sink.close();
  await rm(out, { recursive: true, force: true });
  return latencies;
}

/** The real thing: `shifu-rtsp recorder` on a GStreamer camera; close time is the 'segment finished' log line. */
async function recorderProcess(seconds: number, segmentSeconds: number): Promise<number[]> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'shifu-bench-rec-'));
  const cam = await startGstCamera({ video: 'h264', audio: 'pcma' });
  const received = new Map<string, number>();
  const sink = await startLocalSink({
    port: 0,
    onEvent: (e) => {
      if (e.type === 'dev.shifu.rtsp.segment.finished.v1' && !received.has(e.data.file)) received.set(e.data.file, Date.now());
    },
  });
  const closed = new Map<string, number>();
  const child = spawn(
    process.execPath,
    [CLI, 'recorder', '--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', String(segmentSeconds), '--no-align-to-clock', '--sink', sink.url, '--http-listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const record = JSON.parse(line) as { msg?: string; file?: string; time?: string };
        if (record.msg === 'segment finished' && record.file && record.time) closed.set(record.file, Date.parse(record.time));
      } catch {
        // not a log line
      }
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  child.kill('SIGTERM');
  await exited;
  await sink.close();
  await cam.stop();
  await rm(out, { recursive: true, force: true });
  const latencies: number[] = [];
  for (const [file, at] of closed) {
    const got = received.get(file);
    if (got !== undefined) latencies.push(got - at);
  }
  return latencies;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  rows.push(row('in-process, binary, 1 segment / 50 ms', await inProcess('binary', 200, 50)));
  rows.push(row('in-process, structured, 1 segment / 50 ms', await inProcess('structured', 200, 50)));
  const burstStart = performance.now();
  const burst = await inProcess('binary', 500, 0);
  const burstSeconds = (performance.now() - burstStart) / 1000;
  rows.push(row('in-process, binary, burst of 500', burst, { eventsPerSecond: Math.round(burst.length / burstSeconds) }));
  try {
    rows.push(row('recorder process + GStreamer camera, 2 s segments, 20 s (ms resolution: log time)', await recorderProcess(20, 2)));
  } catch (err) {
    rows.push({ scenario: 'recorder process + GStreamer camera', error: (err as Error).message.split('\n')[0] ?? 'failed' });
  }
  return rows;
}

// `node dist/test/bench/events.js` prints the table on its own.
whenRunDirectly(import.meta.url, async () => console.table(await run()));
