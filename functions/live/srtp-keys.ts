// werift's SRTP makes a node:crypto cipher for every packet (each packet has an IV of its own), passing the session
// key as a Buffer, which node:crypto imports again on every call. The same key as a KeyObject is imported once:
// werift's own encrypt of a 1200-byte packet, measured 21-27 -> 7-10 us with AES-GCM and 36-100 -> 15 us with AES-CM +
// HMAC-SHA1 (the HMAC key too; `npm run bench -- live-load` prints both), for every packet to every viewer. Nothing of
// SRTP is ours: werift's ciphers do what they did, with the key node:crypto would have made of the Buffer.
import { createSecretKey } from 'node:crypto';
import type { SrtcpSession, SrtpSession } from 'werift';

/** The keys werift's ciphers (CipherAesGcm, CipherAesCtr) hand to createCipheriv, createDecipheriv and createHmac. */
const KEY_FIELDS = ['srtpSessionKey', 'srtcpSessionKey', 'srtpSessionAuthTag', 'srtcpSessionAuthTag'] as const;

/**
 * Gives the transport's SRTP and SRTCP ciphers their keys as KeyObjects, once SRTP has started (werift starts it
 * when DTLS connects, before the connection says `connected`). Returns how many keys it replaced: 0 before SRTP
 * starts, or if a werift release keeps its keys elsewhere (then nothing changes; test/unit/live-srtp-keys.test.ts
 * fails on such a release). A later renegotiation makes new ciphers with Buffer keys: slower, still right.
 */
export function importSrtpKeys(transport: { readonly srtp?: SrtpSession; readonly srtcp?: SrtcpSession }): number {
  let replaced = 0;
  // Undefined on werift's RTCDtlsTransport until DTLS has connected, whatever its declared types say.
  for (const session of [transport.srtp, transport.srtcp]) {
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
