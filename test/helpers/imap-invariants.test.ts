/**
 * The invariant checker against hand-written sessions: each rule once kept (no report) and
 * once broken (the report names the rule), plus the framing traps a byte-level observer can
 * fall into (literals that look like responses, status text ending in "{5}").
 */
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ImapInvariantChecker, MessageHistory, type InvariantRule } from './imap-invariants.ts';
import { ImapTap } from './imap-invariants-tap.ts';
import { RawImap } from './raw-imap.ts';

/** Feeds "C: ..." / "S: ..." lines (CRLF appended) to a checker, in order. */
function feed(checker: ImapInvariantChecker, lines: readonly string[]): ImapInvariantChecker {
  for (const line of lines) {
    const bytes = `${line.slice(3)}\r\n`;
    if (line.startsWith('C: ')) checker.clientBytes(bytes);
    else if (line.startsWith('S: ')) checker.serverBytes(bytes);
    else throw new Error(`transcript line must start with "C: " or "S: ": ${line}`);
  }
  return checker;
}

function rulesOf(...lines: string[]): InvariantRule[] {
  return feed(new ImapInvariantChecker(), [...selected, ...lines]).violations.map((violation) => violation.rule);
}

/** Logged in, INBOX selected: 3 messages, UIDs 10, 20, 30 (not yet known), UIDNEXT 31. */
const selected = [
  'S: * OK IMAP ready',
  'C: a LOGIN alice secret',
  'S: a OK Logged in',
  'C: s SELECT INBOX',
  'S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)',
  'S: * 3 EXISTS',
  'S: * 0 RECENT',
  'S: * OK [UIDVALIDITY 77] UIDs valid',
  'S: * OK [UIDNEXT 31] Predicted next UID',
  'S: s OK [READ-WRITE] Select completed',
];
const uidsKnown = ['C: u UID FETCH 1:* (FLAGS)', 'S: * 1 FETCH (UID 10 FLAGS ())', 'S: * 2 FETCH (UID 20 FLAGS ())', 'S: * 3 FETCH (UID 30 FLAGS ())', 'S: u OK done'];

describe('a session that keeps every invariant', () => {
  it('reports nothing, and infers the seq→UID map through EXPUNGE and new mail', () => {
    const checker = feed(new ImapInvariantChecker(), [
      ...selected,
      ...uidsKnown,
      'C: f FETCH 1:2 (UID RFC822.SIZE INTERNALDATE BODY.PEEK[TEXT]<0.4>)',
      'S: * 1 FETCH (UID 10 RFC822.SIZE 12 INTERNALDATE "01-Jan-2026 10:00:00 +0000" BODY[TEXT]<0> {4}\r\nbody)',
      'S: * 2 FETCH (UID 20 RFC822.SIZE 13 INTERNALDATE " 1-Jan-2026 11:00:00 +0100" BODY[TEXT]<0> "more")',
      'S: f OK done',
      'C: n NOOP',
      'S: * 1 EXPUNGE',
      'S: * 3 EXISTS',
      'S: * 1 RECENT',
      'S: n OK done',
      'C: g FETCH 1:* (UID INTERNALDATE BODY.PEEK[TEXT])',
      'S: * 1 FETCH (UID 20 INTERNALDATE "01-Jan-2026 10:00:00 +0000" BODY[TEXT] {5}\r\nmore!)',
      'S: * 2 FETCH (UID 30 INTERNALDATE "01-Jan-2026 10:00:00 +0000" BODY[TEXT] "x")',
      'S: * 3 FETCH (UID 31 INTERNALDATE "01-Jan-2026 10:00:00 +0000" BODY[TEXT] "y")',
      'S: g OK done',
      'C: s2 STATUS INBOX (UIDNEXT MESSAGES)',
      'S: * STATUS INBOX (MESSAGES 3 UIDNEXT 32)',
      'S: s2 OK done',
      'C: i IDLE',
      'S: + idling',
      'S: * 2 EXPUNGE',
      'C: DONE',
      'S: i OK done',
      'C: x UID SEARCH ALL',
      'S: * SEARCH 20 31',
      'S: x OK done',
    ]);
    expect(checker.violations).toEqual([]);
    expect(checker.view).toEqual({ mailbox: 'INBOX', uids: [20, 31] });
  });

  it('accepts unsolicited FLAGS without UID during UID FETCH and UID STORE .SILENT, as Dovecot sends them', () => {
    expect(rulesOf(...uidsKnown, 'C: u2 UID FETCH 10 (FLAGS)', 'S: * 1 FETCH (UID 10 FLAGS ())', 'S: * 2 FETCH (FLAGS (\\Seen))', 'S: * 1 FETCH (FLAGS (\\Seen))', 'S: u2 OK')).toEqual([]);
    expect(rulesOf(...uidsKnown, 'C: u3 UID STORE 10:20 -FLAGS.SILENT ()', 'S: * 1 FETCH (FLAGS (\\Seen))', 'S: * 2 FETCH (FLAGS (\\Seen))', 'S: u3 OK')).toEqual([]);
    // Updates before the answers, and a STORE refused in a read-only mailbox.
    expect(rulesOf(...uidsKnown, 'C: u4 UID STORE 10 +FLAGS (\\Seen)', 'S: * 1 FETCH (FLAGS ())', 'S: * 1 FETCH (UID 10 FLAGS (\\Seen))', 'S: u4 OK')).toEqual([]);
    expect(rulesOf(...uidsKnown, 'C: u5 UID STORE 10 +FLAGS (\\Seen)', 'S: * 1 FETCH (FLAGS ())', 'S: u5 NO read-only')).toEqual([]);
  });

  it('lets a UID SEARCH hit be expunged later in the same command', () => {
    expect(rulesOf(...uidsKnown, 'C: x UID SEARCH ALL', 'S: * SEARCH 10 30', 'S: * 3 EXPUNGE', 'S: x OK')).toEqual([]);
  });

  it('lets a message expunged elsewhere answer with placeholders under [EXPUNGEISSUED]', () => {
    expect(rulesOf(
      'C: f FETCH 2 (UID RFC822.SIZE ENVELOPE)', 'S: * 2 FETCH (UID 20 RFC822.SIZE 240 ENVELOPE (NIL "Hi" NIL NIL NIL NIL NIL NIL NIL NIL))', 'S: f OK',
      'C: g FETCH 2 (UID RFC822.SIZE ENVELOPE)', 'S: * 2 FETCH (UID 20 RFC822.SIZE 0 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))', 'S: g OK [EXPUNGEISSUED] Some messages were already expunged',
    )).toEqual([]);
  });

  it('does not take literal bytes or a status text ending in {5} for responses', () => {
    expect(rulesOf(
      'C: f FETCH 1 (BODY[])', 'S: * 1 FETCH (BODY[] {22}\r\n)\r\n* 1 EXPUNGE\r\n* 0 EX)', 'S: f OK done',
      'C: n NOOP', 'S: * OK [ALERT] see {5}', 'S: n OK done {3}', 'C: m NOOP', 'S: m OK',
    )).toEqual([]);
  });
});

describe('each broken invariant is reported', () => {
  it.each<[string, InvariantRule, string[]]>([
    ['UIDs out of order', 'uid-order', ['C: f FETCH 1:2 (UID)', 'S: * 1 FETCH (UID 10)', 'S: * 2 FETCH (UID 5)', 'S: f OK']],
    ['a UID changing at a sequence number', 'uid-changed', [...uidsKnown, 'C: f FETCH 1 (UID)', 'S: * 1 FETCH (UID 11)', 'S: f OK']],
    ['an expunged UID back in FETCH', 'uid-reused', [...uidsKnown, 'C: n NOOP', 'S: * 1 EXPUNGE', 'S: * 3 EXISTS', 'S: n OK', 'C: f FETCH 3 (UID)', 'S: * 3 FETCH (UID 10)', 'S: f OK']],
    ['an expunged UID back in UID SEARCH', 'uid-reused', [...uidsKnown, 'C: n NOOP', 'S: * 2 EXPUNGE', 'S: n OK', 'C: x UID SEARCH ALL', 'S: * SEARCH 10 20 30', 'S: x OK']],
    ['RFC822.SIZE changing', 'message-changed', ['C: f FETCH 1 (UID RFC822.SIZE)', 'S: * 1 FETCH (UID 10 RFC822.SIZE 100)', 'S: * 1 FETCH (UID 10 RFC822.SIZE 101)', 'S: f OK']],
    ['ENVELOPE changing (learnt before the UID)', 'message-changed', ['C: f FETCH 1 (ENVELOPE)', 'S: * 1 FETCH (ENVELOPE (NIL "a" NIL NIL NIL NIL NIL NIL NIL NIL))', 'S: f OK', 'C: g FETCH 1 (UID ENVELOPE)', 'S: * 1 FETCH (UID 10 ENVELOPE (NIL "b" NIL NIL NIL NIL NIL NIL NIL NIL))', 'S: g OK']],
    ['body bytes changing', 'message-changed', ['C: f FETCH 1 (UID BODY[])', 'S: * 1 FETCH (UID 10 BODY[] {3}\r\nabc)', 'S: f OK', 'C: g FETCH 1 (UID RFC822)', 'S: * 1 FETCH (UID 10 RFC822 "abd")', 'S: g OK']],
    ['a partial that is not part of the section', 'message-changed', ['C: f FETCH 1 (UID BODY[TEXT] BODY[TEXT]<2>)', 'S: * 1 FETCH (UID 10 BODY[TEXT] "hello" BODY[TEXT]<2> "lx")', 'S: f OK']],
    ['RFC822.SIZE disagreeing with BODY[]', 'message-changed', ['C: f FETCH 1 (UID BODY[] RFC822.SIZE)', 'S: * 1 FETCH (UID 10 BODY[] "abc" RFC822.SIZE 4)', 'S: f OK']],
    ['INTERNALDATE moving', 'message-changed', ['C: f FETCH 1 (UID INTERNALDATE)', 'S: * 1 FETCH (UID 10 INTERNALDATE "01-Jan-2026 10:00:00 +0000")', 'S: * 1 FETCH (UID 10 INTERNALDATE "01-Jan-2026 10:00:00 +0100")', 'S: f OK']],
    ['UIDNEXT going down', 'uidnext', ['C: t STATUS INBOX (UIDNEXT)', 'S: * STATUS INBOX (UIDNEXT 25)', 'S: t OK']],
    ['UIDNEXT not above a UID seen', 'uidnext', [...uidsKnown, 'C: t NOOP', 'S: * OK [UIDNEXT 30] hmm', 'S: t OK']],
    ['a message present at SELECT with a UID at or above its UIDNEXT', 'uidnext', ['C: f FETCH 3 (UID)', 'S: * 3 FETCH (UID 31)', 'S: f OK']],
    ['a new message below the UIDNEXT announced', 'new-uid-below-uidnext', ['C: n NOOP', 'S: * 4 EXISTS', 'S: n OK', 'C: f FETCH 4 (UID)', 'S: * 4 FETCH (UID 25)', 'S: f OK']],
    ['APPENDUID below the UIDNEXT announced', 'new-uid-below-uidnext', ['C: a2 APPEND INBOX {1+}\r\nx', 'S: a2 OK [APPENDUID 77 29] done']],
    ['EXISTS below the count the client knows', 'exists-shrank', ['C: n NOOP', 'S: * 2 EXISTS', 'S: n OK']],
    ['EXPUNGE during FETCH', 'expunge-forbidden', ['C: f FETCH 1 (FLAGS)', 'S: * 1 FETCH (FLAGS ())', 'S: * 2 EXPUNGE', 'S: f OK']],
    ['EXPUNGE during STORE', 'expunge-forbidden', ['C: f STORE 1 +FLAGS (\\Seen)', 'S: * 2 EXPUNGE', 'S: f OK']],
    ['EXPUNGE during SEARCH', 'expunge-forbidden', ['C: f SEARCH ALL', 'S: * SEARCH 1 2 3', 'S: * 2 EXPUNGE', 'S: f OK']],
    ['EXPUNGE during a pipelined NOOP + FETCH', 'expunge-forbidden', ['C: n NOOP', 'C: f FETCH 1 (FLAGS)', 'S: * 2 EXPUNGE', 'S: n OK', 'S: f OK']],
    ['EXPUNGE with no command in progress', 'expunge-forbidden', ['S: * 2 EXPUNGE']],
    ['UID FETCH answered without UID', 'fetch-without-uid', [...uidsKnown, 'C: f UID FETCH 10 (RFC822.SIZE)', 'S: * 1 FETCH (RFC822.SIZE 5)', 'S: f OK']],
    ['UID STORE answered without UID', 'fetch-without-uid', [...uidsKnown, 'C: f UID STORE 20 +FLAGS (\\Seen)', 'S: * 2 FETCH (FLAGS (\\Seen))', 'S: f OK']],
    ['UID not listed first', 'uid-not-first', ['C: f UID FETCH 10 (FLAGS)', 'S: * 1 FETCH (FLAGS () UID 10)', 'S: f OK']],
    ['FETCH beyond the mailbox', 'seq-out-of-range', ['C: f FETCH 4 (FLAGS)', 'S: * 4 FETCH (FLAGS ())', 'S: f OK']],
    ['SEARCH beyond the mailbox', 'seq-out-of-range', ['C: f SEARCH ALL', 'S: * SEARCH 1 4', 'S: f OK']],
    ['UID SEARCH naming no message', 'search-unknown-uid', [...uidsKnown, 'C: x UID SEARCH ALL', 'S: * SEARCH 10 20 25 30', 'S: x OK']],
    ['FETCH leaving a message out', 'fetch-incomplete', ['C: f FETCH 1:* (FLAGS)', 'S: * 1 FETCH (FLAGS ())', 'S: * 3 FETCH (FLAGS ())', 'S: f OK']],
    ['UID FETCH leaving a message out', 'fetch-incomplete', [...uidsKnown, 'C: f UID FETCH 15:* (FLAGS)', 'S: * 2 FETCH (UID 20 FLAGS ())', 'S: f OK']],
    ['a tagged response nobody asked for', 'protocol', ['S: zz OK what']],
  ])('%s', (_, rule, lines) => {
    expect(rulesOf(...lines)).toContain(rule);
  });

  it('compares one UID across sessions that share a history', () => {
    const history = new MessageHistory();
    const first = feed(new ImapInvariantChecker({ name: 'phone', history }), [...selected, 'C: f FETCH 1 (UID BODY[HEADER])', 'S: * 1 FETCH (UID 10 BODY[HEADER] {14}\r\nSubject: a\r\n\r\n)', 'S: f OK']);
    const second = feed(new ImapInvariantChecker({ name: 'laptop', history }), [...selected, 'C: f FETCH 1 (UID RFC822.HEADER)', 'S: * 1 FETCH (UID 10 RFC822.HEADER {14}\r\nSubject: b\r\n\r\n)', 'S: f OK']);
    expect(first.violations).toEqual([]);
    expect(second.violations.map((violation) => violation.rule)).toEqual(['message-changed']);
    expect(second.violations[0]!.session).toBe('laptop');
  });

  it('shows the last lines of the session, with credentials hidden', () => {
    const checker = feed(new ImapInvariantChecker({ contextLines: 3 }), [...selected, 'C: n NOOP', 'S: * 2 EXISTS', 'S: n OK']);
    const [violation] = checker.violations;
    expect(violation?.context).toEqual(['S: s OK [READ-WRITE] Select completed', 'C: n NOOP', 'S: * 2 EXISTS']);
    expect(() => checker.assertClean()).toThrow(/\[exists-shrank\][\s\S]*S: \* 2 EXISTS/);
    const login = feed(new ImapInvariantChecker(), ['C: a LOGIN alice secret', 'S: a OK', 'S: * 1 EXPUNGE']);
    expect(login.violations[0]!.context.join('\n')).not.toContain('secret');
  });
});

describe('the tap', () => {
  it('checks a RawImap session without the test feeding it', async () => {
    // A scripted server that forgets it may not send EXPUNGE during FETCH.
    const server = createServer((socket) => {
      socket.write('* OK ready\r\n');
      socket.on('data', (data: Buffer) => {
        const tag = data.toString().split(' ')[0];
        if (data.includes('SELECT')) socket.write(`* 2 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 3] x\r\n${tag} OK done\r\n`);
        else socket.write(`* 1 FETCH (UID 1)\r\n* 2 EXPUNGE\r\n${tag} OK done\r\n`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const tap = new ImapTap();
    try {
      const client = await tap.connect((server.address() as AddressInfo).port);
      await client.greeting();
      await client.command('s', 'SELECT INBOX');
      expect(() => tap.assertClean()).not.toThrow();
      await client.command('f', 'FETCH 1 (UID)');
      expect(() => tap.assertClean()).toThrow(/expunge-forbidden.*during FETCH/);
      // Reported once: the next check only sees what is new.
      expect(() => tap.assertClean()).not.toThrow();
      expect(tap.checkers[0]!.view?.uids).toEqual([1]);
      client.close();
    } finally {
      server.close();
    }
  });

  it('leaves the bytes alone', async () => {
    const server = createServer((socket) => socket.on('data', (data: Buffer) => socket.write(data)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const tap = new ImapTap();
    const client = tap.wrap(await RawImap.connect((server.address() as AddressInfo).port));
    client.write('* 1 FETCH (BODY[] {3}\r\nabc)\r\n');
    expect(await client.waitFor(/abc\)\r\n/)).toBe('* 1 FETCH (BODY[] {3}\r\nabc)\r\n');
    client.close();
    server.close();
  });
});
