import { describe, expect, it } from 'vitest';
import { ImapSyntaxError, MAX_LIST_NESTING, parseCommand, TokenReader, type ImapToken } from './imap-syntax.js';

const command = (text: string) => parseCommand({ segments: [Buffer.from(`${text}\r\n`, 'latin1')], literals: [] });

function depthOf(tokens: readonly ImapToken[]): number {
  let depth = 0;
  let level: readonly ImapToken[] = tokens;
  while (level[0]?.kind === 'list') {
    depth++;
    level = level[0].items;
  }
  return depth;
}

describe('TokenReader', () => {
  it('reads lists nested far deeper than a call stack holds, without recursion', () => {
    const deep = command(`a ID ${'('.repeat(20_000)}NIL${')'.repeat(20_000)}`);
    expect(depthOf(deep.args)).toBe(20_000);
  });

  it('refuses nesting beyond its named limit with a syntax error', () => {
    const depth = MAX_LIST_NESTING + 1;
    expect(() => command(`a ID ${'('.repeat(depth)}NIL${')'.repeat(depth)}`)).toThrow(ImapSyntaxError);
  });

  it('reports unbalanced parentheses, 8-bit bytes and missing literals as syntax errors', () => {
    expect(() => command('a FETCH 1 (FLAGS')).toThrow('Missing ")"');
    expect(() => command('a NOOP )')).toThrow('Unexpected ")"');
    expect(() => command('a NOOP \xe9')).toThrow('Unexpected character 0xe9');
    expect(() => command('a NOOP {-1}')).toThrow(ImapSyntaxError);
  });

  it('keeps its public API: readList from a position, until ")" or the end', () => {
    const parts = { segments: [Buffer.from('a LIST "" (x (y) {3}\r\n'), Buffer.from(' z)\r\n')], literals: [Buffer.from('abc')] };
    const reader = new TokenReader(parts, 'a LIST "" ('.length);
    const items = reader.readList(0x29);
    expect(items).toEqual([
      { kind: 'atom', value: 'x' },
      { kind: 'list', items: [{ kind: 'atom', value: 'y' }] },
      { kind: 'string', value: Buffer.from('abc') },
      { kind: 'atom', value: 'z' },
    ]);
  });
});
