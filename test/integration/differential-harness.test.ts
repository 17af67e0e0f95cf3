/**
 * Proves the differential harness on the real Dovecot before it judges the proxy: two
 * accounts with the same mail and the same world events must show no difference over many
 * seeds (no false alarms, and Dovecot is deterministic enough to serve as an oracle); an
 * account nudged on purpose (an extra message, other flags, a campaign that never ends, mail
 * in another order) must be reported; a relay that renames every UID consistently must pass,
 * and one that lies about UIDNEXT must be caught by the invariant checker.
 *
 * A failing seed is printed with the report; add it to REGRESSION_SEEDS so it is replayed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { testDovecot } from '../helpers/fixtures.ts';
import { connectTo, DovecotAdmin, dovecotTarget, seedInbox, seedMessages, type DovecotTarget } from '../helpers/differential/dovecot-target.ts';
import { runDifferential, type DifferentialOptions } from '../helpers/differential/harness.ts';
import { assertNoDifference, formatResult, type DifferentialResult } from '../helpers/differential/report.ts';
import { startUidScalingRelay } from '../helpers/differential/uid-scaling-relay.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();

/**
 * Seeds that once failed, replayed on every run:
 * - 4: Dovecot sends flag updates without UID during UID STORE .SILENT (a checker false alarm);
 * - 140: a UID SEARCH hit expunged later in the same command (a checker false alarm);
 * - 258: STORE in an EXAMINEd mailbox ("OK Store ignored"), flag updates without UID;
 * - 262: Dovecot 2.3.19 answers BODY.PEEK[]<272.101> one byte off after other fetches — the
 *   oracle's own bug, listed in the report and not held against the subject.
 */
const REGRESSION_SEEDS = [4, 140, 258, 262];
const FRESH_SEEDS = 16;
const STEPS = 60;
const SESSIONS = 3;
const INITIAL_MESSAGES = 8;
// npm test runs a fixed block of seeds, so a red run is repeatable and Dovecot 2.3.19's own
// partial-fetch bug (it sometimes cuts a literal short and drops the connection) cannot turn CI
// red at random; INLAY_DIFFERENTIAL_SEED=n explores n, n+1, … instead.
const firstFresh = Number(process.env['INLAY_DIFFERENTIAL_SEED'] ?? 1000);
const SEEDS = [...REGRESSION_SEEDS, ...Array.from({ length: FRESH_SEEDS }, (_, i) => firstFresh + i)];

/** Accounts made up front: Dovecot reloads its user list at most once a second, so one batch. */
const spareUsers: DovecotUser[] = [];
function takeUser(): DovecotUser {
  const user = spareUsers.pop();
  if (!user) throw new Error('ran out of prepared Dovecot users; raise the count in beforeAll');
  return user;
}

beforeAll(async () => {
  spareUsers.push(...(await Promise.all(Array.from({ length: 2 * SEEDS.length + 20 }, () => dovecot.addUser()))));
});

/** Two accounts with the same initial mail, unless the subject is given other mail. */
async function twoAccounts(seed: number, subjectMail = seedMessages(seed, INITIAL_MESSAGES)): Promise<{ subjectUser: DovecotUser; oracleUser: DovecotUser }> {
  const [subjectUser, oracleUser] = [takeUser(), takeUser()];
  await Promise.all([seedInbox(dovecot, subjectUser, subjectMail), seedInbox(dovecot, oracleUser, seedMessages(seed, INITIAL_MESSAGES))]);
  return { subjectUser, oracleUser };
}

async function run(options: Omit<DifferentialOptions, 'subject' | 'oracle'>, subject: DovecotTarget, oracle: DovecotTarget): Promise<DifferentialResult> {
  try {
    return await runDifferential({ ...options, subject, oracle });
  } finally {
    await Promise.all([subject.close(), oracle.close()]);
  }
}

describe('two Dovecot accounts fed the same way', () => {
  it.for(SEEDS)('show no difference with seed %i', async (seed) => {
    const { subjectUser, oracleUser } = await twoAccounts(seed);
    const result = await run(
      { seed, steps: STEPS, sessions: SESSIONS },
      dovecotTarget(dovecot, subjectUser, { name: 'dovecot A' }),
      dovecotTarget(dovecot, oracleUser, { name: 'dovecot B' }),
    );
    assertNoDifference(result);
    // A run cut short by Dovecot's own fault (see harness.ts) says so, and is no failure.
    if (result.oracleViolations.length > 0) {
      const rules = result.oracleViolations.map((violation) => violation.rule);
      console.info(`seed ${seed}: Dovecot itself broke invariants (${[...new Set(rules)].join(', ')}), not held against the subject`);
    }
    if (result.mismatch?.oracleFault) console.warn(formatResult(result));
    else expect(result.stepsRun).toBe(STEPS);
  });

  it('pairs UIDs that differ between the accounts', async () => {
    // The subject's UIDs start at 4: three messages came and went before the seeded mail.
    const seed = 7;
    const subjectUser = takeUser();
    const oracleUser = takeUser();
    const admin = await DovecotAdmin.open(dovecot.host, dovecot.port, subjectUser);
    for (const { message } of seedMessages(99, 3)) await admin.moveOut(await admin.append(message));
    admin.close();
    await Promise.all([seedInbox(dovecot, subjectUser, seedMessages(seed, INITIAL_MESSAGES)), seedInbox(dovecot, oracleUser, seedMessages(seed, INITIAL_MESSAGES))]);
    const result = await run({ seed, steps: STEPS, sessions: SESSIONS }, dovecotTarget(dovecot, subjectUser), dovecotTarget(dovecot, oracleUser));
    assertNoDifference(result);
  });
});

describe('differences the harness must find', () => {
  function expectDifference(result: DifferentialResult, ...patterns: RegExp[]): void {
    expect(result.mismatch, formatResult(result)).not.toBeNull();
    const report = formatResult(result);
    expect(report).toContain(`seed ${result.seed}`);
    for (const pattern of patterns) expect(report).toMatch(pattern);
  }

  it('an extra message in the subject', async () => {
    const seed = 11;
    const { subjectUser, oracleUser } = await twoAccounts(seed, [...seedMessages(seed, INITIAL_MESSAGES), ...seedMessages(12, 1)]);
    const result = await run({ seed, steps: 20, sessions: 2 }, dovecotTarget(dovecot, subjectUser), dovecotTarget(dovecot, oracleUser));
    expectDifference(result, /- \* 8 EXISTS/, /\+ \* 9 EXISTS/);
    expect(result.mismatch?.step).toBe(0);
  });

  it('the same mail in another order', async () => {
    const seed = 13;
    const { subjectUser, oracleUser } = await twoAccounts(seed, seedMessages(seed, INITIAL_MESSAGES).reverse());
    const result = await run({ seed, steps: 20, sessions: 2 }, dovecotTarget(dovecot, subjectUser), dovecotTarget(dovecot, oracleUser));
    expectDifference(result, /- \* 1 FETCH \(ENVELOPE/, /\+ \* 1 FETCH \(ENVELOPE/);
  });

  it('other flags on delivered mail', async () => {
    const seed = 17;
    const { subjectUser, oracleUser } = await twoAccounts(seed);
    const result = await run(
      { seed, steps: 40, sessions: 3, mix: { deliver: 60 } },
      dovecotTarget(dovecot, subjectUser, { deliverFlags: '\\Flagged' }),
      dovecotTarget(dovecot, oracleUser),
    );
    expectDifference(result, /\+ .*FLAGS \([^)]*\\Flagged/, /oracle +sent: .*\n +subject sent: /);
  });

  it('a campaign that never ends in the subject', async () => {
    const seed = 19;
    const { subjectUser, oracleUser } = await twoAccounts(seed);
    const subject = dovecotTarget(dovecot, subjectUser);
    const result = await run(
      { seed, steps: 40, sessions: 3, mix: { 'campaign-start': 30, 'campaign-end': 60 } },
      { ...subject, endCampaign: async () => {} },
      dovecotTarget(dovecot, oracleUser),
    );
    expectDifference(result, /- \* \d+ EXPUNGE/);
  });
});

describe('a session dropped mid-run', () => {
  /** The target, with its first session after the observer cut off once the server sent `bytes`. */
  function droppingASession(target: DovecotTarget, bytes: number): DovecotTarget {
    let connections = 0;
    return {
      ...target,
      async connect() {
        const socket = await target.connect();
        if (++connections === 2) {
          let seen = 0;
          socket.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > bytes) socket.destroy();
          });
        }
        return socket;
      },
    };
  }

  it('by the oracle ends the run inconclusive; by the subject fails it', async () => {
    const seed = 29;
    const first = await twoAccounts(seed);
    const inconclusive = await run({ seed, steps: STEPS, sessions: 2 }, dovecotTarget(dovecot, first.subjectUser), droppingASession(dovecotTarget(dovecot, first.oracleUser), 4000));
    expect(inconclusive.mismatch?.oracleFault, formatResult(inconclusive)).toBe(true);
    expect(formatResult(inconclusive)).toMatch(/the oracle failed to answer \(oracle s1: connection closed/);
    assertNoDifference(inconclusive);

    const second = await twoAccounts(seed);
    await expect(run({ seed, steps: STEPS, sessions: 2 }, droppingASession(dovecotTarget(dovecot, second.subjectUser), 4000), dovecotTarget(dovecot, second.oracleUser))).rejects.toThrow(
      /broke at step \d+: subject s1: connection closed/,
    );
  });
});

describe('a relay in front of Dovecot as the subject', () => {
  it('passes when it renames every UID consistently, and the checker catches a UIDNEXT it forgot', async () => {
    for (const scaleUidnext of [true, false]) {
      const seed = 23;
      const { subjectUser, oracleUser } = await twoAccounts(seed);
      const relay = await startUidScalingRelay(dovecot, { factor: 16, scaleUidnext });
      try {
        const direct = dovecotTarget(dovecot, subjectUser, { name: 'relay to dovecot A' });
        const result = await run(
          { seed, steps: STEPS, sessions: SESSIONS },
          { ...direct, connect: () => connectTo('127.0.0.1', relay.port) },
          dovecotTarget(dovecot, oracleUser),
        );
        if (scaleUidnext) assertNoDifference(result);
        else {
          expect(result.mismatch, formatResult(result)).toBeNull();
          expect(result.violations.map((violation) => violation.rule)).toContain('uidnext');
          expect(formatResult(result)).toMatch(/\[uidnext\] subject observer: step 0: FETCH 1 \(UID 16\): the message was there when UIDNEXT 9 was announced/);
        }
      } finally {
        await relay.close();
      }
    }
  });
});
