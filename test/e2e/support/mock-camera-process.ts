import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, freePort } from './recorder-process.js';

export interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tool (ffmpeg, ffprobe) to the end, killing it after `timeoutMs`. */
export function runTool(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface MockCameraProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<number | null>;
  output(): string;
  /** `rtsp://[user:password@]127.0.0.1:<port><path>` */
  url(path: string, user?: string, password?: string): string;
  stop(): Promise<number | null>;
}

/** `shifu-rtsp mock-camera` as a child process on a free port; resolves once it logged `ready` (all test patterns live). */
export async function startMockCameraProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<MockCameraProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'mock-camera', '--listen', `127.0.0.1:${port}`, ...args], {
    env: { ...process.env, LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mock-camera not ready in 45 s:\n${output.slice(-3000)}`)), 45_000);
    const onData = (b: Buffer): void => {
      output += b.toString();
      if (/"msg":"ready"/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mock-camera exited (${code}):\n${output.slice(-3000)}`));
    });
  });
  return {
    child,
    port,
    exited,
    output: () => output,
    url: (path, user, password) =>
      `rtsp://${user === undefined ? '' : `${encodeURIComponent(user)}:${encodeURIComponent(password ?? '')}@`}127.0.0.1:${port}${path}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
