// One leg of the camera relay (camera-relay.ts): an ffmpeg's loopback connection and the camera connection it
// maps to. Requests are parsed, signed (the camera's 401 answered here) and renumbered; responses go back with
// ffmpeg's own CSeq; interleaved media passes through as frames, read from the camera in coalesced batches.
import type net from 'node:net';
import {
  DEFAULT_LIMITS,
  interleavedHeader,
  pickChallenge,
  RequestSigner,
  RtspParser,
  serializeMessage,
  type HeaderList,
  type Login,
  type RtspIncomingResponse,
  type RtspInput,
  type RtspRequest,
} from '../lib/index.js';
import type { LoginBudget } from './login-budget.js';

/** Headers of ffmpeg's requests that the relay writes itself. */
const OWN_HEADERS = new Set(['cseq', 'authorization', 'content-length']);
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;
/** The parser's own limits for one message (head + body), past which the camera is not speaking RTSP. */
const MAX_MESSAGE_BYTES = DEFAULT_LIMITS.maxHeaderBytes + DEFAULT_LIMITS.maxBodyBytes;
/** Longest wait between reads of a camera's media (see Leg.coalesce): 2-3 video frames at 25 fps. */
const COALESCE_MS = 100;
/** Bytes queued toward a side that does not read before the other side is paused. */
const HIGH_WATER = 1024 * 1024;

interface Pending {
  readonly request: RtspRequest;
  /** The request line's URI as the camera gets it. */
  readonly uri: string;
  /** The signer it was sent with, if any: a 401 to a signed request is a failed login. */
  signer: RequestSigner | undefined;
  /** Set for the relay's own requests (TEARDOWN): the answer goes here, not to ffmpeg. */
  readonly internal?: (response: RtspIncomingResponse) => void;
}

/** One ffmpeg connection and the camera connection it maps to. */
export class Leg {
  private readonly clientParser = new RtspParser(undefined, 'client');
  private readonly cameraParser = new RtspParser(undefined, 'client');
  /** Camera side: bytes left of the interleaved frame being passed on, a frame header split across reads, a message being collected. */
  private frameLeft = 0;
  private head: Buffer | null = null;
  private message: Buffer | null = null;
  private mediaFlowing = false;
  private coalescing: NodeJS.Timeout | undefined;
  private backpressure = false;
  private signer: RequestSigner | undefined;
  private nextCseq = 1;
  private readonly pending = new Map<string, Pending>();
  /** The session the camera gave, and the last URI it was used with: what a TEARDOWN needs. */
  private session: string | undefined;
  private sessionUri: string | undefined;
  private ended = false;
  /** A TEARDOWN went to the camera (ffmpeg's, or ours). */
  private tornDown = false;

  constructor(
    readonly client: net.Socket,
    readonly camera: net.Socket,
    private readonly relay: {
      readonly login: Login | undefined;
      readonly logins: LoginBudget | undefined;
      toCameraUri(uri: string): string;
      dialFailed(err: NodeJS.ErrnoException): void;
      done(leg: Leg): void;
    },
  ) {
    client.setNoDelay(true);
    camera.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    // ffmpeg closes right after its TEARDOWN: let the camera get it (end, not destroy). One that closes
    // without (killed by the watchdog, or crashed) gets its session ended by us.
    client.on('end', () => {
      if (!this.tornDown) this.sendTeardown(() => undefined);
      camera.end();
    });
    client.on('close', () => this.end(false));
    camera.on('close', () => this.end(true));
    // A reset (ffmpeg killed with bytes it never read, which a media stream nearly always leaves) is an
    // 'error' before the 'close': its session is ended for it like one without a FIN, never just dropped.
    client.on('error', () => this.end(false));
    camera.on('error', (err: NodeJS.ErrnoException) => {
      relay.dialFailed(err);
      this.end(true);
    });
    client.on('drain', () => {
      this.backpressure = false;
      if (this.coalescing === undefined) camera.resume();
    });
    camera.on('drain', () => client.resume());
  }

  get live(): boolean {
    return !this.ended;
  }

  private fromClient(chunk: Buffer): void {
    const inputs = this.clientParser.push(chunk);
    this.camera.cork();
    for (const input of inputs) {
      if (input.kind === 'request') this.sendRequest({ request: input.request, uri: this.relay.toCameraUri(input.request.uri), signer: undefined });
      else if (input.kind === 'interleaved') this.forwardFrame(this.camera, input);
      // ffmpeg's answer to a request of the camera's (CSeq is the camera's own): passed on as it is.
      else if (input.kind === 'response') this.camera.write(serializeMessage(statusLine(input.response), input.response.fields, input.response.body));
      else if (input.fatal) return this.end(true);
    }
    this.camera.uncork();
    if (this.camera.writableLength > HIGH_WATER) this.client.pause();
  }

  /**
   * Camera to ffmpeg. Interleaved media (nearly every byte) passes on as the bytes that came, a read at a time,
   * with only its frame headers looked at; the RTSP messages between frames are parsed and answered. Parsing
   * and re-framing every packet cost about 3x ffmpeg's own CPU per camera (measured: 1.7 % vs 0.65 % of a core
   * at 4 Mbit/s).
   */
  fromCamera(chunk: Buffer): void {
    if (this.ended) return;
    let buf = chunk;
    if (this.message !== null) {
      buf = Buffer.concat([this.message, chunk]);
      this.message = null;
    }
    let i = 0;
    let rawStart = 0;
    if (this.head !== null) {
      // A frame header split across reads: its bytes already went on; only its length is needed.
      const need = 4 - this.head.length;
      if (buf.length < need) {
        this.head = Buffer.concat([this.head, buf]);
        this.client.write(buf);
        return;
      }
      this.frameLeft = Buffer.concat([this.head, buf.subarray(0, need)]).readUInt16BE(2);
      this.head = null;
      i = need;
    }
    while (i < buf.length) {
      if (this.frameLeft > 0) {
        const step = Math.min(this.frameLeft, buf.length - i);
        i += step;
        this.frameLeft -= step;
        continue;
      }
      const b = buf[i];
      if (b === DOLLAR) {
        this.mediaFlowing = true;
        if (buf.length - i < 4) {
          this.head = Buffer.from(buf.subarray(i));
          break;
        }
        this.frameLeft = buf.readUInt16BE(i + 2);
        i += 4;
        continue;
      }
      // Blank lines between messages are allowed (RFC 2326 §4): they go on like media.
      if (b === CR || b === LF) {
        i += 1;
        continue;
      }
      if (i > rawStart) this.client.write(buf.subarray(rawStart, i));
      const parsed = this.cameraParser.parseOne(buf.subarray(i));
      if (parsed === undefined) {
        if (buf.length - i > MAX_MESSAGE_BYTES) return this.giveUp();
        this.message = Buffer.from(buf.subarray(i));
        return;
      }
      const { input } = parsed;
      if (input.kind === 'response') this.answer(input.response);
      // A camera's own request (a keep-alive, SET_PARAMETER): for ffmpeg to answer.
      else if (input.kind === 'request') {
        const r = input.request;
        this.client.write(serializeMessage(`${r.method} ${r.uri} RTSP/1.0`, r.fields ?? [], r.body));
      } else if (input.kind === 'malformed') return this.giveUp();
      i += parsed.next;
      rawStart = i;
    }
    if (buf.length > rawStart) this.client.write(buf.subarray(rawStart));
    if (this.client.writableLength > HIGH_WATER) {
      this.backpressure = true;
      this.camera.pause();
    }
  }

  /**
   * Once media flows, the camera socket is read at most every COALESCE_MS: the kernel gathers the packets
   * between reads, so one read (and one write to ffmpeg) carries several video frames instead of one. Each
   * read and write costs Node far more than the bytes do; a recorder has no use for lower latency.
   */
  coalesce(): void {
    if (!this.mediaFlowing || this.coalescing !== undefined || this.ended) return;
    this.camera.pause();
    this.coalescing = setTimeout(() => {
      this.coalescing = undefined;
      if (!this.backpressure && !this.ended) this.camera.resume();
    }, COALESCE_MS);
  }

  private forwardFrame(to: net.Socket, frame: Extract<RtspInput, { kind: 'interleaved' }>): void {
    to.write(interleavedHeader(frame.channel, frame.payload.length));
    to.write(frame.payload);
  }

  /** Sends a request under the relay's CSeq, signed when the camera has challenged this connection. */
  sendRequest(pending: Pending): void {
    const cseq = String(this.nextCseq++);
    const { request } = pending;
    if (request.method === 'TEARDOWN') this.tornDown = true;
    const fields: Array<readonly [string, string]> = [['CSeq', cseq]];
    for (const field of request.fields ?? []) if (!OWN_HEADERS.has(field[0].toLowerCase())) fields.push(field);
    // With the budget spent nothing is signed: the camera's 401 to an unsigned request costs the account nothing.
    if (this.signer && this.relay.logins?.spent !== true) {
      pending.signer = this.signer;
      fields.push(['Authorization', this.signer.authorization(request.method, pending.uri)]);
    } else pending.signer = undefined;
    this.pending.set(cseq, pending);
    this.camera.write(serializeMessage(`${request.method} ${pending.uri} RTSP/1.0`, fields, request.body));
  }

  private answer(response: RtspIncomingResponse): void {
    const pending = response.cseq === undefined ? undefined : this.pending.get(response.cseq);
    if (!pending) {
      this.client.write(serializeMessage(statusLine(response), response.fields, response.body));
      return;
    }
    this.pending.delete(response.cseq!);
    if (pending.signer !== undefined) this.judgeLogin(response);
    if (response.status === 401 && this.retryWithLogin(pending, response)) return;
    const session = response.headers.get('session')?.[0];
    if (response.status === 200 && session !== undefined) {
      this.session = session.split(';')[0]!.trim();
      this.sessionUri = pending.uri;
    }
    if (pending.internal) return pending.internal(response);
    const fields: Array<readonly [string, string]> = [];
    for (const [name, value] of response.fields) {
      const key = name.toLowerCase();
      if (key === 'cseq') fields.push([name, pending.request.cseq]);
      // ffmpeg has no credentials: a challenge it cannot answer would only make it retry without them.
      else if (key === 'www-authenticate') continue;
      else if (key === 'transport') fields.push([name, this.withSource(value)]);
      else fields.push([name, value]);
    }
    this.client.write(serializeMessage(statusLine(response), fields, response.body));
  }

  /**
   * A 401 to an unsigned request, or to a signed one whose nonce only went stale, is answered with the login
   * once; a 401 to a signed request is a failed login and reaches ffmpeg, so each is counted (and at most
   * one per request reaches the camera).
   */
  private retryWithLogin(pending: Pending, response: RtspIncomingResponse): boolean {
    const login = this.relay.login;
    const challenge = pickChallenge(response.headers.get('www-authenticate') ?? []);
    if (!login || !challenge || this.relay.logins?.spent === true) return false;
    const stale = challenge.scheme === 'digest' && challenge.stale;
    if (pending.signer !== undefined && !stale) return false;
    this.signer = new RequestSigner(challenge, login);
    this.sendRequest(pending);
    return true;
  }

  /** The camera's verdict on a signed request: a 401 (but for a stale nonce) or 403 is a failed login, a success a good one. */
  private judgeLogin(response: RtspIncomingResponse): void {
    const logins = this.relay.logins;
    if (logins === undefined) return;
    if (response.status >= 200 && response.status < 300) logins.accepted();
    else if (response.status === 403) logins.refused();
    else if (response.status === 401) {
      const challenge = pickChallenge(response.headers.get('www-authenticate') ?? []);
      if (!(challenge?.scheme === 'digest' && challenge.stale)) logins.refused();
    }
  }

  /**
   * ffmpeg sends RTCP and its NAT punch packets for UDP media to the RTSP server's address, which for it is
   * the relay's loopback: name the camera as the source, so they reach it.
   */
  private withSource(transport: string): string {
    const address = this.camera.remoteAddress;
    if (address === undefined || !/client_port=/i.test(transport) || /(^|;)\s*source=/i.test(transport)) return transport;
    return `${transport};source=${address}`;
  }

  /** The relay's own TEARDOWN of this leg's session; resolves on the answer or after `waitMs`. */
  teardown(waitMs: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    // ffprobe must not read on: from here on, the relay speaks for it.
    this.client.pause();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      if (
        !this.sendTeardown(() => {
          clearTimeout(timer);
          resolve();
        })
      ) {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** TEARDOWN of the session the camera gave, if any; false when there is none to end. */
  private sendTeardown(answered: () => void): boolean {
    if (this.session === undefined || this.sessionUri === undefined || !this.camera.writable) return false;
    const request: RtspRequest = {
      method: 'TEARDOWN',
      uri: this.sessionUri,
      cseq: '0',
      headers: new Map(),
      fields: [['Session', this.session], ['User-Agent', 'shifu-rtsp']],
      body: Buffer.alloc(0),
    };
    this.sendRequest({ request, uri: this.sessionUri, signer: undefined, internal: answered });
    return true;
  }

  /**
   * The camera sent what cannot be framed: its session is ended with a TEARDOWN (it may still read) before
   * the connection closes, so that it does not hold one of the camera's stream slots until it times out.
   */
  private giveUp(): void {
    if (this.ended) return;
    this.sendTeardown(() => this.camera.destroy());
    this.end(false);
  }

  end(now: boolean): void {
    clearTimeout(this.coalescing);
    if (this.ended) {
      if (now) this.camera.destroy();
      return;
    }
    this.ended = true;
    this.client.destroy();
    if (now) this.camera.destroy();
    else {
      // ffmpeg gone without a TEARDOWN and without a FIN (a reset): end its session for it.
      if (!this.tornDown && this.camera.writable) this.sendTeardown(() => undefined);
      // A TEARDOWN just written is still on its way: the camera side closes a little later, unless it failed.
      setTimeout(() => this.camera.destroy(), 3000).unref();
    }
    this.relay.done(this);
  }
}

function statusLine(response: RtspIncomingResponse): string {
  return `${response.version} ${response.status} ${response.reason}`;
}
