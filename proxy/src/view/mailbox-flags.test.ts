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

  it('announces no PERMANENTFLAGS in a read-only session', () => {
    const flags = new MailboxFlags(['\\Seen'], []);
    expect(text(flags.announce(['$Junk']))).toBe('* FLAGS (\\Seen $Junk)\r\n');
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
