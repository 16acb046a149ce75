import { describe, expect, it } from 'vitest';
import { parseCameraAddress } from '../../functions/recorder/index.js';
import { cameraLogin } from '../../functions/contracts/index.js';

describe('camera address', () => {
  it('adds rtsp:// and port 554 to host[/path]', () => {
    const a = parseCameraAddress('192.168.1.64/Streaming/Channels/101');
    expect(a.displayUrl).toBe('rtsp://192.168.1.64:554/Streaming/Channels/101');
    expect(a.host).toBe('192.168.1.64');
    expect(a.port).toBe(554);
  });

  it('keeps credentials out of the URL, taking a pasted password with @ : / whole', () => {
    const a = parseCameraAddress('rtsp://admin:p@ss:w/rd@cam.local:8554/live');
    expect(a.displayUrl).toBe('rtsp://cam.local:8554/live');
    expect(a.username).toBe('admin');
    expect(a.password).toBe('p@ss:w/rd');
    expect(JSON.stringify(Object.values(a).filter((v) => typeof v === 'string' && v.includes('://')))).not.toContain('p@ss');
  });

  it('lets separate user name and password override those in the URL', () => {
    const a = parseCameraAddress('rtsp://old:old@cam:554/x', 'admin', 's3cret');
    expect(a.displayUrl).toBe('rtsp://cam:554/x');
    expect(a.username).toBe('admin');
    expect(a.password).toBe('s3cret');
  });

  it('gives a login to a camera with a user, or with a password alone, and none without either', () => {
    expect(cameraLogin(parseCameraAddress('rtsp://admin:pw@cam/x'))).toEqual({ username: 'admin', password: 'pw' });
    expect(cameraLogin(parseCameraAddress('rtsp://cam/x', undefined, 'pw'))).toEqual({ username: '', password: 'pw' });
    expect(cameraLogin(parseCameraAddress('rtsp://cam/x'))).toBeUndefined();
  });

  it('rejects other schemes and empty hosts', () => {
    expect(() => parseCameraAddress('http://cam/x')).toThrow(/rtsp/);
    expect(() => parseCameraAddress('rtsp://')).toThrow();
  });
});
