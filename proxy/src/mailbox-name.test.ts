import { describe, expect, it } from 'vitest';
import { decodeMailboxName, isInboxMailbox } from './mailbox-name.js';
import { parseCommand } from './imap-syntax.js';

const mailboxOf = (command: string, literals: string[] = []): ReturnType<typeof parseCommand>['args'][number] | undefined => {
  const segments = command.split(/(?<=\r\n)/).map((part) => Buffer.from(part, 'latin1'));
  return parseCommand({ segments, literals: literals.map((literal) => Buffer.from(literal, 'latin1')) }).args[0];
};

describe('decodeMailboxName', () => {
  it('decodes modified UTF-7 runs and "&-"', () => {
    expect(decodeMailboxName(Buffer.from('&AOQ-inbox'))).toBe('äinbox');
    expect(decodeMailboxName(Buffer.from('~peter/mail/&U,BTFw-/&ZeVnLIqe-'))).toBe('~peter/mail/台北/日本語');
    expect(decodeMailboxName(Buffer.from('Tom &- Jerry'))).toBe('Tom & Jerry');
  });

  it('refuses what is not modified UTF-7', () => {
    for (const bad of ['&AOQ', '&AOQ!-', 'caf\xe9', '&AEkATgBCAE8AWA-', '&2D3-']) {
      expect(decodeMailboxName(Buffer.from(bad, 'latin1')), bad).toBeNull();
    }
  });
});

describe('isInboxMailbox', () => {
  it('is INBOX in any case, as atom, quoted string or literal', () => {
    expect(isInboxMailbox(mailboxOf('a SELECT inbox\r\n'))).toBe(true);
    expect(isInboxMailbox(mailboxOf('a SELECT "InBoX"\r\n'))).toBe(true);
    expect(isInboxMailbox(mailboxOf('a SELECT {5+}\r\n\r\n', ['INBOX']))).toBe(true);
  });

  it('is never a name that only contains it', () => {
    for (const command of ['a SELECT "inbox archive"\r\n', 'a SELECT "Old inbox"\r\n', 'a SELECT INBOX.sub\r\n', 'a SELECT inbox/sub\r\n', 'a SELECT &AOQ-inbox\r\n', 'a SELECT "INBOX "\r\n', 'a SELECT &AEkATgBCAE8AWA-\r\n']) {
      expect(isInboxMailbox(mailboxOf(command)), command).toBe(false);
    }
    expect(isInboxMailbox(mailboxOf('a SELECT {7}\r\n\r\n', ['INBOX.x']))).toBe(false);
    expect(isInboxMailbox(mailboxOf('a SELECT NIL\r\n'))).toBe(false);
    expect(isInboxMailbox(mailboxOf('a SELECT (INBOX)\r\n'))).toBe(false);
  });
});
