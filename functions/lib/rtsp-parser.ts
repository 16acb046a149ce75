// Incremental parser for one RTSP 1.0 TCP connection: messages and `$` interleaved frames, mixed.
// A server (mock camera, forwarder toward its clients) reads requests; a client (forwarder toward the
// camera) reads responses, and the odd request a camera sends back.
import type { RtspIncomingResponse, RtspRequest } from './rtsp-message.js';

export interface ParserLimits {
  /** Request line + headers, terminator included. */
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  readonly maxBodyBytes: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxHeaderBytes: 16 * 1024, maxHeaders: 64, maxBodyBytes: 64 * 1024 };

/** Which messages the reading side expects: a server gets requests, a client also responses. */
export type ParserRole = 'server' | 'client';

/**
 * What the peer sent. `malformed` carries the status to answer with; when `fatal` the byte stream
 * cannot be framed any more, so the connection must be closed after the answer.
 */
export type RtspInput =
  | { readonly kind: 'request'; readonly request: RtspRequest }
  | { readonly kind: 'response'; readonly response: RtspIncomingResponse }
  | { readonly kind: 'interleaved'; readonly channel: number; readonly payload: Buffer }
  | { readonly kind: 'malformed'; readonly status: 400 | 505; readonly reason: string; readonly cseq?: string; readonly fatal: boolean };

const CR = 0x0d;
const LF = 0x0a;
const DOLLAR = 0x24;
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^(\S+) (\S+) (\S+)$/;
const STATUS_LINE = /^RTSP\/(\d\.\d) (\d{3})(?: (.*))?$/;
const DIGITS = /^\d{1,10}$/;

/** RFC 7230 tchar: the bytes a method name may start with. */
function isTokenByte(b: number): boolean {
  return TCHAR.test(String.fromCharCode(b));
}

/** Control bytes have no place in a request head; seeing one means binary garbage. */
function isControlByte(b: number): boolean {
  return (b < 0x20 && b !== 0x09 && b !== CR && b !== LF) || b === 0x7f;
}

export class RtspParser {
  private pending: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(
    private readonly limits: ParserLimits = DEFAULT_LIMITS,
    private readonly role: ParserRole = 'server',
  ) {}

  /** True once a fatal error was returned: the parser ignores all further input. */
  get closed(): boolean {
    return this.failed;
  }

  /** Feeds bytes; returns every complete input they finish, in order. */
  push(chunk: Buffer): RtspInput[] {
    if (this.failed) return [];
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: RtspInput[] = [];
    let offset = 0;
    while (offset < buf.length) {
      // Empty lines between messages are allowed (RFC 2326 §4).
      const first = buf[offset] as number;
      if (first === CR || first === LF) {
        offset += 1;
        continue;
      }
      const step = first === DOLLAR ? this.frame(buf, offset) : this.request(buf, offset);
      if (step === undefined) break;
      out.push(step.input);
      if (step.input.kind === 'malformed' && step.input.fatal) {
        this.failed = true;
        this.pending = Buffer.alloc(0);
        return out;
      }
      offset = step.next;
    }
    // Copy the tail so a large chunk is not kept alive by a few leftover bytes.
    this.pending = offset >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(offset));
    return out;
  }

  /**
   * One message or frame at the start of `buf`, with the offset just past it; undefined while `buf` holds only
   * part of it. Keeps no state: for a reader that passes interleaved media on as the bytes that came and
   * parses only the messages between frames.
   */
  parseOne(buf: Buffer): { input: RtspInput; next: number } | undefined {
    if (buf.length === 0) return undefined;
    return buf[0] === DOLLAR ? this.frame(buf, 0) : this.request(buf, 0);
  }

  private frame(buf: Buffer, offset: number): { input: RtspInput; next: number } | undefined {
    if (buf.length - offset < 4) return undefined;
    const size = buf.readUInt16BE(offset + 2);
    if (buf.length - offset < 4 + size) return undefined;
    const payload = buf.subarray(offset + 4, offset + 4 + size);
    return { input: { kind: 'interleaved', channel: buf[offset + 1] as number, payload }, next: offset + 4 + size };
  }

  private request(buf: Buffer, offset: number): { input: RtspInput; next: number } | undefined {
    const fatal = (reason: string): { input: RtspInput; next: number } => ({
      input: { kind: 'malformed', status: 400, reason, fatal: true },
      next: buf.length,
    });
    if (!isTokenByte(buf[offset] as number)) return fatal('binary data where a request should start');
    const end = this.headEnd(buf, offset);
    if (end === 'binary') return fatal('control bytes in the request head');
    if (end === undefined) {
      return buf.length - offset > this.limits.maxHeaderBytes ? fatal('request head too large') : undefined;
    }
    if (end.bodyStart - offset > this.limits.maxHeaderBytes) return fatal('request head too large');
    const lines = buf.toString('utf8', offset, end.headEnd).split(/\r?\n/);
    const length = contentLength(lines);
    if (length === 'invalid') return fatal('invalid Content-Length');
    if (length > this.limits.maxBodyBytes) return fatal('body too large');
    if (buf.length < end.bodyStart + length) return undefined;
    const body = Buffer.from(buf.subarray(end.bodyStart, end.bodyStart + length));
    return { input: this.message(lines, body), next: end.bodyStart + length };
  }

  /** Finds the blank line ending the head (CRLF CRLF, or bare LF LF from sloppy clients). */
  private headEnd(buf: Buffer, offset: number): { headEnd: number; bodyStart: number } | 'binary' | undefined {
    const limit = Math.min(buf.length, offset + this.limits.maxHeaderBytes + 4);
    for (let i = offset; i < limit; i += 1) {
      const b = buf[i] as number;
      if (isControlByte(b)) return 'binary';
      if (b !== LF) continue;
      let j = i + 1;
      if (j < buf.length && buf[j] === CR) j += 1;
      if (j >= buf.length) return undefined;
      if (buf[j] === LF) return { headEnd: buf[i - 1] === CR ? i - 1 : i, bodyStart: j + 1 };
    }
    return undefined;
  }

  private message(lines: string[], body: Buffer): RtspInput {
    if (this.role === 'client' && lines[0]?.startsWith('RTSP/') === true) return this.response(lines, body);
    const bad = (reason: string, cseq?: string): RtspInput => ({ kind: 'malformed', status: 400, reason, fatal: false, ...(cseq ? { cseq } : {}) });
    const { headers, fields, badLine } = headerMap(lines.slice(1));
    // Found first, so that even a 400 can echo it.
    const cseqs = headers.get('cseq') ?? [];
    const cseq = cseqs.length === 1 && DIGITS.test(cseqs[0] ?? '') ? cseqs[0] : undefined;
    if (lines.length - 1 > this.limits.maxHeaders) return bad('too many headers', cseq);
    if (badLine) return bad('malformed header line', cseq);
    const m = REQUEST_LINE.exec(lines[0] ?? '');
    if (!m) return bad('malformed request line', cseq);
    const [, method = '', uri = '', version = ''] = m;
    if (!TCHAR.test(method)) return bad('malformed method', cseq);
    if (!/^RTSP\/\d\.\d$/.test(version)) return bad('not an RTSP request', cseq);
    if (version !== 'RTSP/1.0') return { kind: 'malformed', status: 505, reason: `unsupported version ${version}`, fatal: false, ...(cseq ? { cseq } : {}) };
    if (cseq === undefined) return bad(cseqs.length === 0 ? 'missing CSeq' : 'invalid CSeq');
    return { kind: 'request', request: { method, uri, headers, fields, body, cseq } };
  }

  /** A status line and its headers; a broken one is fatal, since a client cannot answer a response. */
  private response(lines: string[], body: Buffer): RtspInput {
    const m = STATUS_LINE.exec(lines[0] ?? '');
    const { headers, fields, badLine } = headerMap(lines.slice(1));
    if (!m || badLine || lines.length - 1 > this.limits.maxHeaders) {
      return { kind: 'malformed', status: 400, reason: 'malformed response', fatal: true };
    }
    const cseqs = headers.get('cseq') ?? [];
    const cseq = cseqs.length === 1 && DIGITS.test(cseqs[0] ?? '') ? cseqs[0] : undefined;
    return {
      kind: 'response',
      response: { version: `RTSP/${m[1] ?? ''}`, status: Number(m[2]), reason: m[3] ?? '', headers, fields, body, ...(cseq ? { cseq } : {}) },
    };
  }
}

function headerMap(lines: readonly string[]): { headers: Map<string, string[]>; fields: Array<[string, string]>; badLine: boolean } {
  const headers = new Map<string, string[]>();
  const fields: Array<[string, string]> = [];
  let badLine = false;
  for (const line of lines) {
    // Folded continuation lines are obsolete; nobody sends them to a camera.
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TCHAR.test(name)) {
      badLine = true;
      continue;
    }
    const key = name.toLowerCase();
    const values = headers.get(key) ?? [];
    const value = line.slice(colon + 1).trim();
    values.push(value);
    headers.set(key, values);
    fields.push([name, value]);
  }
  return { headers, fields, badLine };
}

/** Content-Length frames the body: anything but one clean number (or several equal ones) makes the stream unframeable. */
function contentLength(lines: readonly string[]): number | 'invalid' {
  let found: string | undefined;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (!DIGITS.test(value) || (found !== undefined && found !== value)) return 'invalid';
    found = value;
  }
  return found === undefined ? 0 : Number(found);
}
