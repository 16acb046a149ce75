// `npm run bench [-- name ...]`: runs every benchmark listed below (or only the named ones) and
// prints one table each. Benchmarks report numbers; they never pass or fail.
import * as archive from './archive.js';
import * as events from './events.js';
import * as forwarder from './forwarder.js';
import * as live from './live.js';
import * as liveLoad from './live-load.js';
import * as playback from './playback.js';
import * as playbackBucket from './playback-bucket.js';
import * as playbackHls from './playback-hls.js';
import * as playbackYear from './playback-year.js';
import * as recorder from './recorder.js';
import * as transcode from './transcode.js';
import * as recorderMemory from './recorder-memory.js';

type BenchRow = Readonly<Record<string, string | number>>;

interface BenchModule {
  /** Resolves with the rows of its table, or prints its own and resolves with nothing. */
  run(): Promise<readonly BenchRow[] | void>;
}

/** Add a benchmark here: one import above, one line below. */
const BENCHES: ReadonlyArray<readonly [string, BenchModule]> = [
  ['forwarder', forwarder],
  ['events', events],
  ['recorder', recorder],
  ['recorder-memory', recorderMemory],
  ['playback', playback],
  ['playback-year', playbackYear],
  ['playback-hls', playbackHls],
  ['playback-bucket', playbackBucket],
  ['transcode', transcode],
  ['live', live],
  ['live-load', liveLoad],
  ['archive', archive],
];

async function main(names: readonly string[]): Promise<number> {
  const unknown = names.filter((n) => !BENCHES.some(([name]) => name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown bench: ${unknown.join(', ')} (known: ${BENCHES.map(([n]) => n).join(', ')})\n`);
    return 2;
  }
  let failed = 0;
  for (const [name, bench] of BENCHES) {
    if (names.length > 0 && !names.includes(name)) continue;
    const started = performance.now();
    process.stdout.write(`\n== ${name} ==\n`);
    try {
      const rows = await bench.run();
      if (rows) console.table(rows);
      process.stdout.write(`(${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
    } catch (err) {
      failed += 1;
      process.stderr.write(`bench ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Child processes and sockets a bench forgot must not keep the run alive.
    process.exit(code);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
