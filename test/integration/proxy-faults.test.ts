/**
 * The fault test of issue 11: while sessions work and mail is delivered, the middleware is stopped
 * (SIGSTOP) and resumed, and killed (SIGKILL) and restarted. Every session goes through the
 * invariant tap (per session: UID order, UIDNEXT, no reused UID, messages never changing, …), and
 * this file checks across the sessions of each user what no single session can see
 * (proxy/README.md, "When the middleware fails"):
 *
 * - UIDNEXT never goes backwards: a SELECT shows at least every UIDNEXT shown before it was sent;
 * - a UID seen for the first time is at least every UIDNEXT shown before its listing was asked for;
 * - a message once listed, then missing from a listing that showed a higher UID, is never listed
 *   by a session selected after that (a client reconnecting would see it below mail it knows);
 * - a flag a STORE acknowledged stays on the message while it is listed, in that session and in
 *   every session selected after the acknowledgement (the test only adds flags);
 * - every `\Seen` acknowledged on a campaign message is in the middleware's view (its `read` was
 *   recorded with it), and every campaign message whose expunge was acknowledged is gone from it.
 *
 * Commands may be refused with `NO [UNAVAILABLE]` while the middleware is away; nothing else may
 * fail, and LOGIN and SELECT always work.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo, type DovecotClient, type DovecotUser } from '../services/dovecot.ts';
import { sampleMessage, userWithMail } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';

const dovecot: DovecotClient = dovecotFromInfo(inject('dovecot'));
const tap = useImapTap();
let stack: InjectionStack;

/** A seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

const SEED = Number(process.env['INLAY_FAULT_SEED'] ?? 11_006);
const next = random(SEED);
const pick = <T,>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;

beforeAll(async () => {
  // Shorter than the stalls below, long enough for answers under load (files run in parallel).
  stack = await startInjectionStack({ dovecot, proxyEnv: { INLAY_PROXY_ENGINE_TIMEOUT_MS: '800' } });
  await stack.runCampaign('Fault offer');
}, 60_000);

afterAll(async () => {
  try {
    process.kill(stack.middleware.pid, 'SIGCONT');
  } catch {
    // already gone
  }
  await stack?.stop();
});

/** What every session of one user has shown, for the checks across sessions. */
class UserLedger {
  readonly problems: string[] = [];
  /** Highest UIDNEXT shown by any completed SELECT. */
  maxUidNext = 0;
  readonly everListed = new Set<number>();
  /** UIDs a listing left out while showing a higher UID → when (ticks): no session selected
   *  after that may list them. */
  readonly goneBelowSeen = new Map<number, number>();
  ticks = 0;
  /** uid → flag → when a STORE acknowledged it, and in which session. */
  readonly acknowledged = new Map<number, Map<string, { tick: number; session: string }>>();
  readonly seenVirtual = new Set<number>();
  readonly expungedVirtual = new Set<number>();
  /** Every campaign message a UID EXPUNGE was sent for, acknowledged or not: one refused after
   *  the engine timed out may still have been recorded when the middleware resumed. */
  readonly expungeAsked = new Set<number>();
  validity: string | null = null;

  constructor(readonly user: DovecotUser) {}

  /** A SELECT answered: returns its tick and UIDNEXT. The UIDNEXT counts as shown once the
   *  session's first listing is in (the messages below it are then known as listed). */
  selected(answer: string, maxBefore: number): { tick: number; uidNext: number } {
    const validity = /UIDVALIDITY (\d+)/.exec(answer)?.[1] ?? null;
    if (this.validity !== null && validity !== this.validity) this.problems.push(`UIDVALIDITY changed from ${this.validity} to ${validity}`);
    this.validity ??= validity;
    const uidNext = Number(/UIDNEXT (\d+)/.exec(answer)?.[1] ?? 0);
    if (uidNext < maxBefore) this.problems.push(`UIDNEXT ${uidNext} shown after ${maxBefore} was`);
    return { tick: ++this.ticks, uidNext };
  }

  acknowledge(uid: number, flag: string, session: string): void {
    const flags = this.acknowledged.get(uid) ?? new Map<string, { tick: number; session: string }>();
    flags.set(flag.toLowerCase(), { tick: ++this.ticks, session });
    this.acknowledged.set(uid, flags);
  }

  listed(answer: string, maxUidNextBefore: number, selectedAt: number, session: string): Map<number, Set<string>> {
    const listing = new Map<number, Set<string>>();
    for (const line of answer.split('\r\n')) {
      const uid = /^\* \d+ FETCH \(.*\bUID (\d+)/.exec(line)?.[1];
      const flags = /\bFLAGS \(([^)]*)\)/.exec(line)?.[1];
      if (uid === undefined) continue;
      listing.set(Number(uid), new Set((flags ?? '').split(' ').filter(Boolean).map((flag) => flag.toLowerCase())));
    }
    const highest = Math.max(0, ...listing.keys());
    for (const [uid, flags] of listing) {
      const gone = this.goneBelowSeen.get(uid);
      if (gone !== undefined && selectedAt > gone) this.problems.push(`UID ${uid} listed by a session selected after a listing showed UIDs above it without it`);
      if (!this.everListed.has(uid) && uid < maxUidNextBefore) this.problems.push(`UID ${uid} first listed below UIDNEXT ${maxUidNextBefore} shown before`);
      for (const [flag, ack] of this.acknowledged.get(uid) ?? []) {
        const knows = ack.session === session || ack.tick < selectedAt;
        if (knows && !flags.has(flag)) this.problems.push(`UID ${uid} lost ${flag}, acknowledged by a STORE in ${ack.session} (listed by ${session})`);
      }
    }
    const now = ++this.ticks;
    for (const uid of this.everListed) if (!listing.has(uid) && uid < highest && !this.goneBelowSeen.has(uid)) this.goneBelowSeen.set(uid, now);
    for (const uid of listing.keys()) this.everListed.add(uid);
    return listing;
  }
}

type Raw = Awaited<ReturnType<typeof tap.connect>>;

/** One session of `ledger`'s user: SELECT, listing, a few changes, NOOP, LOGOUT. */
async function oneSession(ledger: UserLedger, name: string): Promise<void> {
  let tags = 0;
  const raw: Raw = await tap.connect(stack.proxy.port, {}, name);
  const send = (text: string): Promise<string> => raw.command(`s${++tags}`, text, 20_000);
  const status = (answer: string): string => /(?:^|\n)s\d+ (OK|NO|BAD)([^\r\n]*)\r?\n?$/.exec(answer)?.slice(1).join('') ?? answer.slice(-200);
  const expectOk = (answer: string, what: string, mayBeRefused: boolean): boolean => {
    const word = status(answer);
    if (word.startsWith('OK')) return true;
    if (mayBeRefused && /^NO \[UNAVAILABLE\]/.test(word)) return false;
    ledger.problems.push(`${what}: ${word}`);
    return false;
  };
  try {
    await raw.greeting();
    expectOk(await send(`LOGIN ${ledger.user.user} ${ledger.user.password}`), 'LOGIN', false);
    const before = ledger.maxUidNext;
    const selected = await send('SELECT INBOX');
    if (!expectOk(selected, 'SELECT', false)) return;
    const selection = ledger.selected(selected, before);
    for (let round = 0; round < 3; round++) {
      const uidNextBefore = ledger.maxUidNext;
      const listing = ledger.listed(await send('UID FETCH 1:* (UID FLAGS)'), uidNextBefore, selection.tick, name);
      ledger.maxUidNext = Math.max(ledger.maxUidNext, selection.uidNext);
      const uids = [...listing.keys()];
      if (uids.length === 0) break;
      const virtual = uids.filter((uid) => uid % 16 !== 0);
      const target = virtual.length > 0 && next() < 0.6 ? pick(virtual) : pick(uids);
      const choice = next();
      if (choice < 0.15 && target % 16 !== 0) {
        // Expunge a campaign message: acknowledged only if the middleware recorded it.
        if (!expectOk(await send(`UID STORE ${target} +FLAGS.SILENT (\\Deleted)`), 'STORE \\Deleted', true)) continue;
        ledger.acknowledge(target, '\\Deleted', name);
        ledger.expungeAsked.add(target);
        if (expectOk(await send(`UID EXPUNGE ${target}`), 'UID EXPUNGE', true)) {
          ledger.expungedVirtual.add(target);
          ledger.acknowledged.delete(target);
        }
      } else {
        const flag = pick(['\\Seen', '\\Flagged', '$Fault']);
        if (expectOk(await send(`UID STORE ${target} +FLAGS (${flag})`), `STORE ${flag}`, true)) {
          ledger.acknowledge(target, flag, name);
          if (flag === '\\Seen' && target % 16 !== 0) ledger.seenVirtual.add(target);
        }
      }
      expectOk(await send('NOOP'), 'NOOP', false);
    }
    await send('LOGOUT');
  } catch (error) {
    ledger.problems.push(`${name}: ${(error as Error).message.slice(0, 300)}`);
  } finally {
    raw.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('sessions and deliveries while the middleware stalls and dies', () => {
  it('keeps every invariant, across sessions too, and records every acknowledged read and expunge', async () => {
    const ledgers = [new UserLedger(await userWithMail(dovecot, 3)), new UserLedger(await userWithMail(dovecot, 4))];
    let running = true;
    let delivered = 0;
    const workers = [0, 1, 2].map(async (worker) => {
      let count = 0;
      while (running) await oneSession(ledgers[worker % ledgers.length]!, `worker ${worker} session ${++count}`);
    });
    const deliveries = (async () => {
      while (running) {
        const ledger = ledgers[delivered % ledgers.length]!;
        await dovecot.deliver(ledger.user.user, sampleMessage(100 + ++delivered));
        await sleep(250);
      }
    })();

    const faults: string[] = [];
    const stall = async (ms: number): Promise<void> => {
      faults.push(`SIGSTOP ${ms} ms`);
      process.kill(stack.middleware.pid, 'SIGSTOP');
      await sleep(ms);
      process.kill(stack.middleware.pid, 'SIGCONT');
    };
    const kill = async (): Promise<void> => {
      faults.push('SIGKILL');
      const pid = stack.middleware.pid;
      process.kill(pid, 'SIGKILL');
      while (alive(pid)) await sleep(20);
      await sleep(800);
      await stack.restartMiddleware();
    };
    try {
      await sleep(1500);
      await stall(2500);
      await sleep(1500);
      await kill();
      await sleep(1500);
      await stall(2000);
      await sleep(1000);
      await kill();
      await sleep(1500);
    } finally {
      running = false;
      await Promise.all([...workers, deliveries]);
    }

    // Once more per user, the middleware answering: what every session acknowledged is there.
    await sleep(500);
    for (const ledger of ledgers) await oneSession(ledger, `final ${ledger.user.user}`);
    const summary = ledgers.map((ledger) => ({ user: ledger.user.user, listed: ledger.everListed.size, reads: ledger.seenVirtual.size, expunges: ledger.expungedVirtual.size }));
    expect({ faults, problems: ledgers.flatMap((ledger) => ledger.problems) }).toEqual({ faults, problems: [] });
    for (const ledger of ledgers) {
      const view = await stack.internalView(ledger.user);
      const listed = new Map(view.messages.map((message) => [message.uid, message.flags]));
      for (const uid of ledger.seenVirtual) {
        if (ledger.expungeAsked.has(uid) && !listed.has(uid)) continue;
        expect(listed.get(uid) ?? [], `\\Seen acknowledged on ${uid} (${ledger.user.user}), not expunged`).toContain('\\Seen');
      }
      for (const uid of ledger.expungedVirtual) expect(listed.has(uid), `expunge acknowledged of ${uid}`).toBe(false);
    }
    // The run did something worth checking: sessions in numbers, and mail delivered during faults.
    expect(delivered).toBeGreaterThan(10);
    expect(summary.every((entry) => entry.listed > 3)).toBe(true);
  });
});
