import { describe, expect, it } from 'vitest';
import { parseJsonLines } from '../../functions/contracts/index.js';

describe('parseJsonLines', () => {
  it('keeps every complete line in order and skips blank lines and a torn last line', () => {
    const text = '{"sequence":1}\n\n  \n{"sequence":2,"file":"a.mp4"}\n[3]\n{"sequence":4,"fi';
    expect(parseJsonLines(text)).toEqual([{ sequence: 1 }, { sequence: 2, file: 'a.mp4' }, [3]]);
  });

  it('skips a broken line in the middle without losing the lines after it', () => {
    expect(parseJsonLines('{"a":1}\nnot json\n{"b":2}\n')).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('answers nothing for an empty journal', () => {
    expect(parseJsonLines('')).toEqual([]);
  });
});
