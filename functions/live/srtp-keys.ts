// werift's SRTP makes a node:crypto cipher for every packet (each packet has an IV of its own), passing the session
// key as a Buffer, which node:crypto imports again on every call. The same key as a KeyObject is imported once:
// werift's own encrypt, a 1200-byte packet, measured 27 -> 7 us with AES-GCM and 80-100 -> 15 us with AES-CM +
// HMAC-SHA1 (the HMAC key too), and each viewer's forwarder sends every packet of the stream through it. Nothing of
// SRTP is ours: werift's ciphers do what they did, with the key node:crypto would have made of the Buffer.
import { createSecretKey } from 'node:crypto';
import type { RTCDtlsTransport } from 'werift';

/** The keys werift's ciphers (CipherAesGcm, CipherAesCtr) hand to createCipheriv, createDecipheriv and createHmac. */
const KEY_FIELDS = ['srtpSessionKey', 'srtcpSessionKey', 'srtpSessionAuthTag', 'srtcpSessionAuthTag'] as const;

/**
 * Gives the transport's SRTP and SRTCP ciphers their keys as KeyObjects, once SRTP has started (werift starts it
 * when DTLS connects, before the connection says `connected`). Returns how many keys it replaced: 0 before SRTP
 * starts, or if a werift release keeps its keys elsewhere (then nothing changes; test/unit/live-srtp-keys.test.ts
 * fails on such a release). A later renegotiation makes new ciphers with Buffer keys: slower, still right.
 */
export function importSrtpKeys(transport: Pick<RTCDtlsTransport, 'srtp' | 'srtcp'>): number {
  let replaced = 0;
  // Undefined until DTLS has connected, whatever the declared types say.
  for (const session of [transport.srtp as RTCDtlsTransport['srtp'] | undefined, transport.srtcp as RTCDtlsTransport['srtcp'] | undefined]) {
    if (!session) continue;
    for (const context of [session.localContext, session.remoteContext]) {
      const cipher = context?.cipher as unknown as Record<string, unknown> | undefined;
      if (!cipher) continue;
      for (const field of KEY_FIELDS) {
        const key = cipher[field];
        if (Buffer.isBuffer(key)) {
          cipher[field] = createSecretKey(key);
          replaced++;
        }
      }
    }
  }
  return replaced;
}
