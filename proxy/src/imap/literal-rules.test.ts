import { describe, expect, it } from 'vitest';
import { literalCommandOf, literalLimit, MAX_APPEND_LITERAL_BYTES } from './literal-rules.js';

const of = (text: string) => {
  const line = Buffer.from(`${text}\r\n`);
  const name = text.split(' ')[1]!.toUpperCase();
  return literalCommandOf(name, line, text.indexOf(' ', text.indexOf(' ') + 1) === -1 ? text.length : text.indexOf(' ', text.indexOf(' ') + 1));
};

describe('literal rules', () => {
  it('lets literals through only on commands whose arguments servers read', () => {
    expect(of('a SELECT {5}')).toBe('other');
    expect(of('a APPEND {5}')).toBe('append');
    expect(of('a UID FETCH {5}')).toBe('other');
    expect(of('a uid move {5}')).toBe('other');
    for (const text of ['a NOOP {5}', 'a CHECK {5}', 'a IDLE {5}', 'a FROBNICATE {5}', 'a UID {5}', 'a UID NOOP {5}', 'a GETQUOTAROOT {5}', 'a LOGIN {5}']) {
      expect(of(text), text).toBeNull();
    }
  });

  it('limits literals to the line limit, APPEND to what a number holds exactly', () => {
    expect(literalLimit('other', 65_536)).toBe(65_536);
    expect(literalLimit('append', 65_536)).toBe(MAX_APPEND_LITERAL_BYTES);
  });
});
