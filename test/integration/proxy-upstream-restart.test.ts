/**
 * The fault of issue 15's "Done means": the upstream IMAP server restarts under load. Ten
 * clients work through the proxy in an injected INBOX with a campaign live and mail arriving,
 * while the test stops Dovecot twice and starts it again on the same ports and mail: once in
 * order (SIGTERM to every Dovecot process, as `systemctl restart` does: its sessions say
 * `* BYE Server shutting down.` themselves, and the proxy passes that on), once as a crash
 * (SIGKILL: connections just end, and the proxy tells each client `* BYE [UNAVAILABLE]`).
 * Every session goes through the invariant tap; across sessions of a user this file checks that
 * UIDVALIDITY stays and UIDNEXT never goes back.
 *
 * What may happen to a client: a session ended by a BYE, a login refused with `NO [UNAVAILABLE]`
 * while the server is down. What must not: any other refusal, a connection closed without a BYE,
 * a command left unanswered (each waits at most COMMAND_TIMEOUT_MS), or a client that cannot get
 * back in once the server is up.
 *
 * This file runs a Dovecot of its own: stopping the run's shared one would cut every other test
 * file running beside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotServer, type DovecotUser } from '../services/dovecot.ts';
import { sampleMessage, userWithMail } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';
import type { RawImap } from '../helpers/raw-imap.ts';

const CLIENTS = 10;
/** Far above any answer under this load; an answer that takes longer counts as a hang. */
const COMMAND_TIMEOUT_MS = 20_000;

const tap = useImapTap();
let dovecot: DovecotServer;
let stack: InjectionStack;

beforeAll(async () => {
  dovecot = await startDovecot();
  stack = await startInjectionStack({ dovecot });
  await stack.runCampaign('Restart offer');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await dovecot?.stop();
});

/** A seeded choice, so a failing run can be replayed. */
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
  () => 'UID FETCH 1:* (UID FLAGS)',
  () => 'NOOP',
  () => 'UID SEARCH ALL',
  (exists, pick) => `STORE ${1 + pick(exists)} +FLAGS (\\Flagged)`,
];

/** What the sessions of one user showed, checked across them. */
class UserLedger {
  readonly problems: string[] = [];
  validity: string | null = null;
  maxUidNext = 0;

  constructor(readonly user: DovecotUser) {}

  selected(answer: string, maxBefore: number): void {
    const validity = /UIDVALIDITY (\d+)/.exec(answer)?.[1] ?? null;
    if (this.validity !== null && validity !== this.validity) this.problems.push(`UIDVALIDITY changed from ${this.validity} to ${validity}`);
    this.validity ??= validity;
    const uidNext = Number(/UIDNEXT (\d+)/.exec(answer)?.[1] ?? 0);
    if (uidNext < maxBefore) this.problems.push(`UIDNEXT ${uidNext} shown after ${maxBefore} was`);
    this.maxUidNext = Math.max(this.maxUidNext, uidNext);
  }
}

interface Tally {
  loginsRefused: number;
  cutWithUnavailable: number;
  /** Texts of BYEs without [UNAVAILABLE] (the server's own, passed on). */
  serverByes: string[];
  /** When each worker last had a SELECT answered OK. */
  lastSelectAt: number[];
  sessions: number;
  problems: string[];
}

type Ended = 'running' | 'cut' | 'refused';

/** Runs one session until the run stops or the session ends; classifies how it ended. */
async function oneSession(worker: number, ledger: UserLedger, tally: Tally, isRunning: () => boolean, pick: (n: number) => number): Promise<Ended> {
  let tags = 0;
  const name = `worker ${worker} session ${++tally.sessions}`;
  const raw: RawImap = await tap.connect(stack.proxy.port, {}, name);
  /** The session was closed under a command: a BYE must say why. */
  const closedUnder = (what: string): Ended => {
    const bye = /\* BYE ([^\r\n]*)/.exec(raw.text)?.[1];
    if (bye === undefined) tally.problems.push(`${name}: closed without BYE during ${what}`);
    else if (bye.startsWith('[UNAVAILABLE]')) tally.cutWithUnavailable++;
    else tally.serverByes.push(bye);
    return 'cut';
  };
  const send = async (text: string): Promise<string | null> => {
    try {
      return await raw.command(`w${++tags}`, text, COMMAND_TIMEOUT_MS);
    } catch (error) {
      if (raw.closed) return null;
      tally.problems.push(`${name}: ${text}: ${(error as Error).message.slice(0, 300)}`);
      return null;
    }
  };
  const statusOf = (answer: string): string => /(?:^|\n)w\d+ ((?:OK|NO|BAD)[^\r\n]*)\r?\n?$/.exec(answer)?.[1] ?? answer.slice(-200);
  try {
    try {
      await raw.greeting();
    } catch (error) {
      tally.problems.push(`${name}: no greeting: ${(error as Error).message.slice(0, 200)}`);
      return 'cut';
    }
    const login = await send(`LOGIN ${ledger.user.user} ${ledger.user.password}`);
    if (login === null) return closedUnder('LOGIN');
    if (/^NO \[UNAVAILABLE\]/.test(statusOf(login))) {
      tally.loginsRefused++;
      return 'refused';
    }
    if (!statusOf(login).startsWith('OK')) {
      tally.problems.push(`${name}: LOGIN: ${statusOf(login)}`);
      return 'refused';
    }
    const before = ledger.maxUidNext;
    const selected = await send('SELECT INBOX');
    if (selected === null) return closedUnder('SELECT');
    if (!statusOf(selected).startsWith('OK')) {
      tally.problems.push(`${name}: SELECT: ${statusOf(selected)}`);
      return 'cut';
    }
    ledger.selected(selected, before);
    tally.lastSelectAt[worker] = Date.now();
    let exists = Number(/^\* (\d+) EXISTS/m.exec(selected)?.[1] ?? 1);
    while (isRunning()) {
      const text = COMMANDS[pick(COMMANDS.length)]!(Math.max(exists, 1), pick);
      const answer = await send(text);
      if (answer === null) return closedUnder(text);
      const status = statusOf(answer);
      // A flag change on a campaign message may be refused while its state cannot be stored;
      // nothing else here may fail.
      if (!status.startsWith('OK') && !/^NO \[UNAVAILABLE\]/.test(status)) tally.problems.push(`${name}: ${text}: ${status}`);
      for (const found of answer.matchAll(/^\* (\d+) EXISTS\r$/gm)) exists = Number(found[1]);
    }
    await send('LOGOUT');
    return 'running';
  } finally {
    raw.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the upstream IMAP server restarts under load', () => {
  it('cuts sessions with [UNAVAILABLE], refuses logins while it is down, and lets every client back in', async () => {
    const users = await Promise.all([userWithMail(dovecot, 4), userWithMail(dovecot, 5)]);
    const ledgers = users.map((user) => new UserLedger(user));
    const tally: Tally = { loginsRefused: 0, cutWithUnavailable: 0, serverByes: [], lastSelectAt: [], sessions: 0, problems: [] };
    let running = true;
    const workers = Array.from({ length: CLIENTS }, async (_, worker) => {
      const pick = chooser(15_000 + worker);
      while (running) {
        const ended = await oneSession(worker, ledgers[worker % ledgers.length]!, tally, () => running, pick);
        // A client waits a little before it tries again, as real ones do.
        if (ended !== 'running') await sleep(150);
      }
    });
    let delivered = 0;
    const deliveries = (async () => {
      while (running) {
        // Mail arrives whether or not the IMAP server is up (the MTA writes the Maildir).
        await dovecot.deliver(users[delivered % users.length]!.user, sampleMessage(100 + ++delivered));
        await sleep(200);
      }
    })();

    /** Per restart: how it went, and whether every client had a SELECT answered after it. */
    const restarts: { signal: string; cutWithUnavailable: number; serverByes: number; loginsRefused: number; everyClientBack: boolean }[] = [];
    const restart = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
      const before = { cut: tally.cutWithUnavailable, byes: tally.serverByes.length, refused: tally.loginsRefused };
      await dovecot.halt(signal);
      await sleep(2500);
      // Taken before resume() returns: clients get back in while it still checks every listener.
      const resumedAt = Date.now();
      await dovecot.resume();
      // Every client back within a bound that allows for a loaded machine (no fixed wait: one
      // stuck client keeps this loop going to the bound and fails the test).
      const allBack = (): boolean => Array.from({ length: CLIENTS }, (_, worker) => tally.lastSelectAt[worker] ?? 0).every((at) => at > resumedAt);
      for (let waited = 0; waited < 30_000 && !allBack(); waited += 250) await sleep(250);
      restarts.push({
        signal,
        cutWithUnavailable: tally.cutWithUnavailable - before.cut,
        serverByes: tally.serverByes.length - before.byes,
        loginsRefused: tally.loginsRefused - before.refused,
        everyClientBack: allBack(),
      });
    };
    try {
      await sleep(3000);
      await restart('SIGTERM');
      await restart('SIGKILL');
    } finally {
      running = false;
      await Promise.all([...workers, deliveries]);
    }

    const problems = [...tally.problems, ...ledgers.flatMap((ledger) => ledger.problems)];
    expect(problems).toEqual([]);
    const [orderly, crash] = restarts;
    // Both were felt, and every client got back in after each. An orderly stop's sessions end
    // with the server's BYE (or ours, where the server's connection went first); a crash's with ours.
    expect(orderly).toMatchObject({ loginsRefused: expect.any(Number), everyClientBack: true });
    expect(orderly!.serverByes + orderly!.cutWithUnavailable).toBeGreaterThan(0);
    expect(orderly!.loginsRefused).toBeGreaterThan(0);
    expect(crash).toMatchObject({ serverByes: 0, everyClientBack: true });
    expect(crash!.cutWithUnavailable).toBeGreaterThan(0);
    expect(crash!.loginsRefused).toBeGreaterThan(0);
    // The proxy went on: no internal error, and it still answers.
    expect(stack.proxy.logs().filter((entry) => entry['code'] === 'INLAY_PROXY_INTERNAL_ERROR')).toEqual([]);
    expect(delivered).toBeGreaterThan(10);
  }, 180_000);
});
