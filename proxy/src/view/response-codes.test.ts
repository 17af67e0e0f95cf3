import { describe, expect, it } from 'vitest';
import { hasHiddenResponseCode, withoutHiddenTaggedCode } from './response-codes.js';

const tagged = (text: string): string => withoutHiddenTaggedCode(Buffer.from(`${text}\r\n`, 'latin1')).toString('latin1');

describe('response codes a client may see in INBOX', () => {
  it('takes a hidden code off a command completion and keeps its status and text (Cyrus EXPUNGE)', () => {
    expect(tagged('a1 OK [HIGHESTMODSEQ 10] Completed')).toBe('a1 OK Completed\r\n');
    expect(tagged('a1 NO [MAILBOXID (x1)] nope')).toBe('a1 NO nope\r\n');
    expect(tagged('a1 OK [HIGHESTMODSEQ 10]')).toBe('a1 OK \r\n');
  });

  it('keeps allowed codes, lines without a code, and untagged lines as they are', () => {
    expect(tagged('a1 OK [READ-WRITE] Completed')).toBe('a1 OK [READ-WRITE] Completed\r\n');
    expect(tagged('a1 OK [COPYUID 5 1:2 3:4] Done')).toBe('a1 OK [COPYUID 5 1:2 3:4] Done\r\n');
    expect(tagged('a1 OK Completed')).toBe('a1 OK Completed\r\n');
    expect(tagged('* OK [HIGHESTMODSEQ 10] Ok')).toBe('* OK [HIGHESTMODSEQ 10] Ok\r\n');
    expect(tagged('a1 OK [HIGHESTMODSEQ 10 no end')).toBe('a1 OK [HIGHESTMODSEQ 10 no end\r\n');
  });

  it('names untagged codes of hidden extensions', () => {
    expect(hasHiddenResponseCode('* OK [HIGHESTMODSEQ 9] Ok')).toBe(true);
    expect(hasHiddenResponseCode('* OK [UIDNEXT 9] Ok')).toBe(false);
  });
});
