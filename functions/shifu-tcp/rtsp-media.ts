// What the forwarder needs to know about the media: codecs from the SDP. RTP headers and keyframe starts live in
// lib (live view reads them too) and are re-exported here.

import type { VideoCodec } from '../lib/index.js';

export { beginsKeyframeNal, KeyframeGate, rtpPayloadOffset, rtpTimestamp, type VideoCodec } from '../lib/index.js';

/** One m= section of an SDP: its control attribute and, for video we can inspect, the codec. */
export interface SdpMedia {
  readonly kind: string;
  readonly control: string | undefined;
  readonly codec: VideoCodec | undefined;
}

/** The media sections of an SDP and the session-level control, enough to map SETUP URLs to tracks. */
export function parseSdp(sdp: string): { readonly control: string | undefined; readonly media: SdpMedia[] } {
  const media: Array<{ kind: string; control?: string; codec?: VideoCodec; payloads: string[] }> = [];
  let sessionControl: string | undefined;
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      const [kind = '', , , ...payloads] = line.slice(2).split(' ');
      media.push({ kind, payloads });
      continue;
    }
    const current = media[media.length - 1];
    if (line.startsWith('a=control:')) {
      const value = line.slice('a=control:'.length).trim();
      if (current) current.control = value;
      else sessionControl = value;
    } else if (current && line.startsWith('a=rtpmap:')) {
      const m = /^a=rtpmap:(\d+)\s+([^/\s]+)/.exec(line);
      const name = m?.[2]?.toUpperCase();
      if (m && current.payloads.includes(m[1] ?? '') && (name === 'H264' || name === 'H265')) {
        current.codec = name === 'H264' ? 'h264' : 'h265';
      }
    }
  }
  return {
    control: sessionControl,
    media: media.map((m) => ({ kind: m.kind, control: m.control, codec: m.codec })),
  };
}
