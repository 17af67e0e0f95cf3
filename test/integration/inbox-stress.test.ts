// Stress behind each server (issue 11): ten sessions of one user in an injected INBOX with a
// campaign live, new mail delivered every 100 ms, each session fetching bodies, headers and flags
// as fast as answers come. Every byte each session receives goes through the invariant checker;
// the test wants no violation, no BAD or NO, and no error in the proxy's log. Bounded in time.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo } from '../services/dovecot.ts';
import { cyrusFromInfo } from '../services/cyrus.ts';
import type { MailServer, MailUser } from '../services/mail-server.ts';
import { sampleMessage } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';

// Behind both servers in `npm test` (INLAY_STRESS_SERVERS=cyrus picks one). Behind Cyrus it once
// failed about two runs in five: Cyrus' SEARCH reads the mailbox again after reporting changes, so
// its answer named mail whose EXISTS it sends only with the next command; the proxy now makes it
// report that mail first (inbox-fetch.ts, search).
const STRESS_SERVERS = new Set((process.env['INLAY_STRESS_SERVERS'] ?? 'dovecot,cyrus').split(',').map((name) => name.trim().toLowerCase()));
const servers: [string, () => MailServer][] = (
  [
    ['Dovecot', () => dovecotFromInfo(inject('dovecot'))],
    ['Cyrus', () => cyrusFromInfo(inject('cyrus'))],
  ] as [string, () => MailServer][]
).filter(([name]) => STRESS_SERVERS.has(name.toLowerCase()));
const CLIENTS = 10;
const RUN_MS = Number(process.env["INLAY_STRESS_MS"] ?? 20_000);
const DELIVERY_EVERY_MS = 100;

const tap = useImapTap();

/** A seeded choice, so a failing run can be read again from its log with the same commands. */
function chooser(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % n;
  };
}

const COMMANDS: ((exists: number, pick: (n: number) => number) => string)[] = [
  (exists) => `FETCH 1:${exists} (FLAGS)`,
  (exists, pick) => `FETCH ${1 + pick(exists)} (BODY.PEEK[])`,
  (exists, pick) => `FETCH ${1 + pick(exists)}:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])`,
  () => 'UID FETCH 1:* (UID FLAGS)',
  (exists, pick) => `UID FETCH ${16 * (1 + pick(exists))}:* (BODY.PEEK[])`,
  () => 'NOOP',
  () => 'UID SEARCH ALL',
];

async function session(stack: InjectionStack, user: MailUser, index: number, until: number): Promise<{ commands: number; failures: string[] }> {
  const raw = await tap.connect(stack.proxy.port, {}, `stress client ${index}`);
  const failures: string[] = [];
  let commands = 0;
  try {
    await raw.greeting();
    await raw.command('l', `LOGIN ${user.user} ${user.password}`);
    const selected = await raw.command('s', 'SELECT INBOX');
    let exists = Number(/^\* (\d+) EXISTS/m.exec(selected)?.[1] ?? 1);
    const pick = chooser(index + 1);
    while (Date.now() < until) {
      const text = COMMANDS[pick(COMMANDS.length)]!(Math.max(exists, 1), pick);
      const tag = `c${++commands}`;
      const answer = await raw.command(tag, text, 30_000);
      const status = new RegExp(`^${tag} (OK|NO|BAD)[^\\r\\n]*`, 'm').exec(answer);
      if (status?.[1] !== 'OK') failures.push(`${text} -> ${status?.[0] ?? '(no status)'}`);
      for (const found of answer.matchAll(/^\* (\d+) EXISTS\r$/gm)) exists = Number(found[1]);
    }
    await raw.command('z', 'LOGOUT');
  } finally {
    raw.close();
  }
  return { commands, failures };
}

describe.each(servers)('ten clients in an injected INBOX behind %s, mail every 100 ms', (_name, serverOf) => {
  const server = serverOf();
  let stack: InjectionStack;

  beforeAll(async () => {
    stack = await startInjectionStack({ dovecot: server });
    await stack.runCampaign('Stress offer');
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('keeps every response well-formed and every invariant, with no error answers', async () => {
    const user = await server.addUser();
    await server.appendMessages(user.user, Array.from({ length: 5 }, (_, i) => sampleMessage(i + 1)));
    const until = Date.now() + RUN_MS;
    let delivered = 0;
    const deliveries = (async () => {
      while (Date.now() < until) {
        const started = Date.now();
        await server.deliver(user.user, sampleMessage(100 + delivered, ` Delivered during the stress run.`));
        delivered++;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, DELIVERY_EVERY_MS - (Date.now() - started))));
      }
    })();
    const results = await Promise.all(Array.from({ length: CLIENTS }, (_, index) => session(stack, user, index, until)));
    await deliveries;
    expect(results.flatMap((result) => result.failures)).toEqual([]);
    // It did run: every client got answers while the mail kept coming.
    expect(results.every((result) => result.commands > 5)).toBe(true);
    // Mail kept arriving all along (a count, not a speed: on a loaded machine each delivery, a
    // login and APPEND of its own, takes longer than the 100 ms it aims at).
    expect(delivered).toBeGreaterThan(RUN_MS / DELIVERY_EVERY_MS / 10);
    expect(stack.proxy.logs().filter((entry) => Number(entry['level']) >= 50)).toEqual([]);
    // tap.assertClean() after the test checks every response of every session.
  }, RUN_MS + 90_000);
});
