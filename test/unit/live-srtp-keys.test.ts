// The SRTP keys handed to werift's ciphers as KeyObjects (functions/live/srtp-keys.ts): against werift's own SRTP and
// SRTCP sessions, both profiles it picks, the packets must be the very bytes werift made with Buffer keys, and a
// peer with the same keys must read them. A werift release that keeps its keys elsewhere fails the first test.
import { KeyObject, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyLength, ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80, RtcpRrPacket, RtpHeader, saltLength, SrtcpSession, SrtpSession } from 'werift';
import { importSrtpKeys } from '../../functions/live/srtp-keys.js';

const PROFILES = [
  ['AES-GCM', ProtectionProfileAeadAes128Gcm, 8],
  // AES-CM's ciphers also hold an HMAC-SHA1 key each for SRTP and SRTCP.
  ['AES-CM + HMAC-SHA1', ProtectionProfileAes128CmHmacSha1_80, 16],
] as const;

type Profile = Parameters<typeof keyLength>[0];

function keysFor(profile: Profile): { local: [Buffer, Buffer]; remote: [Buffer, Buffer] } {
  return { local: [randomBytes(keyLength(profile)), randomBytes(saltLength(profile))], remote: [randomBytes(keyLength(profile)), randomBytes(saltLength(profile))] };
}

/** A transport's two sessions, as werift's RTCDtlsTransport holds them once DTLS has connected. */
function transport(profile: Profile, keys: ReturnType<typeof keysFor>, side: 'a' | 'b'): { srtp: SrtpSession; srtcp: SrtcpSession } {
  const [mine, theirs] = side === 'a' ? [keys.local, keys.remote] : [keys.remote, keys.local];
  const config = { keys: { localMasterKey: mine[0], localMasterSalt: mine[1], remoteMasterKey: theirs[0], remoteMasterSalt: theirs[1] }, profile };
  return { srtp: new SrtpSession(config), srtcp: new SrtcpSession(config) };
}

const rtcp = (): Buffer => new RtcpRrPacket({ ssrc: 0x1234, reports: [] }).serialize();

describe('live: SRTP keys as KeyObjects', () => {
  for (const [name, profile, keyCount] of PROFILES) {
    it(`${name}: werift's ciphers get their keys as KeyObjects, and send the same bytes as with Buffers`, () => {
      const keys = keysFor(profile);
      const plain = transport(profile, keys, 'a');
      const imported = transport(profile, keys, 'a');
      expect(importSrtpKeys(imported)).toBe(keyCount);
      expect(imported.srtp.localContext.cipher.srtpSessionKey).toBeInstanceOf(KeyObject);
      expect(imported.srtcp.remoteContext.cipher.srtcpSessionKey).toBeInstanceOf(KeyObject);
      // Once done, nothing is left to replace.
      expect(importSrtpKeys(imported)).toBe(0);
      for (let sequenceNumber = 65530; sequenceNumber < 65542; sequenceNumber++) {
        const payload = randomBytes(1200);
        const header = (): RtpHeader => new RtpHeader({ payloadType: 96, sequenceNumber: sequenceNumber & 0xffff, timestamp: sequenceNumber * 3000, ssrc: 0x1234, marker: true });
        expect(imported.srtp.encrypt(payload, header()).equals(plain.srtp.encrypt(payload, header())), `packet ${sequenceNumber}`).toBe(true);
      }
      expect(imported.srtcp.encrypt(rtcp()).equals(plain.srtcp.encrypt(rtcp()))).toBe(true);
    });

    it(`${name}: a peer with the same keys, imported too, reads what was sent and refuses a packet changed on the way`, () => {
      const keys = keysFor(profile);
      const sender = transport(profile, keys, 'a');
      const receiver = transport(profile, keys, 'b');
      importSrtpKeys(sender);
      importSrtpKeys(receiver);
      const payload = randomBytes(1200);
      const sent = sender.srtp.encrypt(payload, new RtpHeader({ payloadType: 96, sequenceNumber: 7, timestamp: 90000, ssrc: 0x1234 }));
      expect(receiver.srtp.decrypt(sent).subarray(12).equals(payload)).toBe(true);
      expect(receiver.srtcp.decrypt(sender.srtcp.encrypt(rtcp())).equals(rtcp())).toBe(true);
      const changed = Buffer.from(sender.srtp.encrypt(payload, new RtpHeader({ payloadType: 96, sequenceNumber: 8, timestamp: 93000, ssrc: 0x1234 })));
      changed[40] = changed[40]! ^ 0xff;
      expect(() => receiver.srtp.decrypt(changed)).toThrow();
    });
  }

  it('replaces nothing before SRTP has started', () => {
    expect(importSrtpKeys({})).toBe(0);
  });
});
