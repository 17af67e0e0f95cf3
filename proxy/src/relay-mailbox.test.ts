import { describe, expect, it } from 'vitest';
import { parseCommand, parseLeadingArguments, peekTagAndName } from './imap-syntax.js';
import { leadingArgument, parsedOrNull, routedByMailbox, routeOf } from './relay-mailbox.js';
import { untaggedOkCode } from './response-code.js';

const parts = (text: string, literals: string[] = []) => ({
  segments: text.split(/(?<=\r\n)/).map((part) => Buffer.from(part, 'latin1')),
  literals: literals.map((literal) => Buffer.from(literal, 'latin1')),
});
const route = (text: string, literals: string[] = []) => routeOf(parseCommand(parts(text, literals)));

describe('routedByMailbox', () => {
  it('reads the commands that name a mailbox, and only UID COPY/MOVE of the UID commands', () => {
    const routed = (line: string): boolean => {
      const head = peekTagAndName(Buffer.from(line))!;
      return routedByMailbox(head.name, Buffer.from(line), head.end);
    };
    expect(routed('a SELECT x\r\n')).toBe(true);
    expect(routed('a status x (MESSAGES)\r\n')).toBe(true);
    expect(routed('a uid move 1 x\r\n')).toBe(true);
    expect(routed('a UID COPY 1 x\r\n')).toBe(true);
    expect(routed('a UID FETCH 1 FLAGS\r\n')).toBe(false);
    expect(routed('a UID COPYX 1 x\r\n')).toBe(false);
    expect(routed('a NOOP\r\n')).toBe(false);
  });
});

describe('routeOf', () => {
  it('gives SELECT, EXAMINE and STATUS of INBOX to the view, however INBOX is written', () => {
    expect(route('a SELECT {5}\r\n\r\n', ['inbox'])).toEqual({ kind: 'view' });
    expect(route('a EXAMINE "INBOX"\r\n')).toEqual({ kind: 'view' });
    expect(route('a STATUS {5+}\r\n (UIDNEXT)\r\n', ['Inbox'])).toEqual({ kind: 'view' });
    expect(route('a SELECT "inbox archive"\r\n')).toEqual({ kind: 'pass', track: 'plain' });
    expect(route('a STATUS INBOX.sub (UIDNEXT)\r\n')).toEqual({ kind: 'pass', track: 'plain' });
  });

  it('tells COPY/MOVE into INBOX from COPY/MOVE elsewhere', () => {
    expect(route('a MOVE 5 INBOX\r\n')).toEqual({ kind: 'pass', track: 'moveToInbox' });
    expect(route('a uid move 5 {5}\r\n\r\n', ['inbox'])).toEqual({ kind: 'pass', track: 'moveToInbox' });
    expect(route('a UID COPY 5 {5}\r\n\r\n', ['inbox'])).toEqual({ kind: 'pass', track: 'copyToInbox' });
    expect(route('a COPY 1 "Old inbox"\r\n')).toEqual({ kind: 'pass', track: 'plain' });
    expect(route('a UID MOVE 1 &AOQ-inbox\r\n')).toEqual({ kind: 'pass', track: 'plain' });
    expect(routeOf(null)).toEqual({ kind: 'pass', track: 'plain' });
  });
});

describe('parsedOrNull', () => {
  it('reads nesting deeper than the stack as unparsable, not as a crash', () => {
    expect(parsedOrNull(parts(`a STATUS x ${'('.repeat(200_000)}\r\n`))).toBeNull();
    expect(leadingArgument(parts(`a APPEND ${'('.repeat(200_000)} {5}\r\n`))).toBeUndefined();
  });
});

describe('parseLeadingArguments', () => {
  it('reads APPEND\'s mailbox before the message literal has arrived', () => {
    expect(parseLeadingArguments(parts('a APPEND "My inbox" (\\Seen) {300}\r\n'), 1).args).toEqual([{ kind: 'string', value: Buffer.from('My inbox') }]);
    expect(parseLeadingArguments(parts('a APPEND {5}\r\n'), 1).args).toEqual([]);
    expect(parseLeadingArguments(parts('a APPEND {5}\r\n (\\Seen) {300}\r\n', ['INBOX']), 1).args).toEqual([{ kind: 'string', value: Buffer.from('INBOX') }]);
    expect(parseLeadingArguments(parts('a APPEND INBOX CATENATE (TEXT {3}\r\n'), 1).args).toEqual([{ kind: 'atom', value: 'INBOX' }]);
  });
});

describe('untaggedOkCode', () => {
  it('names the response code of an untagged OK only', () => {
    expect(untaggedOkCode(Buffer.from('* OK [COPYUID 9 1:2 3:4] Moved\r\n'))).toBe('COPYUID');
    expect(untaggedOkCode(Buffer.from('* ok [copyuid 9 1 3]\r\n'))).toBe('COPYUID');
    expect(untaggedOkCode(Buffer.from('a OK [COPYUID 9 1 3] done\r\n'))).toBeNull();
    expect(untaggedOkCode(Buffer.from('* OK Still here\r\n'))).toBeNull();
    expect(untaggedOkCode(Buffer.from('* NO [COPYUID 9 1 3]\r\n'))).toBeNull();
    expect(untaggedOkCode(Buffer.from('* OK [UIDNEXT 5] Predicted\r\n'))).toBe('UIDNEXT');
    expect(untaggedOkCode(Buffer.from('* OK [READ-WRITE]\r\n'))).toBe('READ-WRITE');
    expect(untaggedOkCode(Buffer.from('* OK []\r\n'))).toBeNull();
  });
});
