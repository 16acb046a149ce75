// The camera relay's framing, byte for byte: media must reach ffmpeg exactly as the camera sent it, and
// answers with ffmpeg's own CSeq, wherever TCP happens to cut the stream.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCameraAddress } from '../../functions/recorder/index.js';
import { startCameraRelay, type CameraRelay } from '../../functions/recorder/camera-relay.js';
import { LoginBudget } from '../../functions/recorder/login-budget.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function frame(channel: number, size: number, seed: number): Buffer {
  const b = Buffer.alloc(4 + size);
  b[0] = 0x24;
  b[1] = channel;
  b.writeUInt16BE(size, 2);
  for (let i = 0; i < size; i++) b[4 + i] = (seed + i * 7) & 0xff;
  // A payload may hold '$' and "RTSP/1.0" bytes: only frame headers may be read as structure.
  if (size > 12) b.write('RTSP/1.0 $', 4 + (seed % (size - 11)), 'latin1');
  return b;
}

/** A camera that answers each request with 200 and then sends `stream`, cut into pieces of the sizes given. */
async function scriptedCamera(stream: () => Buffer, cuts: () => number): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = net.createServer((socket) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      let end: number;
      while ((end = text.indexOf('\r\n\r\n')) >= 0) {
        const head = text.slice(0, end);
        text = text.slice(end + 4);
        seen.push(head);
        const cseq = /CSeq: (\d+)/.exec(head)?.[1];
        const answer = Buffer.from(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: abc;timeout=60\r\n\r\n`, 'latin1');
        const bytes = /^PLAY /.test(head) ? Buffer.concat([answer, stream()]) : answer;
        // Sent in pieces with pauses, so that reads end inside frame headers, payloads and messages.
        let offset = 0;
        const next = (): void => {
          if (offset >= bytes.length || socket.destroyed) return;
          const size = Math.max(1, Math.min(cuts(), bytes.length - offset));
          socket.write(bytes.subarray(offset, offset + size));
          offset += size;
          setTimeout(next, 1);
        };
        next();
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, seen };
}

async function client(relay: CameraRelay, requests: string[], expectBytes: number): Promise<Buffer> {
  const url = new URL(relay.url);
  const socket = net.connect({ host: url.hostname, port: Number(url.port) });
  cleanups.push(() => socket.destroy());
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${received} of ${expectBytes} bytes`)), 20_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= expectBytes) {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      }
    });
    socket.write(requests.join(''));
  });
}

describe('camera relay framing', () => {
  it('passes interleaved media through unchanged and answers with the client\'s CSeq, however reads are cut', async () => {
    let seed = 1;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const frames = Array.from({ length: 300 }, (_, i) => frame(i % 4, 1 + (rand() % 1500), i));
    // An answer between frames, as a camera sends one mid-stream, and a blank line.
    const keepAlive = Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 9\r\n\r\n', 'latin1');
    // Passed on as it is: its CSeq is none the relay sent.
    const media = Buffer.concat([...frames.slice(0, 100), Buffer.from('\r\n'), ...frames.slice(100, 200), keepAlive, ...frames.slice(200)]);
    const cam = await scriptedCamera(() => media, () => [1, 2, 3, 5, 700, 4096][rand() % 6]!);
    const relay = await startCameraRelay(parseCameraAddress(`rtsp://127.0.0.1:${cam.port}/live`));
    cleanups.push(() => relay.close());
    // The relay serves only processes it was told of: here, this one.
    relay.admit(process.pid);
    const base = relay.url;
    const requests = [
      `OPTIONS ${base} RTSP/1.0\r\nCSeq: 41\r\n\r\n`,
      `SETUP ${base}/track1 RTSP/1.0\r\nCSeq: 42\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`,
      `PLAY ${base} RTSP/1.0\r\nCSeq: 43\r\nSession: abc\r\n\r\n`,
    ];
    const answers = ['41', '42', '43'].map((c) => `RTSP/1.0 200 OK\r\nCSeq: ${c}\r\nSession: abc;timeout=60\r\n\r\n`).join('');
    const got = await client(relay, requests, answers.length + media.length);
    expect(got.subarray(0, answers.length).toString('latin1')).toBe(answers);
    expect(got.subarray(answers.length).equals(media)).toBe(true);
    // The camera got its own address in every request line, never the relay's.
    expect(cam.seen.map((h) => h.split('\r\n')[0])).toEqual([
      `OPTIONS rtsp://127.0.0.1:${cam.port}/live RTSP/1.0`,
      `SETUP rtsp://127.0.0.1:${cam.port}/live/track1 RTSP/1.0`,
      `PLAY rtsp://127.0.0.1:${cam.port}/live RTSP/1.0`,
    ]);
  });
});

/**
 * A camera with a Digest login that refuses every password (or, with `staleFirst`, answers the first signed
 * request with a stale nonce and accepts the next). Counts the signed requests it got: the logins it judged.
 */
async function lockingCamera(staleFirst = false): Promise<{ port: number; signed: () => number }> {
  let signed = 0;
  const server = net.createServer((socket) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      let end: number;
      while ((end = text.indexOf('\r\n\r\n')) >= 0) {
        const head = text.slice(0, end);
        text = text.slice(end + 4);
        const cseq = /CSeq: (\d+)/.exec(head)?.[1];
        const isSigned = /^Authorization:/im.test(head);
        if (isSigned) signed += 1;
        const stale = staleFirst && isSigned && signed === 1;
        const ok = staleFirst && isSigned && signed > 1;
        socket.write(
          ok
            ? `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n\r\n`
            : `RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Digest realm="cam", nonce="n${signed}"${stale ? ', stale=TRUE' : ''}\r\n\r\n`,
        );
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, signed: () => signed };
}

/** One DESCRIBE through a fresh relay (as each probe and run opens one), and the status line it got back. */
async function describeThrough(port: number, logins: LoginBudget): Promise<string> {
  const relay = await startCameraRelay(parseCameraAddress(`rtsp://127.0.0.1:${port}/live`, 'admin', 'wrong'), { logins });
  relay.admit(process.pid);
  try {
    const answer = await client(relay, [`DESCRIBE ${relay.url} RTSP/1.0\r\nCSeq: 7\r\n\r\n`], 'RTSP/1.0 xxx'.length);
    return answer.toString('latin1').split('\r\n')[0] ?? '';
  } finally {
    relay.close();
  }
}

describe('camera relay: an ffmpeg that is gone', () => {
  it('ends its camera session with TEARDOWN when its connection is reset (killed with unread data), not only when it closes', async () => {
    const cam = await scriptedCamera(() => Buffer.alloc(0), () => 1000);
    const relay = await startCameraRelay(parseCameraAddress(`rtsp://127.0.0.1:${cam.port}/live`));
    cleanups.push(() => relay.close());
    relay.admit(process.pid);
    const url = new URL(relay.url);
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    cleanups.push(() => socket.destroy());
    socket.on('error', () => undefined);
    // A session on the camera, as ffmpeg's SETUP opens one.
    await new Promise<void>((resolve) => {
      socket.once('data', () => resolve());
      socket.write(`SETUP ${relay.url}/track1 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
    });
    // SIGKILL of a process with bytes it never read: the kernel answers with a reset, not a FIN.
    socket.resetAndDestroy();
    const deadline = Date.now() + 5000;
    while (!cam.seen.some((h) => h.startsWith('TEARDOWN ')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(cam.seen.map((h) => h.split(' ')[0])).toEqual(['SETUP', 'TEARDOWN']);
    expect(cam.seen[1]).toMatch(/^TEARDOWN rtsp:\/\/127\.0\.0\.1:\d+\/live\/track1 RTSP\/1\.0\r\n[\s\S]*Session: abc\b/);
  });
});

describe('camera relay logins', () => {
  it('sends the camera no credentials once the recorder\'s budget of refused logins is spent, across relays, until it is renewed', async () => {
    const cam = await lockingCamera();
    const logins = new LoginBudget(3);
    for (let i = 0; i < 5; i++) expect(await describeThrough(cam.port, logins)).toMatch(/^RTSP\/1\.0 401/);
    expect(cam.signed()).toBe(3);
    expect(logins.spent).toBe(true);
    logins.renew();
    expect(await describeThrough(cam.port, logins)).toMatch(/^RTSP\/1\.0 401/);
    expect(cam.signed()).toBe(4);
  });

  it('does not count a stale nonce as a refused login, and a login the camera accepts clears the count', async () => {
    const cam = await lockingCamera(true);
    const logins = new LoginBudget(3);
    logins.refused();
    expect(await describeThrough(cam.port, logins)).toMatch(/^RTSP\/1\.0 200/);
    expect(cam.signed()).toBe(2);
    expect(logins.failed).toBe(0);
  });
});
