import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Authenticator } from '../../functions/mock-camera/auth.js';
import { parseAuthParams } from '../../functions/lib/index.js';
import { joinRepeatedFlag } from '../../functions/mock-camera/repeated-flag.js';
import { parseSdp, playerSdp } from '../../functions/mock-camera/sdp.js';
import { parseStreamSpec, parseStreamSpecs } from '../../functions/mock-camera/stream-spec.js';
import { Stream } from '../../functions/mock-camera/stream.js';
import { testPatternArguments } from '../../functions/mock-camera/test-pattern.js';
import { formatTransport, parseTransport } from '../../functions/lib/index.js';
import { zPortRange } from '../../functions/lib/index.js';
import { contentBase, relativeTo, requestPath } from '../../functions/mock-camera/uri.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

// What `ffmpeg -f rtsp` announces for H.264 + G.711.
const FFMPEG_SDP = [
  'v=0',
  'o=- 0 0 IN IP4 127.0.0.1',
  's=No Name',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'a=tool:libavformat 59.27.100',
  'm=video 0 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
  'a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LADdkBQfsBEAAAAwAQAAADAPDxQqSA,aMuMsg==; profile-level-id=42C00D',
  'a=control:streamid=0',
  'm=audio 0 RTP/AVP 8',
  'b=AS:64',
  'a=control:streamid=1',
  '',
].join('\r\n');

describe('Transport header', () => {
  it('reads interleaved TCP, UDP client ports and the record mode', () => {
    expect(parseTransport('RTP/AVP/TCP;unicast;interleaved=2-3')).toEqual({ lower: 'tcp', mode: 'play', interleaved: [2, 3] });
    expect(parseTransport('RTP/AVP/TCP;unicast;interleaved=0-1;mode=record')).toEqual({ lower: 'tcp', mode: 'record', interleaved: [0, 1] });
    expect(parseTransport('RTP/AVP/TCP;unicast')).toEqual({ lower: 'tcp', mode: 'play' });
    expect(parseTransport('RTP/AVP;unicast;client_port=5000-5001')).toEqual({ lower: 'udp', mode: 'play', clientPorts: [5000, 5001] });
    expect(parseTransport('RTP/AVP/UDP;unicast;client_port=5000;mode="PLAY"')).toEqual({ lower: 'udp', mode: 'play', clientPorts: [5000, 5001] });
  });

  it('takes the first alternative it supports; multicast and nonsense are not', () => {
    expect(parseTransport('RTP/AVP;multicast, RTP/AVP/TCP;unicast;interleaved=4-5')).toEqual({ lower: 'tcp', mode: 'play', interleaved: [4, 5] });
    for (const bad of ['', 'RTP/AVP;multicast', 'RAW/RAW/UDP;unicast', 'RTP/AVP;unicast', 'RTP/AVP;unicast;client_port=0-1', 'RTP/AVP/TCP;interleaved=300-301', 'RTP/AVP;client_port=1-2;mode=teleport']) {
      expect(parseTransport(bad), bad).toBeUndefined();
    }
  });

  it('answers with the channels or both port pairs', () => {
    expect(formatTransport({ lower: 'tcp', channels: [0, 1], mode: 'record' })).toBe('RTP/AVP/TCP;unicast;interleaved=0-1;mode=record');
    expect(formatTransport({ lower: 'udp', clientPorts: [5000, 5001], serverPorts: [30000, 30001], mode: 'play' })).toBe(
      'RTP/AVP;unicast;client_port=5000-5001;server_port=30000-30001',
    );
  });
});

describe('SDP', () => {
  it('reads the media and their publisher controls', () => {
    const sdp = parseSdp(FFMPEG_SDP);
    expect(sdp?.media.map((m) => [m.kind, m.control])).toEqual([
      ['video', 'streamid=0'],
      ['audio', 'streamid=1'],
    ]);
  });

  it('gives players the same formats with our controls and no publisher address', () => {
    const out = playerSdp(parseSdp(FFMPEG_SDP)!);
    expect(out).toContain('a=rtpmap:96 H264/90000');
    expect(out).toContain('sprop-parameter-sets=Z0LADdkBQfsBEAAAAwAQAAADAPDxQqSA,aMuMsg==');
    expect(out).toContain('m=audio 0 RTP/AVP 8');
    expect(out.match(/a=control:.*/g)).toEqual(['a=control:*', 'a=control:trackID=0', 'a=control:trackID=1']);
    expect(out).not.toContain('127.0.0.1');
    expect(out.endsWith('\r\n')).toBe(true);
  });

  it('refuses what is not an SDP', () => {
    for (const bad of ['', 'hello', 'v=0\r\ns=x\r\n', 'v=0\r\nm=video\r\n', `v=0\r\n${'m=video 0 RTP/AVP 96\r\n'.repeat(9)}`, 'v=0\r\nbogus\r\nm=video 0 RTP/AVP 96']) {
      expect(parseSdp(bad), bad).toBeUndefined();
    }
  });

  it('maps SETUP URLs to tracks: ours for players, the publisher’s own controls too for publishers', () => {
    const stream = new Stream('/pub', parseSdp(FFMPEG_SDP)!);
    expect(stream.trackFor('trackID=1', 'play')).toBe(1);
    expect(stream.trackFor('streamid=1', 'play')).toBeUndefined();
    expect(stream.trackFor('streamid=1', 'record')).toBe(1);
    expect(stream.trackFor('', 'play')).toBeUndefined();
    const absolute = new Stream('/a/b', parseSdp(FFMPEG_SDP.replace('a=control:streamid=0', 'a=control:rtsp://h:1/a/b/stream=0'))!);
    expect(absolute.trackFor('stream=0', 'record')).toBe(0);
  });
});

describe('request URIs', () => {
  it('extracts the path, tolerating queries, trailing slashes and controls after a query', () => {
    expect(requestPath('rtsp://cam:554/Streaming/Channels/101')).toBe('/Streaming/Channels/101');
    expect(requestPath('rtsp://user@cam/Streaming/Channels/101/?transportmode=unicast')).toBe('/Streaming/Channels/101');
    expect(requestPath('rtsp://cam/a?x=1/trackID=0')).toBe('/a/trackID=0');
    expect(requestPath('rtsp://cam')).toBe('/');
    expect(requestPath('/a/b/')).toBe('/a/b');
    expect(requestPath('*')).toBeUndefined();
    expect(requestPath('http://cam/a')).toBeUndefined();
    expect(requestPath('rtsp://cam/a//b')).toBeUndefined();
    expect(requestPath('rtsp://cam/%E0%A4%A')).toBeUndefined();
  });

  it('relates track URLs to their stream and builds the Content-Base', () => {
    expect(relativeTo('/a', '/a/trackID=0')).toBe('trackID=0');
    expect(relativeTo('/a', '/a')).toBe('');
    expect(relativeTo('/a', '/ab/trackID=0')).toBeUndefined();
    expect(contentBase('rtsp://h:8554/a?x=1', '/a')).toBe('rtsp://h:8554/a/');
  });
});

describe('stream specs', () => {
  it('fills empty fields with the defaults', () => {
    expect(parseStreamSpec('/cam')).toEqual({ path: '/cam', video: 'h264', width: 640, height: 360, fps: 25, gop: 50, audio: 'pcma' });
    expect(parseStreamSpec('/Streaming/Channels/102:H265:320x240:15::aac')).toEqual({
      path: '/Streaming/Channels/102', video: 'h265', width: 320, height: 240, fps: 15, gop: 30, audio: 'aac',
    });
    expect(parseStreamSpec('/x::::10:none')).toMatchObject({ gop: 10, audio: 'none' });
  });

  it('reads lists separated by commas or spaces; none means publish-only', () => {
    expect(parseStreamSpecs('/a, /b:h265 /c').map((p) => p.path)).toEqual(['/a', '/b', '/c']);
    expect(parseStreamSpecs('none')).toEqual([]);
  });

  it.each([
    ['cam', /must start with \//],
    ['/a//b', /path/],
    ['/a/trackID=0', /path/],
    ['/a:vp8', /video "vp8"/],
    ['/a:h264:640', /WIDTHxHEIGHT/],
    ['/a:h264:641x360', /even/],
    ['/a:h264:640x360:0', /fps/],
    ['/a:h264:640x360:25:0', /GOP/],
    ['/a:h264:640x360:25:50:opus', /audio "opus"/],
    ['/a:h264:640x360:25:50:pcma:extra', /more than 6 fields/],
  ])('rejects %s', (spec, message) => {
    expect(() => parseStreamSpec(spec)).toThrow(message);
  });

  it('rejects a path given twice and an empty list', () => {
    expect(() => parseStreamSpecs('/a,/a:h265')).toThrow(/twice/);
    expect(() => parseStreamSpecs(' , ')).toThrow(/no stream/);
  });
});

describe('test-pattern ffmpeg command', () => {
  it('encodes H.264 + G.711 at the spec’s size, rate and GOP, and publishes over RTSP/TCP', () => {
    const args = testPatternArguments(parseStreamSpec('/cam:h264:320x240:15:30:pcmu'), 'rtsp://u:p@127.0.0.1:1/cam').join(' ');
    expect(args).toContain('testsrc2=size=320x240:rate=15');
    expect(args).toContain('-c:v libx264 -preset ultrafast -tune zerolatency');
    expect(args).toContain('-g 30 -keyint_min 30');
    expect(args).toContain('-c:a pcm_mulaw -ar 8000 -ac 1');
    expect(args.endsWith('-f rtsp -rtsp_transport tcp rtsp://u:p@127.0.0.1:1/cam')).toBe(true);
  });

  it('uses libx265 for H.265 and leaves audio out for none', () => {
    const args = testPatternArguments(parseStreamSpec('/cam:h265::::none'), 'rtsp://x/cam');
    expect(args).toContain('libx265');
    expect(args.join(' ')).not.toContain('sine=');
    expect(args).not.toContain('-c:a');
  });
});

describe('authentication', () => {
  const account = { user: 'admin', password: 's3cret:pw' };
  const digest = new Authenticator('both');

  function digestHeader(o: { user?: string; password?: string; method?: string; uri?: string; qop?: boolean; nonce?: string; realm?: string }): string {
    const user = o.user ?? account.user;
    const realm = o.realm ?? digest.realm;
    const nonce = o.nonce ?? digest.nonce;
    const uri = o.uri ?? 'rtsp://cam/a';
    const ha1 = md5(`${user}:${realm}:${o.password ?? account.password}`);
    const ha2 = md5(`${o.method ?? 'DESCRIBE'}:${uri}`);
    const response = o.qop ? md5(`${ha1}:${nonce}:00000001:abcdef:auth:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    const qop = o.qop ? ', qop=auth, nc=00000001, cnonce="abcdef"' : '';
    return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}"${qop}`;
  }

  it('challenges with Digest (MD5, one nonce per start) and Basic', () => {
    expect(digest.challenges()).toEqual([`Digest realm="${digest.realm}", nonce="${digest.nonce}", algorithm=MD5`, `Basic realm="${digest.realm}"`]);
    expect(digest.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(new Authenticator('both').nonce).not.toBe(digest.nonce);
    expect(new Authenticator('digest').challenges()).toHaveLength(1);
    expect(new Authenticator('basic').challenges()[0]).toMatch(/^Basic /);
  });

  it('accepts the right Digest response, with or without qop', () => {
    expect(digest.verify('DESCRIBE', digestHeader({}), [account])).toBe(account);
    expect(digest.verify('DESCRIBE', digestHeader({ qop: true }), [account])).toBe(account);
  });

  it('refuses a wrong password, user, method, nonce or realm', () => {
    for (const o of [{ password: 'nope' }, { user: 'root' }, { method: 'SETUP' }, { nonce: 'f'.repeat(32) }, { realm: 'other' }]) {
      expect(digest.verify('DESCRIBE', digestHeader(o), [account]), JSON.stringify(o)).toBeUndefined();
    }
  });

  it('checks Basic credentials (passwords may hold colons)', () => {
    const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    expect(digest.verify('PLAY', basic('admin', 's3cret:pw'), [account])).toBe(account);
    expect(digest.verify('PLAY', basic('admin', 'wrong'), [account])).toBeUndefined();
    expect(digest.verify('PLAY', 'Basic !!!', [account])).toBeUndefined();
    expect(new Authenticator('digest').verify('PLAY', basic('admin', 's3cret:pw'), [account])).toBeUndefined();
    expect(new Authenticator('basic').verify('DESCRIBE', digestHeader({}), [account])).toBeUndefined();
  });

  it('reads quoted and bare auth parameters', () => {
    const p = parseAuthParams('username="a b", realm="x,\\"y", nc=00000001, qop=auth');
    expect(Object.fromEntries(p)).toEqual({ username: 'a b', realm: 'x,"y', nc: '00000001', qop: 'auth' });
  });
});

describe('options', () => {
  it('folds a repeated --stream into one list', () => {
    expect(joinRepeatedFlag(['--stream', '/a', '--listen', ':1', '--stream=/b'], 'stream')).toEqual(['--stream=/a,/b', '--listen', ':1']);
    expect(joinRepeatedFlag(['--listen', ':1'], 'stream')).toEqual(['--listen', ':1']);
  });

  it('checks the RTP port range', () => {
    expect(zPortRange.parse('30000-30999')).toEqual({ min: 30000, max: 30999 });
    for (const bad of ['30001-30999', '30000-30000', '100-200', '30000', '60000-70000']) expect(zPortRange.safeParse(bad).success, bad).toBe(false);
  });
});
