// WHEP's rules that need no browser: which offers are refused and why, the candidates announced, and werift's
// configuration (never its default public STUN server).
import { describe, expect, it } from 'vitest';
import { announce, checkOffer, matchOffer, peerConfig } from '../../functions/live/whep.js';
import { codecsOf } from '../../functions/live/rtp-source.js';

const session = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n';
const video = (codecs: string[]) => `m=video 9 UDP/TLS/RTP/SAVPF ${codecs.map((_, i) => 96 + i).join(' ')}\r\n${codecs.map((c, i) => `a=rtpmap:${96 + i} ${c}/90000\r\n`).join('')}`;
const settings = { udpPorts: { min: 8189, max: 8199 }, addresses: [], iceServers: [] };

describe('WHEP', () => {
  it('refuses an offer without video or without H.264, naming the reason; takes G.711 audio when both have it', () => {
    const camera = { video: 'H264', audio: 'PCMA' as const };
    expect(() => checkOffer(`${session}m=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=rtpmap:8 PCMA/8000\r\n`)).toThrow(/^offer: no video/);
    expect(() => checkOffer(`${session}${video(['VP8', 'VP9'])}`)).toThrow(/no codec in common: live view sends H264, the offer has VP8, VP9/);
    expect(() => checkOffer('hello')).toThrow(/^offer: not an SDP offer/);
    expect(() => matchOffer(`${session}${video(['H264'])}`, { video: 'JPEG', audio: undefined })).toThrow(/no codec in common: the camera sends JPEG/);
    expect(matchOffer(`${session}${video(['VP8', 'H264'])}m=audio 9 UDP/TLS/RTP/SAVPF 111 8\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:8 PCMA/8000\r\n`, camera)).toEqual({ audio: true });
    expect(matchOffer(`${session}${video(['H264'])}`, { video: 'H264', audio: undefined })).toEqual({ audio: false });
  });

  it('reads the codecs of ffmpeg\'s RTP outputs: H.264 and G.711 by static payload type; AAC is no WebRTC audio', () => {
    expect(codecsOf('v=0\nm=video 1 RTP/AVP 96\na=rtpmap:96 H264/90000\nm=audio 2 RTP/AVP 0\n')).toEqual({ video: 'H264', audio: 'PCMU' });
    expect(codecsOf('v=0\nm=video 1 RTP/AVP 96\na=rtpmap:96 H264/90000\nm=audio 2 RTP/AVP 97\na=rtpmap:97 MPEG4-GENERIC/16000/1\n')).toEqual({ video: 'H264', audio: undefined, otherAudio: 'MPEG4-GENERIC' });
    // AAC encoded to Opus for WebRTC: what the source then sends, and what an offer with Opus gets.
    expect(codecsOf('v=0\nm=video 1 RTP/AVP 96\na=rtpmap:96 H264/90000\nm=audio 2 RTP/AVP 97\na=rtpmap:97 opus/48000/2\n')).toEqual({ video: 'H264', audio: 'OPUS' });
    expect(matchOffer(`${session}${video(['H264'])}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n`, { video: 'H264', audio: 'OPUS' })).toEqual({ audio: true });
    expect(peerConfig(settings, 'OPUS').codecs?.audio?.map((c) => [c.mimeType, c.clockRate, c.channels])).toEqual([['audio/OPUS', 48000, 2]]);
  });

  it('announces LIVE_WEBRTC_ADDRESSES in place of the gathered host candidates, on the port ICE bound', () => {
    const answer = ['v=0', 'a=candidate:1 1 udp 2130706431 10.1.2.3 8190 typ host', 'a=candidate:2 1 udp 2130706431 172.17.0.5 8191 typ host', 'a=end-of-candidates', ''].join('\r\n');
    const out = announce(answer, ['192.0.2.10', '198.51.100.7']);
    expect(out.split('\r\n').filter((l) => l.startsWith('a=candidate:'))).toEqual([
      'a=candidate:10 1 udp 2130706431 192.0.2.10 8190 typ host',
      'a=candidate:11 1 udp 2130706430 198.51.100.7 8190 typ host',
      'a=candidate:20 1 udp 2130706431 192.0.2.10 8191 typ host',
      'a=candidate:21 1 udp 2130706430 198.51.100.7 8191 typ host',
    ]);
    expect(announce(answer, [])).toBe(answer);
  });

  it('gives werift no ICE server unless LIVE_ICE_SERVERS names one (its default is a public STUN server)', () => {
    expect(peerConfig(settings, undefined).iceServers).toEqual([]);
    expect(peerConfig(settings, 'PCMU').icePortRange).toEqual([8189, 8199]);
    expect(peerConfig({ ...settings, addresses: ['10.250.1.10'] }, undefined).iceInterfaceAddresses).toEqual({ udp4: '10.250.1.10' });
  });
});
