import { describe, expect, it } from 'vitest';
import { MailboxFlags } from './mailbox-flags.js';

const text = (bytes: Buffer): string => bytes.toString('latin1');

describe('the INBOX flags a session was told', () => {
  it('announces a keyword only virtual messages carry, once, before it is shown', () => {
    const flags = new MailboxFlags();
    expect(flags.serverLine('* FLAGS (\\Answered \\Seen $Label1)\r\n')).toBe('* FLAGS (\\Answered \\Seen $Label1)\r\n');
    flags.serverLine('* OK [PERMANENTFLAGS (\\Answered \\Seen $Label1 \\*)] Flags permitted.\r\n');
    expect(text(flags.announce(['\\Seen', '$label1']))).toBe(''); // known, whatever its case
    expect(text(flags.announce(['\\Seen', '$Junk']))).toBe(
      '* FLAGS (\\Answered \\Seen $Label1 $Junk)\r\n* OK [PERMANENTFLAGS (\\Answered \\Seen $Label1 $Junk \\*)] Flags permitted.\r\n',
    );
    expect(text(flags.announce(['$Junk']))).toBe('');
  });

  it("keeps its keywords in the server's later announcements", () => {
    const flags = new MailboxFlags(['\\Seen'], ['\\Seen', '\\*']);
    flags.announce(['$Junk']);
    expect(flags.serverLine('* FLAGS (\\Seen $Work)\r\n')).toBe('* FLAGS (\\Seen $Work $Junk)\r\n');
    expect(flags.serverLine('* OK [PERMANENTFLAGS (\\Seen $Work \\*)] Flags permitted.\r\n')).toBe('* OK [PERMANENTFLAGS (\\Seen $Work $Junk \\*)] Flags permitted.\r\n');
    expect(flags.serverLine('* 3 FETCH (FLAGS ($Junk))\r\n')).toBeNull();
  });

  it('announces nothing before it knows the server\'s FLAGS, and each keyword once', () => {
    const flags = new MailboxFlags();
    expect(text(flags.announce(['$Junk']))).toBe(''); // a FLAGS line replaces the whole list
    flags.serverLine('* FLAGS (\\Seen)\r\n');
    expect(text(flags.announce(['$Junk', '$junk', '$Work']))).toBe('* FLAGS (\\Seen $Junk $Work)\r\n');
  });

  it('announces an empty PERMANENTFLAGS with its FLAGS in a read-only session, as Dovecot does', () => {
    const flags = new MailboxFlags(['\\Seen'], []);
    expect(text(flags.announce(['$Junk']))).toBe('* FLAGS (\\Seen $Junk)\r\n* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n');
    expect(flags.serverLine('* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n')).toBe('* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n');
  });
});

describe("the server's announcement of keywords the proxy announced first", () => {
  it('is left out with its PERMANENTFLAGS, as a server repeats no unchanged FLAGS, but not at SELECT', () => {
    const flags = new MailboxFlags(['\\Seen'], ['\\Seen', '\\*']);
    flags.announce(['$Junk']); // a virtual message showed it first
    expect(flags.serverLine('* FLAGS (\\Seen $Junk)\r\n')).toBe('');
    expect(flags.serverLine('* OK [PERMANENTFLAGS (\\Seen $Junk \\*)] Flags permitted.\r\n')).toBe('');
    // One that tells more goes out, with the proxy's keywords.
    expect(flags.serverLine('* FLAGS (\\Seen $Work)\r\n')).toBe('* FLAGS (\\Seen $Work $Junk)\r\n');
    expect(flags.serverLine('* OK [PERMANENTFLAGS (\\Seen $Work \\*)] Flags permitted.\r\n')).toBe('* OK [PERMANENTFLAGS (\\Seen $Work $Junk \\*)] Flags permitted.\r\n');
    expect(flags.serverLine('* FLAGS (\\Seen $Work $Junk)\r\n', true)).toBe('* FLAGS (\\Seen $Work $Junk)\r\n');
  });
});

describe("the view's keywords (every keyword ever set on a virtual message)", () => {
  it('are merged into the FLAGS at SELECT, and only what the list gains is announced later', () => {
    const flags = new MailboxFlags();
    flags.serverLine('* FLAGS (\\Seen $Work)\r\n', true);
    flags.serverLine('* OK [PERMANENTFLAGS (\\Seen $Work \\*)] Flags permitted.\r\n', true);
    flags.announce(['$Junk', '$work']); // at SELECT: the answer's own lines carry it
    expect(flags.serverLine('* FLAGS (\\Seen $Work)\r\n', true)).toBe('* FLAGS (\\Seen $Work $Junk)\r\n');
    expect(flags.serverLine('* OK [PERMANENTFLAGS (\\Seen $Work \\*)] Flags permitted.\r\n', true)).toBe('* OK [PERMANENTFLAGS (\\Seen $Work $Junk \\*)] Flags permitted.\r\n');
    // The view's list grew elsewhere: the next sync point announces the new one alone.
    expect(text(flags.announce(['$Junk', '$Label1']))).toBe(
      '* FLAGS (\\Seen $Work $Junk $Label1)\r\n* OK [PERMANENTFLAGS (\\Seen $Work $Junk $Label1 \\*)] Flags permitted.\r\n',
    );
    expect(text(flags.announce(['$Junk', '$Label1']))).toBe('');
  });

  it('are announced with PERMANENTFLAGS () in a read-only session, and never before the server\'s FLAGS', () => {
    const flags = new MailboxFlags();
    expect(text(flags.announce(['$Junk']))).toBe('');
    flags.serverLine('* FLAGS (\\Seen)\r\n', true);
    flags.serverLine('* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n', true);
    expect(text(flags.announce(['$Junk']))).toBe('* FLAGS (\\Seen $Junk)\r\n* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n');
    // Dovecot's own announcement of the same keyword later tells nothing new.
    expect(flags.serverLine('* FLAGS (\\Seen $Junk)\r\n')).toBe('');
    expect(flags.serverLine('* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n')).toBe('');
  });
});
