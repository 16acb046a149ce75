import { describe, expect, it } from 'vitest';
import { parseAuthParams, pickChallenge, RequestSigner } from '../../functions/lib/index.js';
import { Authenticator } from '../../functions/mock-camera/auth.js';

describe('answering a camera\'s challenge', () => {
  it('computes RFC 2617\'s own example (qop=auth, opaque) to the byte', () => {
    const challenge = pickChallenge([
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    ]);
    expect(challenge).toMatchObject({ scheme: 'digest', qop: 'auth', algorithm: 'MD5', stale: false });
    const signer = new RequestSigner(challenge!, { username: 'Mufasa', password: 'Circle Of Life' }, '0a4f113b');
    const p = parseAuthParams(signer.authorization('GET', '/dir/index.html').replace(/^Digest /, ''));
    expect(p.get('response')).toBe('6629fae49393a05397450978507c4ef1');
    expect(p.get('nc')).toBe('00000001');
    expect(p.get('opaque')).toBe('5ccc069c403ebaf9f0171e9517f40e41');
    // Each request counts up: a camera refuses a replayed nc.
    expect(parseAuthParams(signer.authorization('GET', '/dir/index.html').replace(/^Digest /, '')).get('nc')).toBe('00000002');
  });

  it('is accepted by a camera that checks Digest (RFC 2069 form, no qop) and by one that checks Basic', () => {
    const account = { user: 'admin', password: 'p@ss:w/rd "quoted"' };
    for (const scheme of ['digest', 'basic'] as const) {
      const camera = new Authenticator(scheme);
      const challenge = pickChallenge(camera.challenges());
      expect(challenge?.scheme).toBe(scheme);
      const signer = new RequestSigner(challenge!, { username: account.user, password: account.password });
      const uri = 'rtsp://cam:554/Streaming/Channels/101';
      expect(camera.verify('DESCRIBE', signer.authorization('DESCRIBE', uri), [account])).toBe(account);
      expect(camera.verify('DESCRIBE', new RequestSigner(challenge!, { username: 'admin', password: 'wrong' }).authorization('DESCRIBE', uri), [account])).toBeUndefined();
    }
  });

  it('prefers Digest over Basic, reads stale and MD5-sess, and skips what it cannot answer', () => {
    expect(pickChallenge(['Basic realm="cam"', 'Digest realm="cam", nonce="n1"'])?.scheme).toBe('digest');
    expect(pickChallenge(['Digest realm="cam", nonce="n2", stale=TRUE'])).toMatchObject({ stale: true, nonce: 'n2' });
    expect(pickChallenge(['Digest realm="cam", nonce="n3", algorithm=MD5-sess'])).toMatchObject({ algorithm: 'MD5-sess' });
    // SHA-256 and auth-int alone are not known: fall back to Basic, or to nothing.
    expect(pickChallenge(['Digest realm="cam", nonce="n", algorithm=SHA-256', 'Basic realm="cam"'])?.scheme).toBe('basic');
    expect(pickChallenge(['Digest realm="cam", nonce="n", qop="auth-int"'])).toBeUndefined();
    expect(pickChallenge(['Bearer realm="x"', 'Digest realm="cam"'])).toBeUndefined();
  });
});
