// Session descriptions (RFC 4566): what a publisher ANNOUNCEs, and the copy players get from DESCRIBE.

export interface SdpMedia {
  /** `video`, `audio`, `application`... */
  readonly kind: string;
  /** The publisher's `a=control` value, if any. */
  readonly control: string | undefined;
  /** Every line of the section, `m=` first. */
  readonly lines: readonly string[];
}

export interface SessionDescription {
  readonly session: readonly string[];
  readonly media: readonly SdpMedia[];
}

/** More tracks than any camera has: a cap against silly announcements. */
export const MAX_TRACKS = 8;

/** Parses an SDP body; undefined when it is not one (no `v=0`, bad lines, no media, too many media). */
export function parseSdp(text: string): SessionDescription | undefined {
  const lines = text.split(/\r?\n/).filter((l) => l !== '');
  if (lines[0] !== 'v=0') return undefined;
  const session: string[] = [];
  const media: { kind: string; lines: string[] }[] = [];
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) return undefined;
    if (line.startsWith('m=')) {
      const kind = /^m=([a-z]+) \d+(?:\/\d+)? \S+ \S+/.exec(line)?.[1];
      if (kind === undefined) return undefined;
      media.push({ kind, lines: [line] });
    } else if (media.length > 0) media[media.length - 1]?.lines.push(line);
    else session.push(line);
  }
  if (media.length === 0 || media.length > MAX_TRACKS) return undefined;
  return {
    session,
    media: media.map((m) => ({ kind: m.kind, lines: m.lines, control: attribute(m.lines, 'control') })),
  };
}

function attribute(lines: readonly string[], name: string): string | undefined {
  const prefix = `a=${name}:`;
  return lines.find((l) => l.startsWith(prefix))?.slice(prefix.length).trim();
}

/** The control players SETUP for track `index`, relative to the Content-Base. */
export function trackControl(index: number): string {
  return `trackID=${index}`;
}

/**
 * The publisher's SDP as players see it: the same media and formats, our own controls
 * (`*` for the session, `trackID=N` per track) and no publisher address.
 */
export function playerSdp(desc: SessionDescription): string {
  const session = desc.session
    .filter((l) => !l.startsWith('a=control:'))
    .map((l) => (l.startsWith('c=') ? 'c=IN IP4 0.0.0.0' : l.startsWith('o=') ? 'o=- 0 0 IN IP4 0.0.0.0' : l));
  const out = [...session, 'a=control:*'];
  desc.media.forEach((m, index) => {
    out.push(...m.lines.filter((l) => !l.startsWith('a=control:')).map((l) => (l.startsWith('c=') ? 'c=IN IP4 0.0.0.0' : l)));
    out.push(`a=control:${trackControl(index)}`);
  });
  return `${out.join('\r\n')}\r\n`;
}
