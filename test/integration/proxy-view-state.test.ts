/**
 * Issue 11, item 7: the view state lost — the tenant deleted with dropDB=true and created again —
 * must not reuse UIDs under one UIDVALIDITY: the view state epoch is part of the client
 * UIDVALIDITY (proxy/README.md, "UIDVALIDITY and the view state"), so clients resync once. And
 * the middleware merely unreachable must not change UIDVALIDITY: the proxy node keeps the epoch.
 * Every session goes through the invariant tap, which also holds UIDs to one message per
 * UIDVALIDITY across sessions.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo, type DovecotClient, type DovecotUser } from '../services/dovecot.ts';
import { userWithMail } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';

const dovecot: DovecotClient = dovecotFromInfo(inject('dovecot'));
const tap = useImapTap();
let stack: InjectionStack;

beforeAll(async () => {
  stack = await startInjectionStack({ dovecot });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

type Raw = Awaited<ReturnType<typeof tap.connect>>;
let tags = 0;

async function selected(user: DovecotUser, name: string): Promise<{ raw: Raw; validity: number; listing: string }> {
  const raw = await tap.connect(stack.proxy.port, {}, name);
  await raw.greeting();
  await raw.command(`t${++tags}`, `LOGIN ${user.user} ${user.password}`);
  const answer = await raw.command(`t${++tags}`, 'SELECT INBOX');
  const listing = await raw.command(`t${++tags}`, 'UID FETCH 1:* (UID ENVELOPE)');
  return { raw, validity: Number(/UIDVALIDITY (\d+)/.exec(answer)?.[1]), listing };
}

describe('the view state lost and begun again', () => {
  it('a tenant dropped and re-created shows a new UIDVALIDITY, not UID 33 holding another message', async () => {
    const user = await userWithMail(dovecot, 2);
    await stack.runCampaign('First offer');
    const before = await selected(user, 'before the drop');
    expect(before.listing).toMatch(/UID 33 ENVELOPE[^\n]*First offer/);
    await before.raw.command(`t${++tags}`, 'LOGOUT');
    const across = await selected(user, 'selected across the drop');

    await stack.recreateTenant();
    await stack.runCampaign('Second offer');
    // A session selected across the loss: its UID 33 would now name another message under its
    // UIDVALIDITY, so it ends at its next sync and its client resyncs on reconnecting.
    across.raw.write(`t${++tags} NOOP\r\n`);
    expect(await across.raw.waitFor(/\* BYE \[UNAVAILABLE\][^\n]*\n/)).toMatch(/BYE/);
    await across.raw.waitClosed();
    const after = await selected(user, 'after the drop');
    expect(after.listing).toMatch(/UID 33 ENVELOPE[^\n]*Second offer/);
    // The other message under UID 33 comes with a new UIDVALIDITY: clients resync once.
    expect(after.validity).not.toBe(before.validity);

    // Again, the same view state: the same UIDVALIDITY, also with the middleware unreachable
    // (this node remembers the epoch it used).
    const again = await selected(user, 'again');
    expect(again.validity).toBe(after.validity);
    await stack.stopMiddleware();
    try {
      const down = await selected(user, 'middleware down');
      expect(down.validity).toBe(after.validity);
      await down.raw.command(`t${++tags}`, 'LOGOUT');
    } finally {
      await stack.restartMiddleware();
    }
    await after.raw.command(`t${++tags}`, 'LOGOUT');
    await again.raw.command(`t${++tags}`, 'LOGOUT');
  });
});
