import { describe, expect, it } from 'vitest';
import { redact, redactDeep, registerSecret } from '../../functions/lib/index.js';

describe('credential redaction', () => {
  it('masks the password of any URL but keeps the user and host', () => {
    expect(redact('open rtsp://admin:hunter2@10.0.0.5:554/Streaming/101 failed')).toBe(
      'open rtsp://admin:***@10.0.0.5:554/Streaming/101 failed',
    );
    expect(redact('rtsp://10.0.0.5/x')).toBe('rtsp://10.0.0.5/x');
  });

  it('masks registered secrets wherever they appear, also URL-encoded', () => {
    registerSecret('p@ss w0rd!');
    const masked = redactDeep({ msg: 'auth p@ss w0rd! failed', nested: ['p%40ss%20w0rd!'], n: 3 });
    expect(JSON.stringify(masked)).not.toContain('w0rd');
    expect(masked.n).toBe(3);
  });
});
