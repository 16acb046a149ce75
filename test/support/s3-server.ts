// A real S3 server for the tests: versitygw (test/s3/ensure-versitygw.sh builds it once, cached by version) over a
// temporary folder on a free loopback port, with root keys; Debian's awscli (/usr/bin/aws) is the second,
// independent client that checks what we wrote. No mock stands in for the server.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freeLoopbackPort } from '../../functions/lib/index.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
/** The clone: two folders up from test/support, three from the build's dist/test/support (the bench runs there). */
const repoRoot = [path.resolve(here, '../..'), path.resolve(here, '../../..')].find((dir) => existsSync(path.join(dir, 'test/s3/ensure-versitygw.sh'))) ?? path.resolve(here, '../..');
/** Debian's awscli: the pyenv `aws` on PATH (v1) is another program. */
export const AWS_CLI = '/usr/bin/aws';

/** The versitygw binary, built (or found in the cache) by the ensure script; the first build takes minutes. */
export async function ensureVersitygw(): Promise<string> {
  const { stdout } = await run('bash', [path.join(repoRoot, 'test/s3/ensure-versitygw.sh')], { maxBuffer: 1 << 20 }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`versitygw is missing and could not be built (test/s3/ensure-versitygw.sh): ${err.stderr ?? err.message}`);
  });
  const dir = stdout.trim().split('\n').pop() ?? '';
  return path.join(dir, 'versitygw');
}

export interface S3Server {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The folder the gateway serves: each top folder is a bucket. */
  readonly dir: string;
  /** The environment a client of this server needs (the AWS variables; nothing else). */
  readonly clientEnv: Readonly<Record<string, string>>;
  createBucket(name: string): Promise<void>;
  /**
   * Parts stored so far of the bucket's open multipart uploads, read from versitygw's staging folder
   * (`<bucket>/.sgwtmp/multipart/<key hash>/<upload id>/<part>`): a file-system poll, fast enough to catch an
   * upload between two parts, which awscli (a second or two per call) is not.
   */
  storedParts(bucket: string): Promise<string[]>;
  /** Runs Debian's awscli against this server; resolves its stdout, rejects with its stderr. */
  aws(args: readonly string[]): Promise<string>;
  /** Stops the gateway (SIGTERM, then SIGKILL); the folder stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port over the same folder. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  remove(): Promise<void>;
}

export async function startS3Server(): Promise<S3Server> {
  const binary = await ensureVersitygw();
  if (!existsSync(AWS_CLI)) throw new Error(`${AWS_CLI} is missing: apt-get install awscli (the tests check the bucket with it)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-s3-'));
  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  const accessKeyId = `test${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const clientEnv = {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_DEFAULT_REGION: region,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  let child: ChildProcess | null = null;
  let log = '';

  const start = async (): Promise<void> => {
    // Keys in the environment, never in argv.
    const gateway = spawn(binary, ['--port', `127.0.0.1:${port}`, '--quiet', 'posix', dir], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = gateway;
    gateway.stdout.on('data', (d: Buffer) => (log += d.toString()));
    gateway.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (gateway.exitCode !== null) throw new Error(`versitygw exited (${gateway.exitCode}):\n${log.slice(-2000)}`);
      // Any HTTP answer (403 to an unsigned request) means it serves.
      const up = await fetch(endpoint, { signal: AbortSignal.timeout(1000) }).then(
        () => true,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) throw new Error(`versitygw did not answer on ${endpoint} within 20 s:\n${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const stop = async (): Promise<void> => {
    const gateway = child;
    child = null;
    if (!gateway || gateway.exitCode !== null || gateway.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => gateway.once('exit', () => resolve()));
    gateway.kill('SIGTERM');
    const timer = setTimeout(() => gateway.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const aws = async (args: readonly string[]): Promise<string> => {
    try {
      const { stdout } = await run(AWS_CLI, ['--endpoint-url', endpoint, '--output', 'json', ...args], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...clientEnv },
        maxBuffer: 64 << 20,
      });
      return stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`aws ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
    }
  };

  await start();
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    dir,
    clientEnv,
    async createBucket(name) {
      // Through the SDK, not awscli: a bucket is set-up, and awscli takes a second or two to start.
      const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    aws,
    async storedParts(bucket) {
      const staging = path.join(dir, bucket, '.sgwtmp', 'multipart');
      const entries = await readdir(staging, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries.filter((e) => e.isFile()).map((e) => path.relative(staging, path.join(e.parentPath, e.name)));
    },
    stop,
    start,
    async remove() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
