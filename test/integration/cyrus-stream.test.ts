// Item 9 of issue 11, behind Cyrus: new mail arriving while a client fetches message data in an
// injected INBOX. Cyrus reports the new mail (`* N EXISTS`) before the FETCH data of the same
// command; the view holds that data back while it places the mail, and a response's literal must
// be held with its line — else the literal reaches the client before the line announcing it and
// the stream is garbage. Checked on the wire (the invariant checker parses every response) and by
// a real client (imaplib aborts on a broken stream).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cyrusFromInfo } from '../services/cyrus.ts';
import { sampleMessage } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';

const run = promisify(execFile);
const cyrus = cyrusFromInfo(inject('cyrus'));
const tap = useImapTap();
let stack: InjectionStack;

beforeAll(async () => {
  stack = await startInjectionStack({ dovecot: cyrus });
  await stack.runCampaign('Cyrus offer');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** Every `{N}` literal in `answer` followed by exactly N bytes and then the rest of a FETCH item list. */
function literalsIntact(answer: string): { bodies: string[] } {
  const bodies: string[] = [];
  const literal = /\{(\d+)\}\r\n/g;
  let match: RegExpExecArray | null;
  while ((match = literal.exec(answer)) !== null) {
    const start = match.index + match[0].length;
    const body = answer.slice(start, start + Number(match[1]));
    bodies.push(body);
    literal.lastIndex = start + body.length;
    // After the literal: the FETCH item list goes on or closes; never a new response line.
    expect(answer.slice(literal.lastIndex, literal.lastIndex + 1)).toMatch(/^[ )]$/);
  }
  return { bodies };
}

describe('new mail while fetching bodies in an injected INBOX (Cyrus)', () => {
  it('keeps each FETCH line and its literal together, and announces the mail in one EXISTS', async () => {
    const user = await cyrus.addUser();
    await cyrus.appendMessages(user.user, [1, 2, 3].map((index) => sampleMessage(index)));
    const raw = await tap.connect(stack.proxy.port);
    await raw.greeting();
    await raw.command('a', `LOGIN ${user.user} ${user.password}`);
    expect(await raw.command('b', 'SELECT INBOX')).toContain('* 4 EXISTS'); // three real, the campaign
    for (let round = 0; round < 4; round++) {
      // Delivered between commands: Cyrus tells of it at the start of the next one.
      await cyrus.deliver(user.user, sampleMessage(10 + round, ` Round ${round}.`));
      const answer = await raw.command(`f${round}`, 'FETCH 1:3 (BODY.PEEK[])');
      expect(answer).toMatch(new RegExp(`^f${round} OK`, 'm'));
      const { bodies } = literalsIntact(answer);
      expect(bodies.map((body) => /^Subject: (.*)$/m.exec(body)?.[1])).toEqual(['Message number 1', 'Message number 2', 'Message number 3']);
      expect(answer).toContain(`* ${5 + round} EXISTS`);
    }
    // The new mail comes after the campaign message, in arrival order, each with a UID above it.
    const uids = await raw.command('s', 'UID SEARCH ALL');
    expect(uids).toMatch(/^\* SEARCH 16 32 48 49 64 80 96 112\r$/m);
    await raw.command('z', 'LOGOUT');
    raw.close();
    expect(stack.proxy.logs().filter((entry) => Number(entry['level']) >= 50)).toEqual([]);
  });

  it("Python's imaplib fetches bodies while mail keeps arriving, without aborting", async () => {
    const user = await cyrus.addUser();
    await cyrus.appendMessages(user.user, [1, 2].map((index) => sampleMessage(index)));
    const relay = await tap.relay(stack.proxy.port, 'imaplib');
    const script = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
m.select('INBOX')
rounds = 0
for i in range(40):
    typ, data = m.fetch('1:2', '(BODY.PEEK[])')
    assert typ == 'OK', (typ, data)
    bodies = [part[1] for part in data if isinstance(part, tuple)]
    assert len(bodies) == 2 and all(b'Message number' in b for b in bodies), data
    rounds += 1
print(rounds)
m.logout()
`;
    let delivering = true;
    const deliveries = (async () => {
      let sent = 0;
      while (delivering) {
        await cyrus.deliver(user.user, sampleMessage(100 + sent));
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return sent;
    })();
    try {
      const { stdout } = await run('python3', ['-c', script, String(relay.port), user.user, user.password], { timeout: 60_000 });
      expect(stdout.trim()).toBe('40');
    } finally {
      delivering = false;
      expect(await deliveries).toBeGreaterThan(0);
      await relay.close();
    }
  });
});
