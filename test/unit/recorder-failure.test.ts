import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../../functions/recorder/index.js';

describe('what a camera failure means', () => {
  it('takes a 403 as a refused login (it counts toward the 3 that stop the recorder), not as a wrong path', () => {
    expect(classifyFailure('[rtsp @ 0x1] method DESCRIBE failed: 403 Forbidden')).toBe('unauthorized');
    expect(classifyFailure('rtsp://admin:***@cam/stream: Server returned 403 Forbidden (access denied)')).toBe('unauthorized');
    expect(classifyFailure('[rtsp @ 0x1] method DESCRIBE failed: 404 Not Found')).toBe('not-found');
  });
});
