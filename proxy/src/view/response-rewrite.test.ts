import { describe, expect, it } from 'vitest';
import { parseFetchHead, rewriteFetchUids, uidFirst } from './response-rewrite.js';
import { hasHiddenResponseCode } from './response-codes.js';

function rewritten(line: string): string {
  const bytes = Buffer.from(line, 'latin1');
  const head = parseFetchHead(bytes)!;
  return rewriteFetchUids(bytes, head.listStart, { depth: 0, afterUidKeyword: false }, () => undefined).toString('latin1');
}

describe('uidFirst', () => {
  const moved = (line: string): string => uidFirst(Buffer.from(line, 'latin1'), line.indexOf('(')).toString('latin1');

  it('moves a later UID item to the front, as Cyrus sends it after FLAGS', () => {
    expect(moved('* 1 FETCH (FLAGS (\\Seen) UID 16)\r\n')).toBe('* 1 FETCH (UID 16 FLAGS (\\Seen))\r\n');
  });

  it('leaves a list that starts with UID, or has none, as it is', () => {
    expect(moved('* 1 FETCH (UID 16 FLAGS ())\r\n')).toBe('* 1 FETCH (UID 16 FLAGS ())\r\n');
    expect(moved('* 1 FETCH (FLAGS ())\r\n')).toBe('* 1 FETCH (FLAGS ())\r\n');
  });

  it('never takes "UID" inside a section or a quoted string for the item', () => {
    expect(moved('* 2 FETCH (BODY[HEADER.FIELDS (UID)] "x UID 5" UID 32)\r\n')).toBe('* 2 FETCH (UID 32 BODY[HEADER.FIELDS (UID)] "x UID 5")\r\n');
  });
});

describe('MODSEQ in INBOX FETCH responses (CONDSTORE is hidden)', () => {
  it('is cut wherever it stands in the list', () => {
    expect(rewritten('* 1 FETCH (FLAGS () MODSEQ (12))\r\n')).toBe('* 1 FETCH (FLAGS ())\r\n');
    expect(rewritten('* 1 FETCH (MODSEQ (12) FLAGS ())\r\n')).toBe('* 1 FETCH (FLAGS ())\r\n');
    expect(rewritten('* 1 FETCH (MODSEQ (12))\r\n')).toBe('* 1 FETCH ()\r\n');
  });

  it('scales the UID beside it', () => {
    expect(rewritten('* 1 FETCH (UID 3 MODSEQ (12) FLAGS ())\r\n')).toBe('* 1 FETCH (UID 48 FLAGS ())\r\n');
  });
});

describe('response codes in INBOX', () => {
  it('keeps IMAP4rev1 and UIDPLUS codes and drops those of hidden extensions', () => {
    expect(hasHiddenResponseCode('* OK [UIDNEXT 5] Ok\r\n')).toBe(false);
    expect(hasHiddenResponseCode('* OK [PERMANENTFLAGS (\\Seen)] Ok\r\n')).toBe(false);
    expect(hasHiddenResponseCode('* OK [HIGHESTMODSEQ 4] Ok\r\n')).toBe(true);
    expect(hasHiddenResponseCode('* OK [MAILBOXID (abc)] Ok\r\n')).toBe(true);
    expect(hasHiddenResponseCode('* OK [X-SOMETHING-NEW] Ok\r\n')).toBe(true);
    expect(hasHiddenResponseCode('* OK Still here\r\n')).toBe(false);
  });
});
