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
 * some with campaigns starting and ending mid-session too — on the embedded store, and some of
 * them again with the middleware on the run's Cassandra. Fresh seeds are opt-in
 * (`npm run test:differential`; INLAY_DIFFERENTIAL_MIX=nocampaign for new mail only): the last
 * blocks of fresh seeds all passed (README, status); a failing one is printed with its report.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo } from '../services/dovecot.ts';
import { cyrusFromInfo } from '../services/cyrus.ts';
import type { MailServer, MailUser } from '../services/mail-server.ts';
import { dovecotTarget, seedInbox, seedMessages } from '../helpers/differential/dovecot-target.ts';
import { runDifferential, type ActionKind } from '../helpers/differential/harness.ts';
import { assertNoDifference } from '../helpers/differential/report.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { proxyTarget } from '../helpers/injection-target.ts';
import type { CassandraInfo } from '../services/cassandra.ts';

/**
 * The servers the oracle account and the proxied account live on: INLAY_DIFFERENTIAL_SERVERS=
 * dovecot,cyrus. Behind Cyrus the harness knows where Cyrus' answers legitimately differ
 * (reported-at-start.ts, normalise.ts: oracleIsCyrus); its fixed seeds do not all pass yet
 * (proxy/README.md, "Known gaps"), so `npm test` runs Dovecot's only.
 */
const SERVERS = new Set((process.env['INLAY_DIFFERENTIAL_SERVERS'] ?? 'dovecot').split(',').map((name) => name.trim().toLowerCase()));

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
 * this client was last told, not those another session had set since; 7011, new mail announced
 * at the end of a body FETCH took back the \Seen it had just set; 9102 and 9214, a withdrawal
 * reported after a UID SEARCH naming a set; 9106, a STORE's virtual answers went before a new
 * keyword's FLAGS, and .SILENT hid another session's change; 9105 and 9107, a withdrawn message
 * still in a session (the harness now leaves what is said of it out, withdrawn.ts); 9109,
 * APPENDUIDs never paired; 9301, a UID STORE .SILENT naming only virtual messages synced with a
 * plain STORE, so the server's updates came with UID; 9015, a keyword stored on a virtual message
 * only was never announced in FLAGS; 9308, a message another session expunged (harness); 9414
 * and 9809, another session's flag change came after new mail's EXISTS during a body FETCH; 9602,
 * the same in EXAMINE; 10105, EXPUNGE left a virtual message another session had marked \Deleted;
 * 10112, UID STORE refused in EXAMINE sent UID in its updates; 11208, a UID set Dovecot's rewrite
 * drops (OR with ALL) still held the withdrawal back; 7010 and 9204, flags another session
 * changed and changed back were not reported (the view now counts flag changes); 13005 and
 * 13301, SEARCH sets ('*:9' past the end; '1:*' with no real message) read unlike the server;
 * 13214, a FETCH's virtual answers came after the server's keyword announcement; 13115, SEARCH
 * judged a virtual message by the flags its client was told, not those another session had set;
 * 14114, a set naming only a virtual message reached the server as NOT ALL, so it reported an
 * expunge the client's criteria hold back; 20060, a keyword the server announced before a FETCH's
 * data sent all the FETCH's virtual answers ahead of it, out of order; 20001, a flag SEARCH while
 * another session's change was unsynced (harness); 20072, new mail expunged elsewhere and counted
 * by a FETCH's sync (harness); 20082, the server's FLAGS repeated keywords the proxy had just
 * announced for a virtual message; 20091, an EXPUNGE while another session's \Deleted was
 * unsynced (harness: that session syncs first, deleted-elsewhere.ts); 20019 and 20051, a keyword
 * another session set on a virtual message since gone was never announced (the view now keeps
 * keywords for good); 41017, a campaign that started and ended while a session sent nothing,
 * counted by Dovecot's next FETCH (harness: that session syncs first, came-and-went.ts); 43003,
 * new mail arriving during the EXPUNGE that removed the last virtual message brought it back
 * (then expunged it again), the view not yet knowing of the expunge. On Cassandra also 50001: a
 * keyword a STORE only named (removing it from messages without it) was kept by the view and
 * announced to other sessions, which Dovecot never tells; 52014, a FETCH of FLAGS answered from a
 * virtual message alone sent its data before the server's keyword announcement, which Dovecot
 * writes right before the first FLAGS.
 */
const CAMPAIGN_SEEDS = [7000, 7001, 7002, 7003, 7005, 7006, 7007, 7008, 7011, 8000, 8001, 8003, 8009, 8014, 9015, 9102, 9105, 9106, 9107, 9109, 9214, 9301, 9308, 9414, 9602, 9809, 10105, 10112, 11208, 7010, 9204, 13005, 13115, 13214, 13301, 14114, 20060, 20001, 20072, 20082, 20091, 20019, 20051, 41017, 43003, 50001, 52014];
const FRESH_SEEDS = Number(process.env['INLAY_DIFFERENTIAL_RUNS'] ?? 8);
const STEPS = 60;
const SESSIONS = 3;
const INITIAL_MESSAGES = 8;
const firstFresh = Number(process.env['INLAY_DIFFERENTIAL_SEED'] ?? Math.floor(Math.random() * 1e9));
const OPT_IN = process.env['INLAY_DIFFERENTIAL_PROXY'] === '1';
const NEW_MAIL_ONLY = { 'campaign-start': 0, 'campaign-end': 0 };
/**
 * Seeds replayed only up to a step: past it Dovecot answers in a way no subject can follow. None
 * now: 9106 stopped at step 28, where its SEARCH judged a message by the flags its session had
 * last synced; the harness leaves such hits out (flags-changed-elsewhere.ts).
 */
const STEPS_OF: Readonly<Record<number, number>> = {};
interface Run {
  readonly seed: number;
  readonly mix: Partial<Record<ActionKind, number>>;
  readonly label: string;
}
// INLAY_DIFFERENTIAL_SEEDS=9102,9106 replays those seeds instead.
const chosenSeeds = process.env['INLAY_DIFFERENTIAL_SEEDS']?.split(',').map(Number).filter(Number.isInteger);
const RUNS: Run[] = OPT_IN
  ? (chosenSeeds ?? Array.from({ length: FRESH_SEEDS }, (_, i) => firstFresh + i)).map((seed) => ({
      seed,
      mix: process.env['INLAY_DIFFERENTIAL_MIX'] === 'nocampaign' ? NEW_MAIL_ONLY : {},
      label: process.env['INLAY_DIFFERENTIAL_MIX'] === 'nocampaign' ? 'new mail' : 'new mail and campaigns',
    }))
  : [...NEW_MAIL_SEEDS.map((seed) => ({ seed, mix: NEW_MAIL_ONLY, label: 'new mail' })), ...CAMPAIGN_SEEDS.map((seed) => ({ seed, mix: {}, label: 'new mail and campaigns' }))];

/**
 * On Cassandra, the production store (LWT assignment, its own reads of flags and campaigns):
 * a few of the seeds above, so the run stays short. INLAY_DIFFERENTIAL_STORE=cassandra puts the
 * opt-in fresh seeds there instead.
 */
const CASSANDRA_RUNS: Run[] = OPT_IN ? [] : RUNS.filter((run) => [427651826, 774295523, 7000, 7002, 8000, 8001, 50001].includes(run.seed));
const FRESH_ON_CASSANDRA = OPT_IN && process.env['INLAY_DIFFERENTIAL_STORE'] === 'cassandra';

if (SERVERS.has('dovecot')) {
  describeAgainstOracle('the INBOX through the proxy (embedded store) against an oracle account on Dovecot', FRESH_ON_CASSANDRA ? [] : RUNS, undefined, () => dovecotFromInfo(inject('dovecot')));
  describeAgainstOracle('the INBOX through the proxy (Cassandra store) against an oracle account on Dovecot', FRESH_ON_CASSANDRA ? RUNS : CASSANDRA_RUNS, inject('cassandra'), () => dovecotFromInfo(inject('dovecot')));
}
if (SERVERS.has('cyrus')) {
  describeAgainstOracle('the INBOX through the proxy (embedded store) against an oracle account on Cyrus', FRESH_ON_CASSANDRA ? [] : RUNS, undefined, () => cyrusFromInfo(inject('cyrus')));
}

function describeAgainstOracle(title: string, runs: readonly Run[], cassandra: CassandraInfo | undefined, serverOf: () => MailServer): void {
  if (runs.length === 0) return;
  let stack: InjectionStack;
  const spareUsers: MailUser[] = [];
  const dovecot = serverOf();

  describe(title, () => {
    beforeAll(async () => {
      // Dovecot rereads its user list at most once a second: every account in one batch. Cyrus
      // creates each INBOX at first login, and a hundred logins at once outrun its greeting
      // timeout: a few at a time.
      const batch = dovecot.kind === 'cyrus' ? 4 : 2 * runs.length;
      for (let made = 0; made < 2 * runs.length; made += batch) {
        spareUsers.push(...(await Promise.all(Array.from({ length: Math.min(batch, 2 * runs.length - made) }, () => dovecot.addUser()))));
      }
      stack = await startInjectionStack({ dovecot, ...(cassandra ? { cassandra } : {}) });
    }, 120_000);

    afterAll(async () => {
      await stack?.stop();
    });

    it.for(runs)('gives the same answers with seed $seed ($label)', async ({ seed, mix }) => {
      const [subjectUser, oracleUser] = [spareUsers.pop()!, spareUsers.pop()!];
      await Promise.all([seedInbox(dovecot, subjectUser, seedMessages(seed, INITIAL_MESSAGES)), seedInbox(dovecot, oracleUser, seedMessages(seed, INITIAL_MESSAGES))]);
      const subject = proxyTarget(stack, dovecot, subjectUser);
      const oracle = dovecotTarget(dovecot, oracleUser, { name: 'oracle' });
      try {
        const steps = STEPS_OF[seed] ?? STEPS;
        const result = await runDifferential({ seed, steps, sessions: SESSIONS, subject, oracle, dropRecent: true, mix, oracleIsCyrus: dovecot.kind === 'cyrus' });
        assertNoDifference(result);
        expect(result.stepsRun).toBe(steps);
      } finally {
        await Promise.all([subject.close(), oracle.close()]);
      }
    });
  });
}
