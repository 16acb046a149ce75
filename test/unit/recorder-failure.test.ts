import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../../functions/recorder/index.js';

describe('what a camera failure means', () => {
  it('takes a 403 as a refused login (it counts toward the 3 that stop the recorder), not as a wrong path', () => {
    expect(classifyFailure('[rtsp @ 0x1] method DESCRIBE failed: 403 Forbidden')).toBe('unauthorized');
    expect(classifyFailure('rtsp://admin:***@cam/stream: Server returned 403 Forbidden (access denied)')).toBe('unauthorized');
    expect(classifyFailure('[rtsp @ 0x1] method DESCRIBE failed: 404 Not Found')).toBe('not-found');
  });
});

describe('what a non-RTSP answer is reported as', () => {
  it('names TLS, quotes a text line, and shows other bytes in hex', async () => {
    const { describeAnswer } = await import('../../functions/recorder/rtsp-check.js');
    expect(describeAnswer(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]))).toMatch(/TLS/);
    expect(describeAnswer(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'))).toBe('"HTTP/1.1 400 Bad Request"');
    expect(describeAnswer(Buffer.from([0x00, 0xff, 0x10, 0x80]))).toBe('4 bytes that are not text (00 ff 10 80)');
  });
});

describe('reading an ffmpeg version', () => {
  it('reads Debian, Ubuntu, n-prefixed and plain versions, and nothing from a git build', async () => {
    const { parseFfmpegVersion } = await import('../../functions/lib/index.js');
    expect(parseFfmpegVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026')?.major).toBe(5);
    expect(parseFfmpegVersion('ffprobe version 4.4.2-0ubuntu0.22.04.1 Copyright')).toMatchObject({ major: 4, minor: 4, text: '4.4.2-0ubuntu0.22.04.1' });
    expect(parseFfmpegVersion('ffmpeg version n7.1 Copyright')?.major).toBe(7);
    expect(parseFfmpegVersion('ffmpeg version N-118-g1234abcd Copyright')).toBeNull();
  });
});
