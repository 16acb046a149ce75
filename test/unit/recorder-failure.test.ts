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
