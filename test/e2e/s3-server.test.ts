// Self-test of the S3 test server: versitygw over a temporary folder answers awscli, keeps objects and their
// metadata across a restart.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../support/s3-server.js';

describe('the S3 test server (versitygw + awscli)', () => {
  let s3: S3Server;
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-s3-self-'));
    s3 = await startS3Server();
  }, 600_000);
  afterAll(async () => {
    await s3?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores an object with its metadata and keeps it across a restart', async () => {
    await s3.createBucket('self-test');
    const file = path.join(dir, 'a.bin');
    await writeFile(file, 'hello object storage\n');
    await s3.aws(['s3api', 'put-object', '--bucket', 'self-test', '--key', 'cam/a.bin', '--body', file, '--metadata', 'sha256=abc123']);
    await s3.stop();
    await s3.start();
    const head = JSON.parse(await s3.aws(['s3api', 'head-object', '--bucket', 'self-test', '--key', 'cam/a.bin'])) as { ContentLength: number; Metadata: Record<string, string> };
    expect(head).toMatchObject({ ContentLength: 21, Metadata: { sha256: 'abc123' } });
  });
});
