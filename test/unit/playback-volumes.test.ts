// Several roots in one server (PLAYBACK_ROOT=/data/cam1,/data/cam2): a device is found in the root that holds its
// journal; a device in two roots is an error naming both, never a guess.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, HttpError } from '../../functions/lib/index.js';
import { Volumes } from '../../functions/playback/index.js';
import { placeFootage } from '../e2e/support/placed-footage.js';

let base: string;
let volumes: Volumes;

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'shifu-volumes-'));
  const file = path.join(base, 'segment.mp4');
  await writeFile(file, 'not a video: the index only needs the file to be there');
  await placeFootage(path.join(base, 'a'), 'cam-a', file, '2026-11-24T10:00:00Z', 60);
  await placeFootage(path.join(base, 'a'), 'twice', file, '2026-11-24T10:00:00Z', 60);
  await placeFootage(path.join(base, 'b'), 'cam-b', file, '2026-11-24T11:00:00Z', 60);
  await placeFootage(path.join(base, 'b'), 'twice', file, '2026-11-24T11:00:00Z', 60);
  volumes = new Volumes({ roots: [path.join(base, 'a'), path.join(base, 'b')], log: createLogger('playback', 'silent') });
  volumes.start();
});

afterAll(async () => {
  await volumes.close();
  await rm(base, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<HttpError> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof HttpError)) throw new Error(`expected an HttpError, got ${String(err)}`);
  return err;
}

describe('Volumes: several roots', () => {
  it('finds each device in the root that holds its journal', async () => {
    expect((await volumes.of('cam-a')).root).toBe(path.join(base, 'a'));
    expect((await volumes.of('cam-b')).root).toBe(path.join(base, 'b'));
    const footage = await (await volumes.of('cam-b')).footageBetween('cam-b', -Infinity, Infinity);
    expect(footage.map((f) => f.path)).toEqual([path.join(base, 'b', 'cam-b', 'cam-b_20261124T110000Z.mp4')]);
  });

  it('a device in two roots is a 500 naming both, for the device and for the list', async () => {
    const one = await failure(volumes.of('twice'));
    expect([one.statusCode, one.message]).toEqual([500, `device: twice has a journal in more than one root (${path.join(base, 'a')}, ${path.join(base, 'b')}); PLAYBACK_ROOT must name each device's volume once`]);
    expect((await failure(volumes.devices())).statusCode).toBe(500);
  });

  it('a device no root records is a 404', async () => {
    const err = await failure(volumes.of('cam-z'));
    expect([err.statusCode, err.message]).toEqual([404, 'device: no recordings of cam-z']);
  });
});
