import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCheck } from './fixtures/player.js';
import { CLI, freePort } from './support/recorder-process.js';

let out: string;
/** The demo while it runs: stopped after the test even when an assertion failed first (it has five processes). */
let running: ChildProcess | undefined;

afterAll(async () => {
  if (running && running.exitCode === null && running.signalCode === null) {
    const gone = new Promise((resolve) => running!.once('exit', resolve));
    running.kill('SIGINT');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
    if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
  }
  if (out) await rm(out, { recursive: true, force: true });
});

/** Processes whose command line mentions `marker` (the demo's unique folder and ports). */
function processesMentioning(markers: readonly string[]): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return lines.filter((l) => markers.some((m) => l.includes(m)) && !l.includes('ps -eo'));
}

describe('shifu-rtsp demo', () => {
  it('records >= 3 playable 10 s segments, prints their events, and stops cleanly on Ctrl-C', async () => {
    out = await mkdtemp(path.join(os.tmpdir(), 'shifu-demo-'));
    const [rtspPort, controlPort, cameraPort] = [await freePort(), await freePort(), await freePort()];
    const demo = spawn(
      process.execPath,
      [CLI, 'demo', '--out', out, '--rtsp-port', String(rtspPort), '--control-port', String(controlPort), '--camera-port', String(cameraPort)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    running = demo;
    let output = '';
    demo.stdout.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));

    // Three 10 s segments take about 35 s; a busy machine starts the demo's five processes slower, so wait for
    // the events rather than a fixed time (the test's timeout bounds it).
    const announced = (): number => output.match(/event dev\.shifu\.rtsp\.segment\.finished\.v1/g)?.length ?? 0;
    while (announced() < 3 && demo.exitCode === null) await new Promise((r) => setTimeout(r, 250));
    expect(demo.exitCode, output).toBeNull();
    expect(output).toContain(`rtsp://127.0.0.1:${rtspPort}/Streaming/Channels/101`);
    expect(output).toContain('curl -X POST');
    const during = (await readdir(path.join(out, 'demo-cam'))).filter((n) => n.endsWith('.mp4'));
    expect(during.length, output).toBeGreaterThanOrEqual(3);
    expect(announced()).toBeGreaterThanOrEqual(3);

    demo.kill('SIGINT');
    expect(await exited).toBe(0);
    const files = (await readdir(path.join(out, 'demo-cam'))).filter((n) => n.endsWith('.mp4'));
    expect(files.length).toBeGreaterThan(during.length);
    for (const name of files) {
      const check = await decodeCheck(path.join(out, 'demo-cam', name));
      expect(check.ok, `${name}: ${check.errors.join('\n')}`).toBe(true);
    }
    expect(await readdir(path.join(out, 'demo-cam', '.recording'))).toEqual([]);
    // Nothing of the demo is left: no recorder, forwarder, control or camera ffmpeg.
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMentioning([out, `:${rtspPort}`, `:${controlPort}`, `:${cameraPort}`])).toEqual([]);
  });
});
