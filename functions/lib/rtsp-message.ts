// RTSP 1.0 messages (RFC 2326): what the parser produces and what servers and clients write.

/** A request as received: header names lower-cased, every value of a repeated header kept. */
export interface RtspRequest {
  readonly method: string;
  readonly uri: string;
  readonly headers: ReadonlyMap<string, readonly string[]>;
  /** Every header line as sent (name's case kept, in order): what a proxy passes on. */
  readonly fields?: HeaderList;
  readonly body: Buffer;
  /** The CSeq header, validated; every response echoes it. */
  readonly cseq: string;
}

/** A response as received (by a client): header names lower-cased, the body as sent. */
export interface RtspIncomingResponse {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly fields: HeaderList;
  readonly body: Buffer;
  readonly cseq?: string;
}

export type HeaderList = ReadonlyArray<readonly [string, string]>;

export interface RtspResponse {
  readonly status: number;
  readonly headers?: HeaderList;
  readonly body?: string;
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  415: 'Unsupported Media Type',
  453: 'Not Enough Bandwidth',
  454: 'Session Not Found',
  455: 'Method Not Valid in This State',
  459: 'Aggregate Operation Not Allowed',
  461: 'Unsupported Transport',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'RTSP Version Not Supported',
  551: 'Option not supported',
};

/** The first value of a header, trimmed. */
export function header(request: Pick<RtspRequest, 'headers'>, name: string): string | undefined {
  return request.headers.get(name.toLowerCase())?.[0]?.trim();
}

/** Bytes of a response; `cseq` is left out only when the request had none we could trust. */
export function serializeResponse(response: RtspResponse, cseq: string | undefined, server: string): Buffer {
  const body = Buffer.from(response.body ?? '', 'utf8');
  const lines = [`RTSP/1.0 ${response.status} ${STATUS_TEXT[response.status] ?? 'Unknown'}`];
  if (cseq !== undefined) lines.push(`CSeq: ${cseq}`);
  lines.push(`Server: ${server}`);
  for (const [name, value] of response.headers ?? []) lines.push(`${name}: ${value}`);
  if (body.length > 0) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

/**
 * Bytes of a message passed on between peers: `head` is the request or status line, headers go in the
 * order given (values as received), Content-Length is written from the body.
 */
export function serializeMessage(head: string, headers: HeaderList, body: Buffer): Buffer {
  const lines = [head];
  for (const [name, value] of headers) if (name.toLowerCase() !== 'content-length') lines.push(`${name}: ${value}`);
  if (body.length > 0) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

/** An interleaved frame (RFC 2326 §10.12): `$`, channel, 16-bit length, payload. */
export function interleavedHeader(channel: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(4);
  head[0] = 0x24;
  head[1] = channel;
  head.writeUInt16BE(length, 2);
  return head;
}
