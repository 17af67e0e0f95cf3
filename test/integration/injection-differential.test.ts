/**
 * The proxy judged against an oracle (ARCHITECTURE.md, "The INBOX view"): account A behind the
 * Inlay proxy, with campaigns from the real middleware, against account B of the same Dovecot
 * holding the same real mail plus each campaign message APPENDed for real, in the same order.
 * Randomised command sequences over several concurrent sessions, with new mail and campaigns
 * starting and ending meanwhile, must give the same answers up to a renaming of UIDs; every
 * response through the proxy is also checked against the IMAP invariants.
 *
 * A failing seed is printed with the report; add it to REGRESSION_SEEDS so it is replayed.
 *
 * Not yet part of `npm test`: with campaigns starting and ending mid-session the proxy still
 * differs from the oracle in when it announces new and withdrawn virtual messages (see the
 * session note of issue 4). Run it with INLAY_DIFFERENTIAL_PROXY=1 (`npm run test:differential`);
 * INLAY_DIFFERENTIAL_MIX=nocampaign limits the world to new mail (UID translation alone).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDovecot } from '../helpers/fixtures.ts';
import { dovecotTarget, seedInbox, seedMessages } from '../helpers/differential/dovecot-target.ts';
import { runDifferential } from '../helpers/differential/harness.ts';
import { assertNoDifference } from '../helpers/differential/report.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { proxyTarget } from '../helpers/injection-target.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();

/** Seeds that once failed against the proxy, replayed on every run. */
const REGRESSION_SEEDS: number[] = [];
const FRESH_SEEDS = Number(process.env['INLAY_DIFFERENTIAL_RUNS'] ?? 8);
const STEPS = 60;
const SESSIONS = 3;
const INITIAL_MESSAGES = 8;
const firstFresh = Number(process.env['INLAY_DIFFERENTIAL_SEED'] ?? Math.floor(Math.random() * 1e9));
const SEEDS = [...REGRESSION_SEEDS, ...Array.from({ length: FRESH_SEEDS }, (_, i) => firstFresh + i)];

let stack: InjectionStack;
const spareUsers: DovecotUser[] = [];

describe.runIf(process.env['INLAY_DIFFERENTIAL_PROXY'] === '1')('the INBOX through the proxy against an oracle account', () => {
  beforeAll(async () => {
    // Dovecot rereads its user list at most once a second: every account in one batch.
    spareUsers.push(...(await Promise.all(Array.from({ length: 2 * SEEDS.length }, () => dovecot.addUser()))));
    stack = await startInjectionStack({ dovecot });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it.for(SEEDS)('gives the same answers with seed %i', async (seed) => {
    const [subjectUser, oracleUser] = [spareUsers.pop()!, spareUsers.pop()!];
    await Promise.all([seedInbox(dovecot, subjectUser, seedMessages(seed, INITIAL_MESSAGES)), seedInbox(dovecot, oracleUser, seedMessages(seed, INITIAL_MESSAGES))]);
    const subject = proxyTarget(stack, dovecot, subjectUser);
    const oracle = dovecotTarget(dovecot, oracleUser, { name: 'oracle' });
    try {
      const mix = process.env['INLAY_DIFFERENTIAL_MIX'] === 'nocampaign' ? { 'campaign-start': 0, 'campaign-end': 0 } : process.env['INLAY_DIFFERENTIAL_MIX'] === 'nodeliver' ? { deliver: 0 } : {};
      const result = await runDifferential({ seed, steps: STEPS, sessions: SESSIONS, subject, oracle, dropRecent: true, mix });
      assertNoDifference(result);
      expect(result.stepsRun).toBe(STEPS);
    } finally {
      await Promise.all([subject.close(), oracle.close()]);
    }
  });
});
