// A loopback relay between ffprobe and the camera, so that a probe that must be stopped still ends its
// camera session: ffprobe has no signal handler (SIGTERM and SIGINT kill it without a TEARDOWN, measured with
// ffprobe 5.1), and a session left open holds one of the camera's few stream slots until it times out.
import { createHash } from 'node:crypto';
import net from 'node:net';

interface Leg {
  readonly client: net.Socket;
  readonly camera: net.Socket;
  /** The last request line's URI and CSeq, and the session the camera gave. */
  uri: string | null;
  cseq: number;
  session: string | null;
  /** The camera's Digest challenge, to sign the TEARDOWN with. */
  digest: { realm: string; nonce: string } | null;
  basic: boolean;
}

export interface ProbeRelay {
  /** The URL ffprobe opens: the camera's, with its host and port replaced by the relay's. */
  readonly url: string;
  /** Sends TEARDOWN for every session on the relay, waits for the answers (at most `waitMs`), then closes. */
  teardown(waitMs?: number): Promise<void>;
  close(): void;
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** Starts a relay for one probe of `cameraUrl` (rtsp://[user:pass@]host[:port]/path). */
export async function startProbeRelay(cameraUrl: string): Promise<ProbeRelay> {
  const target = new URL(cameraUrl);
  const user = decodeURIComponent(target.username);
  const password = decodeURIComponent(target.password);
  const legs = new Set<Leg>();
  const server = net.createServer((client) => {
    const camera = net.connect({ host: target.hostname, port: Number(target.port || 554) });
    const leg: Leg = { client, camera, uri: null, cseq: 0, session: null, digest: null, basic: false };
    legs.add(leg);
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      const line = /^[A-Z_]+ (rtsp:\/\/\S+) RTSP\/1\.0\r?$/m.exec(text);
      if (line) leg.uri = line[1]!;
      const cseq = /^CSeq:\s*(\d+)/im.exec(text);
      if (cseq) leg.cseq = Number(cseq[1]);
      if (/^Authorization:\s*Basic /im.test(text)) leg.basic = true;
      camera.write(chunk);
    });
    camera.on('data', (chunk: Buffer) => {
      // Only the RTSP answers before media flows are read (the session, the challenge); media passes as is.
      if (leg.session === null || leg.digest === null) {
        const text = chunk.toString('latin1');
        const session = /^Session:\s*([^;\r\n]+)/im.exec(text);
        if (session) leg.session = session[1]!.trim();
        const challenge = /^WWW-Authenticate:\s*Digest\s+(.*)$/im.exec(text)?.[1];
        if (challenge) {
          const realm = /realm="([^"]*)"/i.exec(challenge)?.[1];
          const nonce = /nonce="([^"]*)"/i.exec(challenge)?.[1];
          if (realm !== undefined && nonce !== undefined) leg.digest = { realm, nonce };
        }
      }
      client.write(chunk);
    });
    const end = (): void => {
      legs.delete(leg);
      client.destroy();
      camera.destroy();
    };
    client.on('close', end);
    camera.on('close', end);
    client.on('error', end);
    camera.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(cameraUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  const authorization = (leg: Leg, uri: string): string => {
    if (!user) return '';
    if (leg.digest) {
      const response = md5(`${md5(`${user}:${leg.digest.realm}:${password}`)}:${leg.digest.nonce}:${md5(`TEARDOWN:${uri}`)}`);
      return `Authorization: Digest username="${user}", realm="${leg.digest.realm}", nonce="${leg.digest.nonce}", uri="${uri}", response="${response}"\r\n`;
    }
    return leg.basic ? `Authorization: Basic ${Buffer.from(`${user}:${password}`).toString('base64')}\r\n` : '';
  };

  const close = (): void => {
    for (const leg of legs) {
      leg.client.destroy();
      leg.camera.destroy();
    }
    server.close();
  };

  return {
    url: url.toString(),
    close,
    async teardown(waitMs = 1000) {
      const pending = [...legs].filter((leg) => leg.session !== null && leg.uri !== null && !leg.camera.destroyed);
      await Promise.all(
        pending.map(
          (leg) =>
            new Promise<void>((resolve) => {
              // ffprobe's answers must not reach it any more: from here on, the relay speaks for it.
              leg.client.pause();
              leg.camera.removeAllListeners('data');
              const timer = setTimeout(resolve, waitMs);
              leg.camera.on('data', (chunk: Buffer) => {
                if (/^RTSP\/1\.0 /m.test(chunk.toString('latin1'))) {
                  clearTimeout(timer);
                  resolve();
                }
              });
              const uri = leg.uri!;
              leg.camera.write(`TEARDOWN ${uri} RTSP/1.0\r\nCSeq: ${leg.cseq + 1}\r\nSession: ${leg.session}\r\n${authorization(leg, uri)}User-Agent: shifu-rtsp\r\n\r\n`);
            }),
        ),
      );
      close();
    },
  };
}
