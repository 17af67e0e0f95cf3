import { describe, expect, it } from 'vitest';
import { LineReader, lineCountOf, messageNumberOf, parseCommand } from './command-line.js';

describe('LineReader', () => {
  it('cuts lines at LF, with or without CR, across chunks', () => {
    const reader = new LineReader(64);
    expect(reader.push(Buffer.from('US'))).toEqual([]);
    expect(reader.hasPartialLine).toBe(true);
    expect(reader.push(Buffer.from('ER a\r\nSTAT\nLI'))).toEqual([
      { kind: 'line', text: 'USER a' },
      { kind: 'line', text: 'STAT' },
    ]);
    expect(reader.push(Buffer.from('ST\r\n'))).toEqual([{ kind: 'line', text: 'LIST' }]);
    expect(reader.hasPartialLine).toBe(false);
  });

  it('reports a line past the limit once, drops it to its LF, and reads the next', () => {
    const reader = new LineReader(16);
    expect(reader.push(Buffer.alloc(10, 0x41))).toEqual([]);
    expect(reader.push(Buffer.alloc(10, 0x41))).toEqual([{ kind: 'tooLong' }]);
    expect(reader.push(Buffer.alloc(100, 0x41))).toEqual([]);
    expect(reader.push(Buffer.from('AAA\r\nNOOP\r\n'))).toEqual([{ kind: 'line', text: 'NOOP' }]);
  });

  it('keeps every byte of a line (8-bit passwords) as latin1', () => {
    const reader = new LineReader(64);
    const [event] = reader.push(Buffer.from('PASS pässwörd\r\n', 'utf8'));
    expect(event?.kind === 'line' && Buffer.from(event.text, 'latin1').toString('utf8')).toBe('PASS pässwörd');
  });
});

describe('parseCommand', () => {
  it('reads keyword (case-insensitive) and arguments; PASS keeps the rest whole', () => {
    expect(parseCommand('retr 3')).toEqual({ keyword: 'RETR', args: ['3'], rest: '3' });
    expect(parseCommand('PASS two words')).toMatchObject({ keyword: 'PASS', rest: 'two words' });
    expect(parseCommand('STAT')).toEqual({ keyword: 'STAT', args: [], rest: '' });
  });

  it('refuses what has no keyword', () => {
    expect(parseCommand('')).toBeNull();
    expect(parseCommand(' STAT')).toBeNull();
    expect(parseCommand('\x00\x01')).toBeNull();
    expect(parseCommand('X'.repeat(40))).toBeNull();
  });

  it('message numbers are positive decimals; line counts may be 0', () => {
    expect(messageNumberOf('1')).toBe(1);
    expect(messageNumberOf('0')).toBeNull();
    expect(messageNumberOf('-1')).toBeNull();
    expect(messageNumberOf('1e3')).toBeNull();
    expect(messageNumberOf('99999999999')).toBeNull();
    expect(lineCountOf('0')).toBe(0);
    expect(lineCountOf('x')).toBeNull();
  });
});
