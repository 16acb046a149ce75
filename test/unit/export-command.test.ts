// `shifu-rtsp export` and `shifu-rtsp playback` settings: bad values stop before anything runs (exit 2, naming them).
import { describe, expect, it } from 'vitest';
import { main } from '../../functions/cli.js';
import { parseClipRange } from '../../functions/export/index.js';
import { captureOutput } from '../support/output.js';

const output = captureOutput();

describe('parseClipRange', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  it('takes two ISO times or two ages, start first', () => {
    expect(parseClipRange('2026-11-24T10:15:00Z..2026-11-24T10:20:00Z', now)).toEqual({ start: new Date('2026-11-24T10:15:00Z'), end: new Date('2026-11-24T10:20:00Z') });
    expect(parseClipRange('2h..90m', now)).toEqual({ start: new Date('2026-11-24T10:00:00Z'), end: new Date('2026-11-24T10:30:00Z') });
  });
  it.each(['2026-11-24T10:20:00Z..2026-11-24T10:15:00Z', '2026-11-24T10:15:00Z', 'a..b', '1h..2h', '2026-11-24T10:15:00Z..2026-11-24T10:20:00Z..x'])('refuses %s', (v) => {
    expect(parseClipRange(v, now)).toBeUndefined();
  });
});

describe('configuration errors exit 2 and name the setting', () => {
  const base = ['--device', 'cam1', '--to', '/tmp/x'];
  it.each([
    [['export', ...base, '--clip', 'yesterday'], 'invalid --clip: expected START..END'],
    [['export', ...base, '--clip', '2h..1h', '--since', '3h'], 'invalid --clip: give --clip or --since/--until, not both'],
    [['export', ...base, '--format', 'avi'], 'invalid --format'],
    [['export', ...base, '--url', 'ftp://x'], 'invalid --url: expected an http:// or https:// URL'],
    [['export', ...base, '--port', '0'], 'invalid --port'],
    [['playback', '--listen', 'nowhere'], 'invalid --listen: expected HOST:PORT'],
    [['playback', '--max-clip', '0'], 'invalid --max-clip: expected a duration'],
  ])('%j', async (argv, message) => {
    expect(await main(argv, {})).toBe(2);
    expect(output.stderr).toContain(message);
  });

  it('names the variable when it comes from the environment, and never echoes a token', async () => {
    expect(await main(['playback'], { PLAYBACK_MAX_CLIP: 'forever' })).toBe(2);
    expect(output.stderr).toContain('invalid PLAYBACK_MAX_CLIP (flag --max-clip): expected a duration');
    expect(await main(['playback'], { PLAYBACK_TOKEN: 'short' })).toBe(2);
    expect(output.stderr).toContain('invalid PLAYBACK_TOKEN (flag --token): expected at least 16 characters');
    expect(output.stderr).not.toContain('"short"');
  });
});
