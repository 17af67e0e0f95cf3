import { describe, expect, it } from 'vitest';
import { MultilineEnd, retrPayload, topPayload, withCrlf } from './multiline.js';

const message = Buffer.from('Subject: hi\nFrom: a@b\n\n.starts with a dot\nline 2\r\n..two dots\nlast');

describe('campaign message payloads', () => {
  it('ends every line with CRLF', () => {
    expect(withCrlf(message).toString()).toBe('Subject: hi\r\nFrom: a@b\r\n\r\n.starts with a dot\r\nline 2\r\n..two dots\r\nlast\r\n');
  });

  it('RETR: dot-stuffed, terminated', () => {
    expect(retrPayload(withCrlf(message)).toString()).toBe('Subject: hi\r\nFrom: a@b\r\n\r\n..starts with a dot\r\nline 2\r\n...two dots\r\nlast\r\n.\r\n');
  });

  it('TOP: the header, the blank line and n body lines', () => {
    expect(topPayload(withCrlf(message), 0).toString()).toBe('Subject: hi\r\nFrom: a@b\r\n\r\n.\r\n');
    expect(topPayload(withCrlf(message), 1).toString()).toBe('Subject: hi\r\nFrom: a@b\r\n\r\n..starts with a dot\r\n.\r\n');
    expect(topPayload(withCrlf(message), 100).toString()).toBe(retrPayload(withCrlf(message)).toString());
  });

  it('an empty message is just the terminator', () => {
    expect(retrPayload(Buffer.alloc(0)).toString()).toBe('.\r\n');
  });
});

describe('MultilineEnd', () => {
  const endOf = (chunks: string[]): number[] => {
    const end = new MultilineEnd();
    return chunks.map((chunk) => end.feed(Buffer.from(chunk)));
  };

  it('finds CRLF.CRLF, not a stuffed dot', () => {
    expect(endOf(['1 20\r\n..x\r\n.\r\nNEXT'])).toEqual([14]);
  });

  it('finds a terminator split over chunks', () => {
    expect(endOf(['a\r\n', '.', '\r', '\nrest'])).toEqual([-1, -1, -1, 1]);
  });

  it('an empty listing is "." on the first line', () => {
    expect(endOf(['.\r\n'])).toEqual([3]);
  });

  it('a line that only starts with a dot does not end it', () => {
    expect(endOf(['.abc\r\n', 'x.\r\n', '.\r\n'])).toEqual([-1, -1, 3]);
  });
});
