// Events past the recorder: a sink that is being re-created, and dead letters moved back by hand.
import { readFile, readdir, rename } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { HTTP, type CloudEvent } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { startGstCamera } from './fixtures/camera.js';
import { startCli } from './support/recorder-process.js';
import { useScratch } from '../support/scratch.js';

interface Status {
  lastSegment: { sequence: number } | null;
}

const scratch = useScratch('shifu-delivery-');

/** An HTTP sink (Node's server) that answers each CloudEvent with what `answer` picks, and lists the ids it took. */
async function sink(answer: (id: string) => number): Promise<{ url: string; accepted: string[] }> {
  const accepted: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const event = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }) as CloudEvent<unknown>;
      const status = answer(event.id);
      if (status < 300) accepted.push(event.id);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scratch.defer(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, accepted };
}

async function recording(sinkUrl: string, out: string, env: NodeJS.ProcessEnv = {}) {
  const cam = await startGstCamera({ video: 'h264', audio: 'none', gop: 25 });
  scratch.defer(() => cam.stop());
  const rec = await startCli('recorder', ['--url', cam.url, '--out', out, '--device', 'cam', '--segment-seconds', '2', '--no-align-to-clock', '--sink', sinkUrl], env);
  scratch.defer(() => rec.stop('SIGKILL'));
  return rec;
}

const metric = (text: string, name: string): number => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('events: a Broker that answers 401/403/404 for a while', () => {
  it('retries them with backoff and counts them, instead of dead-lettering the events', async () => {
    // A Broker being re-created (or its ingress not yet routed) answers like a wrong address for a while.
    const until = Date.now() + 8000;
    const statuses = [404, 401, 403];
    let n = 0;
    const target = await sink(() => (Date.now() < until ? statuses[n++ % 3]! : 202));
    const out = path.join(scratch.dir, 'refusing');
    const rec = await recording(target.url, out);
    await rec.waitFor<Status>('/record/status', (s) => (s.lastSegment?.sequence ?? 0) >= 2, 30_000);
    const during = await (await fetch(`${rec.baseUrl}/metrics`)).text();
    expect(metric(during, 'shifu_rtsp_events_sink_refused_total')).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 4000));
    await rec.waitFor<Status>('/record/status', () => target.accepted.length >= 2, 30_000);
    expect(await readdir(path.join(out, '.shifu-rtsp', 'cam', 'dead-letter'))).toEqual([]);
    const after = await (await fetch(`${rec.baseUrl}/metrics`)).text();
    expect(metric(after, 'shifu_rtsp_events_dead_lettered_total')).toBe(0);
    expect(rec.output()).toMatch(/"status":40[134].*"msg":"sink refused the event[^"]*retrying/);
  });
});

describe('events: dead letters moved back', () => {
  it('redelivers an event moved from dead-letter/ back to outbox/ without a restart', async () => {
    let refuse = true;
    const target = await sink(() => (refuse ? 400 : 202));
    const out = path.join(scratch.dir, 'moved-back');
    const rec = await recording(target.url, out, { EVENT_OUTBOX_RESCAN_SECONDS: '2' });
    const deadLetter = path.join(out, '.shifu-rtsp', 'cam', 'dead-letter');
    await rec.waitFor<Status>('/record/status', (s) => (s.lastSegment?.sequence ?? 0) >= 1, 30_000);
    await rec.json('POST', '/record/off');
    const dead = await (async () => {
      for (let i = 0; i < 40; i++) {
        const names = (await readdir(deadLetter)).filter((n) => !n.endsWith('.reason.json'));
        if (names.length > 0) return names;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error('nothing was dead-lettered');
    })();
    // The subscriber is fixed; the operator moves the letters back, as functions/events/README.md says.
    refuse = false;
    const ids: string[] = [];
    for (const name of dead) {
      ids.push((JSON.parse(await readFile(path.join(deadLetter, name), 'utf8')) as { id: string }).id);
      await rename(path.join(deadLetter, name), path.join(out, '.shifu-rtsp', 'cam', 'outbox', name));
    }
    await rec.waitFor<Status>('/record/status', () => ids.every((id) => target.accepted.includes(id)), 20_000);
    expect(rec.child.exitCode).toBeNull();
  });
});
