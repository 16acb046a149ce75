// A real S3 server for the tests: versitygw (test/s3/ensure-versitygw.sh builds it once, cached by version) over a
// temporary folder on a free loopback port, with root keys; Debian's awscli (/usr/bin/aws) is the second,
// independent client that checks what we wrote. No mock stands in for the server.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import type { BucketAddress } from '../../functions/archive/index.js';
import { freeLoopbackPort } from '../../functions/lib/index.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
/** The clone: two folders up from test/support, three from the build's dist/test/support (the bench runs there). */
const repoRoot = [path.resolve(here, '../..'), path.resolve(here, '../../..')].find((dir) => existsSync(path.join(dir, 'test/s3/ensure-versitygw.sh'))) ?? path.resolve(here, '../..');
/** The key prefix the tests archive under (ARCHIVE_S3_PREFIX): objects are `site1/<device>/<file name>`. */
export const TEST_PREFIX = 'site1/';
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
  /** A recorder's environment to archive to `bucket` here, under TEST_PREFIX; `extra` adds or overrides variables. */
  archiveEnv(bucket: string, extra?: Readonly<Record<string, string>>): Record<string, string>;
  /** `bucket` here as the archive's own code (functions/archive) addresses it, with the root keys. */
  address(bucket: string): BucketAddress;
  /** The bucket's objects as awscli lists them (one page: the tests' buckets are small), sorted by key. */
  objects(bucket: string): Promise<Array<{ readonly key: string; readonly size: number }>>;
  /**
   * Parts stored so far of the bucket's open multipart uploads, read from versitygw's staging folder
   * (`<bucket>/.sgwtmp/multipart/<key hash>/<upload id>/<part>`): a file-system poll, fast enough to catch an
   * upload between two parts, which awscli (a second or two per call) is not.
   */
  storedParts(bucket: string): Promise<string[]>;
  /**
   * Every request the server answered since it first started, in the order it logged them (its access log, written
   * before each answer is sent, so a request whose answer a client has is in it).
   */
  requests(): Promise<S3Request[]>;
  /** Runs Debian's awscli against this server; resolves its stdout, rejects with its stderr. */
  aws(args: readonly string[]): Promise<string>;
  /** Stops the gateway (SIGTERM, then SIGKILL); the folder stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port over the same folder. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  remove(): Promise<void>;
}

/** One line of versitygw's access log (S3's server access log format): what a client asked and what it got. */
export interface S3Request {
  /** The S3 operation, e.g. `PutObject`, `HeadObject`, `UploadPart`. */
  readonly operation: string;
  /** The object key, or null for a request on the bucket. */
  readonly key: string | null;
  readonly status: number;
  /** The S3 error code (`BadDigest`, `NoSuchBucket`...), or null. */
  readonly error: string | null;
}

/** The fields up to the error code: owner, bucket, [time], remote IP, requester, request id, operation, key, URI, status, error. */
const ACCESS_LOG_LINE = /^\S+ \S+ \[[^\]]*\] \S+ \S+ \S+ s3_(\w+) (\S+) \S+ (\d{3}) (\S+)/;

export function parseAccessLog(text: string): S3Request[] {
  return text.split('\n').flatMap((line) => {
    const m = ACCESS_LOG_LINE.exec(line);
    if (!m) return [];
    return [{ operation: m[1]!, key: m[2] === '-' ? null : m[2]!, status: Number(m[3]), error: m[4] === '-' ? null : m[4]! }];
  });
}

/** What awscli (or the SDK) needs to use these keys, and nothing of the machine's own AWS configuration. */
export function awsClientEnv(keys: { readonly accessKeyId: string; readonly secretAccessKey: string }, region = 'us-east-1'): Readonly<Record<string, string>> {
  return {
    AWS_ACCESS_KEY_ID: keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    AWS_DEFAULT_REGION: region,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}

/** Debian's awscli against `endpoint` with `env` (the keys in the environment, never in argv), HOME at `home`;
 * resolves its stdout, rejects with its stderr. */
export async function awsCli(endpoint: string, env: Readonly<Record<string, string>>, home: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(AWS_CLI, ['--endpoint-url', endpoint, '--output', 'json', ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
      maxBuffer: 64 << 20,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`aws ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

export async function startS3Server(): Promise<S3Server> {
  const binary = await ensureVersitygw();
  if (!existsSync(AWS_CLI)) throw new Error(`${AWS_CLI} is missing: apt-get install awscli (the tests check the bucket with it)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-s3-'));
  // Beside the served folder, not in it (each top folder there is a bucket).
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'shifu-s3-log-'));
  const accessLog = path.join(logDir, 'access.log');
  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  const accessKeyId = `test${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const clientEnv = awsClientEnv({ accessKeyId, secretAccessKey }, region);
  let child: ChildProcess | null = null;
  let log = '';

  const start = async (): Promise<void> => {
    // Keys in the environment, never in argv. Keep-alive as S3 servers serve (versitygw closes every connection
    // otherwise), so a client's connection reuse, and what it costs without, is what the tests and benches see.
    const gateway = spawn(binary, ['--port', `127.0.0.1:${port}`, '--quiet', '--keep-alive', '--access-log', accessLog, 'posix', dir], {
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

  const aws = (args: readonly string[]): Promise<string> => awsCli(endpoint, clientEnv, dir, args);

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
    archiveEnv: (bucket, extra = {}) => ({
      ...clientEnv,
      ARCHIVE_S3_ENDPOINT: endpoint,
      ARCHIVE_S3_BUCKET: bucket,
      ARCHIVE_S3_FORCE_PATH_STYLE: 'true',
      ARCHIVE_S3_PREFIX: TEST_PREFIX,
      ...extra,
    }),
    address: (bucket) => ({ endpoint, bucket, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } }),
    async objects(bucket) {
      const listed = JSON.parse((await aws(['s3api', 'list-objects-v2', '--bucket', bucket])) || '{}') as { Contents?: Array<{ Key: string; Size: number }> };
      return (listed.Contents ?? []).map((o) => ({ key: o.Key, size: o.Size })).sort((a, b) => a.key.localeCompare(b.key));
    },
    aws,
    async storedParts(bucket) {
      const staging = path.join(dir, bucket, '.sgwtmp', 'multipart');
      const entries = await readdir(staging, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries.filter((e) => e.isFile()).map((e) => path.relative(staging, path.join(e.parentPath, e.name)));
    },
    async requests() {
      return parseAccessLog(await readFile(accessLog, 'utf8').catch(() => ''));
    },
    stop,
    start,
    async remove() {
      await stop();
      await rm(dir, { recursive: true, force: true });
      await rm(logDir, { recursive: true, force: true });
    },
  };
}

/**
 * The S3 server of one test file: started before its tests (the first build of versitygw on a fresh machine takes
 * minutes; CI builds it beside the unit tier) and removed after them. Use it once beforeAll has run.
 */
export function useS3Server(): S3Server {
  let server: S3Server | undefined;
  beforeAll(async () => {
    server = await startS3Server();
  }, 900_000);
  afterAll(() => server?.remove());
  // Every member is read from the started server, so a file can hold this at its top like useScratch's folder.
  return new Proxy({} as S3Server, {
    get(_, name) {
      if (!server) throw new Error('the S3 server is not started: useS3Server() starts it in beforeAll');
      return Reflect.get(server, name);
    },
  });
}
