/**
 * Issue 11, item 6: the middleware stopped with SIGSTOP for longer than the engine timeout, then
 * resumed. The INBOX must keep the invariants meanwhile (proxy/README.md, "When the middleware
 * fails"): UIDNEXT never goes backwards, a flag change on a campaign message is stored or refused
 * (never acknowledged and dropped), and a campaign message hidden while mail arrived never comes
 * back under a UID below that mail. Every session goes through the invariant tap.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo, type DovecotClient, type DovecotUser } from '../services/dovecot.ts';
import { userWithMail } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';

const dovecot: DovecotClient = dovecotFromInfo(inject('dovecot'));
const tap = useImapTap();
let stack: InjectionStack;
/** The engine timeout of this stack: the stall below lasts as long as the test needs, and an
 *  answer under load (files run in parallel on two cores) still comes within it. */
const ENGINE_TIMEOUT_MS = 1000;

beforeAll(async () => {
  stack = await startInjectionStack({ dovecot, proxyEnv: { INLAY_PROXY_ENGINE_TIMEOUT_MS: String(ENGINE_TIMEOUT_MS) } });
  await stack.runCampaign('Spring offer');
}, 60_000);

afterAll(async () => {
  if (stack) process.kill(stack.middleware.pid, 'SIGCONT');
  await stack?.stop();
});

type Raw = Awaited<ReturnType<typeof tap.connect>>;
let tags = 0;

async function loggedIn(user: DovecotUser, name: string): Promise<Raw> {
  const raw = await tap.connect(stack.proxy.port, {}, name);
  await raw.greeting();
  expect(await raw.command('l', `LOGIN ${user.user} ${user.password}`)).toMatch(/\nl OK|^l OK/);
  return raw;
}

async function send(raw: Raw, text: string): Promise<string> {
  return raw.command(`t${++tags}`, text);
}

function uidNextOf(answer: string): number {
  return Number(/\[UIDNEXT (\d+)\]/.exec(answer)?.[1] ?? NaN);
}

function uidsOf(answer: string): number[] {
  return [...answer.matchAll(/\* \d+ FETCH \(UID (\d+)/g)].map((match) => Number(match[1]));
}

async function stall(): Promise<void> {
  process.kill(stack.middleware.pid, 'SIGSTOP');
}

async function resume(): Promise<void> {
  process.kill(stack.middleware.pid, 'SIGCONT');
  // Past the proxy's suspension (300 ms in this stack), then one call to probe.
  await new Promise((resolve) => setTimeout(resolve, 500));
}

describe('the middleware stalled (SIGSTOP) and resumed', () => {
  it('keeps UIDNEXT, refuses flag changes it cannot store, and never shows a campaign message below mail seen without it', async () => {
    const user = await userWithMail(dovecot, 5);
    const first = await loggedIn(user, 'before the stall');
    const selected = await send(first, 'SELECT INBOX');
    expect(selected).toContain('* 6 EXISTS'); // five real, the campaign
    expect(uidsOf(await send(first, 'UID FETCH 1:* (UID)'))).toEqual([16, 32, 48, 64, 80, 81]);
    const uidNextBefore = uidNextOf(selected);
    expect(uidNextBefore).toBe(82);

    await stall();
    try {
      // A flag change on the campaign message: not stored, so refused, and nothing changed.
      const stored = await send(first, 'UID STORE 81 +FLAGS (\\Seen)');
      expect(stored).toMatch(/NO \[UNAVAILABLE\]/);
      expect(await send(first, 'UID FETCH 81 (FLAGS)')).not.toMatch(/\\Seen/);
      // A body fetched without PEEK is served, but \Seen is neither shown nor acknowledged.
      const body = await send(first, 'UID FETCH 81 (BODY[])');
      expect(body).toMatch(/OK/);
      expect(body).not.toMatch(/\\Seen/);

      // A new session while the middleware stalls: the same UIDVALIDITY, and UIDNEXT not below 82.
      const during = await loggedIn(user, 'during the stall');
      const selectedDuring = await send(during, 'SELECT INBOX');
      expect(/UIDVALIDITY \d+/.exec(selectedDuring)?.[0]).toBe(/UIDVALIDITY \d+/.exec(selected)?.[0]);
      expect(uidNextOf(selectedDuring)).toBeGreaterThanOrEqual(uidNextBefore);
      // Mail delivered during the stall, seen by that session as UID 96.
      await dovecot.deliver(user.user, 'From: a@example.org\r\nSubject: during the stall\r\n\r\nstill delivered\r\n');
      await send(during, 'NOOP');
      expect(uidsOf(await send(during, 'UID FETCH 1:* (UID)'))).toContain(96);
      await send(during, 'LOGOUT');
    } finally {
      await resume();
    }

    // After recovery: the campaign message must not come back as UID 81, below 96.
    const after = await loggedIn(user, 'after the stall');
    const selectedAfter = await send(after, 'SELECT INBOX');
    expect(uidNextOf(selectedAfter)).toBeGreaterThan(96);
    const listed = uidsOf(await send(after, 'UID FETCH 1:* (UID)'));
    expect(listed.filter((uid) => uid % 16 !== 0 && uid < 96)).toEqual([]);
    expect(listed).toContain(96);
    await send(after, 'LOGOUT');

    // The session that showed 81 throughout keeps it; its flag change now is stored.
    expect(await send(first, 'UID STORE 81 +FLAGS (\\Seen)')).toMatch(/\nt\d+ OK|^t\d+ OK/m);
    const view = await stack.internalView(user);
    expect(view.messages.find((message) => message.uid === 81)?.flags).toContain('\\Seen');
    await send(first, 'LOGOUT');
  });

  it('refuses an EXPUNGE of a campaign message it cannot record, and keeps the message', async () => {
    const user = await userWithMail(dovecot, 2);
    const session = await loggedIn(user, 'expunge');
    expect(await send(session, 'SELECT INBOX')).toContain('* 3 EXISTS');
    expect(await send(session, 'UID STORE 33 +FLAGS.SILENT (\\Deleted)')).toMatch(/OK/);
    await stall();
    try {
      expect(await send(session, 'UID EXPUNGE 33')).toMatch(/NO \[UNAVAILABLE\]/);
      expect(await send(session, 'EXPUNGE')).toMatch(/NO \[UNAVAILABLE\]/);
      expect(uidsOf(await send(session, 'UID FETCH 1:* (UID)'))).toEqual([16, 32, 33]);
    } finally {
      await resume();
    }
    const expunged = await send(session, 'UID EXPUNGE 33');
    expect(expunged).toMatch(/\* 3 EXPUNGE[\s\S]*OK/);
    expect((await stack.internalView(user)).messages.map((message) => message.uid)).not.toContain(33);
    await send(session, 'LOGOUT');
  });
});
