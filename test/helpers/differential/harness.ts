/**
 * The differential harness: runs one seeded random sequence of IMAP commands and world events
 * against a subject and an oracle target and reports the first step at which their answers
 * differ "up to a renaming of UIDs", plus any invariant violation on either side.
 *
 * Each target gets N sessions (INBOX selected) and an observer session (INBOX examined, so it
 * takes no \Recent). A step is either one command on one session — sent to the same session
 * on both targets, the two run in parallel, their responses compared in order — or a world
 * event applied to both targets, after which both observers list the INBOX (NOOP, then UID
 * FETCH 1:*) to pair every new UID and compare the whole mailbox. Commands never overlap
 * within a target: concurrency means several sessions see each other's changes, not racing
 * bytes, so any difference is the subject's and not timing's. Responses are compared in
 * order, unsolicited FETCH FLAGS updates included, except that FETCH responses of different
 * messages and EXPUNGEs between two other responses may come in any order that says the same
 * (normalise.ts, canonicalChangeRuns). An EXPUNGE in a session not synced since another session
 * changed \Deleted gets a NOOP first, on both sides (deleted-elsewhere.ts); so does a FETCH,
 * STORE or SEARCH in a session not synced since a campaign started and ended (came-and-went.ts),
 * and a UID SEARCH naming a set in a session that still has messages gone elsewhere.
 *
 *   const result = await runDifferential({ seed, steps: 60, sessions: 3, subject, oracle });
 *   assertNoDifference(result);   // throws a report naming seed, step, command, both answers
 */
import { appendFileSync } from 'node:fs';
import { MessageHistory, type InvariantViolation } from '../imap-invariants.ts';
import type { ImapResponse } from '../imap-invariants-wire.ts';
import { generateCommand, renderCommand, type CommandKind, type HarnessCommand, type RenderedCommand, type UidSpelling } from './commands.ts';
import { generateMessage } from './messages.ts';
import { normaliseResponses, UidRenaming, uidSpeller, type NormaliseOptions, type Side } from './normalise.ts';
import { Random } from './random.ts';
import type { DifferentialResult, Mismatch } from './report.ts';
import { HarnessSession, type CommandOutcome } from './session.ts';
import type { CampaignSpec, DifferentialTarget } from './target.ts';
import { OracleMailbox, uidSearchNamingSetWhileGone, withoutExpungedElsewhere } from './expunged-elsewhere.ts';
import { flagsReportedIn, searchTestsFlags, withoutHitsOnFlagsChangedElsewhere } from './flags-changed-elsewhere.ts';
import { UnsyncedDeletions } from './deleted-elsewhere.ts';
import { CampaignsCameAndWent } from './came-and-went.ts';
import { ReportedAtStart } from './reported-at-start.ts';

/** INLAY_DIFFERENTIAL_TRACE=file: every exchange's raw answers on both sides, for reading a failure's history. */
const TRACE_FILE = process.env['INLAY_DIFFERENTIAL_TRACE'];

export type WorldEventKind = 'deliver' | 'campaign-start' | 'campaign-end';
export type ActionKind = CommandKind | WorldEventKind | 'reconnect';

/** Relative weights of each kind of step. */
export const DEFAULT_MIX: Readonly<Record<ActionKind, number>> = {
  'fetch': 20, 'uid-fetch': 14, 'search': 8, 'uid-search': 8, 'store': 9, 'uid-store': 6, 'expunge': 3, 'uid-expunge': 3,
  'noop': 5, 'check': 1, 'idle': 4, 'status': 2, 'append': 2, 'select': 2, 'reconnect': 1,
  'deliver': 5, 'campaign-start': 3, 'campaign-end': 3,
};

export interface DifferentialOptions {
  readonly seed: number;
  readonly steps: number;
  /** Sessions per target, besides the observer. */
  readonly sessions: number;
  readonly subject: DifferentialTarget;
  readonly oracle: DifferentialTarget;
  /** See NormaliseOptions.dropRecent; off by default. */
  readonly dropRecent?: boolean;
  /** The oracle is on Cyrus: see NormaliseOptions.foldBodyStructureCase and existsInChangeRuns. */
  readonly oracleIsCyrus?: boolean;
  readonly mix?: Partial<Record<ActionKind, number>>;
  /** Called with each step's description as it starts, e.g. for a live log. */
  readonly onStep?: (line: string) => void;
}

interface SessionPair {
  readonly name: string;
  oracle: HarnessSession;
  subject: HarnessSession;
}

/** Ends the run at the first difference. */
class Divergence extends Error {
  constructor(readonly mismatch: Mismatch) {
    super(mismatch.reason);
  }
}

export async function runDifferential(options: DifferentialOptions): Promise<DifferentialResult> {
  return new DifferentialRun(options).run();
}

class DifferentialRun {
  private readonly random: Random;
  private readonly messageRandom: Random;
  private readonly nameRandom: Random;
  private readonly renaming = new UidRenaming();
  private readonly histories: Record<Side, MessageHistory> = { oracle: new MessageHistory(), subject: new MessageHistory() };
  private readonly normalise: NormaliseOptions;
  private readonly mix: Record<ActionKind, number>;
  private readonly pairs: SessionPair[] = [];
  private readonly actions: string[] = [];
  private readonly campaigns: CampaignSpec[] = [];
  private readonly oracleMailbox = new OracleMailbox();
  private readonly unsyncedDeletions = new UnsyncedDeletions();
  private readonly cameAndWent = new CampaignsCameAndWent();
  private readonly reportedAtStart: ReportedAtStart;
  private observer: SessionPair | null = null;
  /** Violations judged so far, per session. */
  private readonly judged = new Map<HarnessSession, number>();
  private readonly subjectViolations: InvariantViolation[] = [];
  private readonly oracleViolations: InvariantViolation[] = [];
  private step = 0;
  private counter = 0;

  constructor(private readonly options: DifferentialOptions) {
    this.random = new Random(options.seed);
    this.messageRandom = this.random.fork('messages');
    this.nameRandom = this.random.fork('mailbox-names');
    this.normalise = { dropRecent: options.dropRecent ?? false, foldBodyStructureCase: options.oracleIsCyrus ?? false, existsInChangeRuns: options.oracleIsCyrus ?? false };
    this.mix = { ...DEFAULT_MIX, ...options.mix };
    this.reportedAtStart = new ReportedAtStart(options.oracleIsCyrus ?? false);
  }

  async run(): Promise<DifferentialResult> {
    const began = Date.now();
    let mismatch: Mismatch | null = null;
    try {
      this.observer = await this.openPair('observer', true);
      await this.checkpoint('start');
      for (let i = 1; i <= this.options.sessions; i += 1) this.pairs.push(await this.openPair(`s${i}`, false));
      for (this.step = 1; this.step <= this.options.steps; this.step += 1) {
        await this.runStep();
        if (this.subjectViolations.length > 0) break;
      }
      if (this.subjectViolations.length === 0) await this.checkpoint('end');
    } catch (error) {
      if (!(error instanceof Divergence)) throw new Error(`differential run with seed ${this.options.seed} broke at step ${this.step}: ${(error as Error).message}`, { cause: error });
      mismatch = error.mismatch;
    } finally {
      await Promise.allSettled([...this.pairs, ...(this.observer ? [this.observer] : [])].flatMap((pair) => [pair.oracle.logout(), pair.subject.logout()]));
    }
    return {
      seed: this.options.seed, stepsPlanned: this.options.steps, stepsRun: Math.min(this.step, this.options.steps), sessions: this.options.sessions,
      mismatch, violations: this.subjectViolations, oracleViolations: this.oracleViolations, actions: this.actions, elapsedMs: Date.now() - began,
    };
  }

  private fresh(session: HarnessSession): InvariantViolation[] {
    const from = this.judged.get(session) ?? 0;
    this.judged.set(session, session.checker.violations.length);
    return session.checker.violations.slice(from).map((violation) => ({ ...violation, message: `step ${this.step}: ${violation.message}` }));
  }

  /**
   * The oracle defines right: what it breaks itself (Dovecot has bugs too) is listed but not
   * held against the subject, nor is the same rule broken in the same session and step.
   */
  private judgeViolations(pair: SessionPair): InvariantViolation[] {
    const oracle = this.fresh(pair.oracle);
    const subject = this.fresh(pair.subject);
    this.oracleViolations.push(...oracle);
    const oracleFaults = [...oracle];
    for (const violation of subject) {
      const mirror = oracle.findIndex((candidate) => candidate.rule === violation.rule);
      if (mirror >= 0) oracle.splice(mirror, 1);
      else this.subjectViolations.push(violation);
    }
    return oracleFaults;
  }

  private log(actor: string, what: string): void {
    const line = `step ${this.step} ${actor}: ${what}`;
    this.actions.push(line);
    if (TRACE_FILE) appendFileSync(TRACE_FILE, `=== seed ${this.options.seed} ${line}\n`);
    this.options.onStep?.(line);
  }

  private async openPair(name: string, readOnly: boolean): Promise<SessionPair> {
    const [oracle, subject] = await Promise.all([
      HarnessSession.open(this.options.oracle, `oracle ${name}`, this.histories.oracle),
      HarnessSession.open(this.options.subject, `subject ${name}`, this.histories.subject),
    ]);
    const pair = { name, oracle, subject };
    await this.exchange(pair, { kind: 'select', readOnly, mailbox: 'INBOX' });
    return pair;
  }

  private async runStep(): Promise<void> {
    const kind = this.random.weighted(Object.entries(this.mix).map(([action, weight]) => [action === 'campaign-end' && this.campaigns.length === 0 ? 0 : weight, action as ActionKind] as const));
    switch (kind) {
      case 'deliver':
      case 'campaign-start':
      case 'campaign-end':
        return this.worldEvent(kind);
      case 'reconnect': {
        const pair = this.random.pick(this.pairs);
        this.log(pair.name, 'reconnect');
        await Promise.all([pair.oracle.logout(), pair.subject.logout()]);
        const fresh = await this.openPair(pair.name, false);
        pair.oracle = fresh.oracle;
        pair.subject = fresh.subject;
        return;
      }
      default: {
        const pair = this.random.pick(this.pairs);
        const view = pair.oracle.checker.view;
        const command = generateCommand(kind, {
          random: this.random, messageRandom: this.messageRandom, nameRandom: this.nameRandom, label: `appended-${(this.counter += 1)}`,
          count: view?.uids.length ?? 0,
          sessionUids: (view?.uids ?? []).filter((uid): uid is number => uid !== null && this.renaming.subjectOf(uid) !== undefined),
          mappedUids: this.renaming.oracleUids(),
          withoutRecent: this.normalise.dropRecent,
          lenientPastEnd: this.options.oracleIsCyrus ?? false,
        });
        if (this.unsyncedDeletions.needsSyncBefore(pair.name, command)) {
          // Its own tag, not from the counter, which labels generated mail (deleted-elsewhere.ts).
          await this.exchange(pair, { kind: 'noop' }, 'sync first: another session changed \\Deleted', `${pair.name}.${this.step}.sync`);
        } else if (this.cameAndWent.needsSyncBefore(pair.name, command)) {
          await this.exchange(pair, { kind: 'noop' }, 'sync first: a campaign came and went (came-and-went.ts)', `${pair.name}.${this.step}.sync`);
        } else if (this.reportedAtStart.needsSyncBefore(pair.name, command)) {
          await this.exchange(pair, { kind: 'noop' }, 'sync first: Cyrus reports changes at the start of a command (reported-at-start.ts)', `${pair.name}.${this.step}.sync`);
        } else if (uidSearchNamingSetWhileGone(command, this.oracleMailbox.goneIn(pair.oracle))) {
          await this.exchange(pair, { kind: 'noop' }, 'sync first: UID SEARCH naming a set with expunges pending (expunged-elsewhere.ts)', `${pair.name}.${this.step}.sync`);
        }
        return this.exchange(pair, command);
      }
    }
  }

  private async worldEvent(kind: WorldEventKind): Promise<void> {
    const { subject, oracle } = this.options;
    this.counter += 1;
    switch (kind) {
      case 'deliver': {
        const message = generateMessage(this.messageRandom, `mail-${this.counter}`);
        this.log('world', `new mail ${message.summary}`);
        await Promise.all([subject.deliverMail(message), oracle.deliverMail(message)]);
        break;
      }
      case 'campaign-start': {
        const campaign: CampaignSpec = { id: `campaign-${this.counter}`, message: generateMessage(this.messageRandom, `campaign-${this.counter}`, { campaign: true }) };
        this.log('world', `${campaign.id} starts: ${campaign.message.summary}`);
        const rendering = await subject.startCampaign(campaign);
        await oracle.startCampaign(rendering ? { ...campaign, message: { ...campaign.message, ...rendering } } : campaign);
        this.campaigns.push(campaign);
        this.cameAndWent.started(campaign.id, this.pairs.map((pair) => pair.name));
        break;
      }
      case 'campaign-end': {
        const [campaign] = this.campaigns.splice(this.random.int(0, this.campaigns.length - 1), 1) as [CampaignSpec];
        this.log('world', `${campaign.id} ends`);
        await Promise.all([subject.endCampaign(campaign), oracle.endCampaign(campaign)]);
        this.cameAndWent.ended(campaign.id, this.pairs.map((pair) => pair.name));
        break;
      }
    }
    this.reportedAtStart.world(this.pairs.map((pair) => pair.name));
    await this.checkpoint(kind);
  }

  /** Both observers sync and list the INBOX; every message gets paired and compared. */
  private async checkpoint(why: string): Promise<void> {
    const observer = this.observer!;
    await this.exchange(observer, { kind: 'noop' });
    await this.exchange(observer, { kind: 'fetch', uid: true, set: { kind: 'seq', text: '1:*' }, items: '(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)' }, why);
    const oracleCount = observer.oracle.checker.view?.uids.length;
    const subjectCount = observer.subject.checker.view?.uids.length;
    if (oracleCount !== subjectCount) {
      throw new Divergence({ step: this.step, actor: 'observer', action: `INBOX listing after ${why}`, reason: `the oracle's INBOX has ${oracleCount} messages, the subject's ${subjectCount}`, oracleFault: false, oracle: null, subject: null });
    }
    this.oracleMailbox.listed((observer.oracle.checker.view?.uids ?? []).filter((uid): uid is number => uid !== null));
  }

  private spelling(side: Side): UidSpelling {
    return side === 'oracle'
      ? { uid: (uid) => uid, beyondBase: this.renaming.highest('oracle') }
      : { uid: (uid) => this.renaming.subjectOf(uid) ?? 0, beyondBase: this.renaming.highest('subject') };
  }

  /** Runs one command on both sides of a pair and compares the answers. */
  private async exchange(pair: SessionPair, command: HarnessCommand, note = '', tag = `${pair.name}.${this.step}.${(this.counter += 1)}`): Promise<void> {
    const rendered: Record<Side, RenderedCommand> = { oracle: renderCommand(command, this.spelling('oracle')), subject: renderCommand(command, this.spelling('subject')) };
    this.log(pair.name, `${rendered.oracle.line}${rendered.oracle.literal ? `{${rendered.oracle.literal.length}}` : ''}${note ? ` (${note})` : ''}`);
    const send = (session: HarnessSession, side: Side): Promise<CommandOutcome> => (command.kind === 'idle' ? session.idle(tag) : session.command(tag, rendered[side]));
    const goneAt = this.oracleMailbox.goneIn(pair.oracle);
    // UIDs by sequence number as the command starts: the invariant checker's, each gap filled from
    // the mailbox history (which knows UIDs the session never fetched, seed 46008).
    const followed = this.oracleMailbox.uidsIn(pair.oracle);
    const oracleUidsBefore = (pair.oracle.checker.view?.uids ?? followed ?? []).map((uid, index) => uid ?? followed?.[index] ?? null);
    const [oracleOutcome, subjectOutcome] = await Promise.allSettled([send(pair.oracle, 'oracle'), send(pair.subject, 'subject')]);
    if (oracleOutcome.status === 'rejected') {
      // Seen once (seed 312289108): Dovecot itself dropped the oracle's session. Nothing can be
      // said of the subject's answer then: inconclusive, not a failure.
      const reason = `the oracle failed to answer (${(oracleOutcome.reason as Error).message}): inconclusive, not counted against the subject`;
      throw new Divergence({ step: this.step, actor: pair.name, action: rendered.oracle.line, reason, oracleFault: true, oracle: null, subject: null });
    }
    if (subjectOutcome.status === 'rejected') throw subjectOutcome.reason;
    const [oracle, subject] = [oracleOutcome.value, subjectOutcome.value];
    if (TRACE_FILE) appendFileSync(TRACE_FILE, `--- oracle\n${oracle.raw}--- subject\n${subject.raw}`);
    this.oracleMailbox.follow(pair.oracle, oracle.responses, command.kind === 'select', pair.oracle.checker.view?.uids);
    const oracleFaults = this.judgeViolations(pair);
    const conflict = this.learnPairs(pair, oracle.responses, subject.responses);
    const uidSearch = command.kind === 'search' && command.uid;
    // A flag search's hits on messages whose flags another session changed, reported in this very
    // answer, are not compared (flags-changed-elsewhere.ts).
    const changedElsewhere = command.kind === 'search' && searchTestsFlags(rendered.oracle.line) ? flagsReportedIn(oracle.responses) : new Set<number>();
    const changedUids = new Set([...changedElsewhere].flatMap((seq) => oracleUidsBefore[seq - 1] ?? []));
    // Cyrus does not honour .SILENT: its STORE reports the flags it set anyway (index_tellchanges
    // at the end finds them changed), where the proxy, as RFC 3501 asks, does not echo the
    // change to virtual messages. Behind Cyrus a .SILENT STORE's flag updates are not compared
    // (the next FETCH of FLAGS still is).
    const silentEchoesLeftOut = (responses: readonly ImapResponse[]): readonly ImapResponse[] =>
      this.options.oracleIsCyrus && command.kind === 'store' && /\.SILENT/i.test(command.action)
        ? responses.filter((response) => !(response.kind === 'fetch' && response.items.every((item) => item.name === 'FLAGS' || item.name === 'UID')))
        : responses;
    // What either side says of messages gone elsewhere but still in this session is not compared (expunged-elsewhere.ts).
    const compared = (side: Side, responses: readonly ImapResponse[]): string[] => {
      const oracleUid = (uid: number): number => (side === 'oracle' ? uid : this.renaming.oracleOf(uid) ?? 0);
      const isGone = (uid: number): boolean => this.oracleMailbox.isGone(oracleUid(uid));
      const kept = withoutHitsOnFlagsChangedElsewhere(silentEchoesLeftOut(responses), changedElsewhere, (uid) => changedUids.has(oracleUid(uid)), uidSearch);
      return normaliseResponses(withoutExpungedElsewhere(kept, goneAt, isGone, uidSearch), uidSpeller(this.renaming, side), uidSearch, side === 'oracle' ? { ...this.normalise, dropHiddenCodes: true } : this.normalise);
    };
    const sides = {
      oracle: { sent: oracle.sent, raw: oracle.raw, normalised: compared('oracle', oracle.responses) },
      subject: { sent: subject.sent, raw: subject.raw, normalised: compared('subject', subject.responses) },
    };
    if (conflict || sides.oracle.normalised.join('\n') !== sides.subject.normalised.join('\n')) {
      // An oracle that broke an invariant in this very answer cannot say what is right: the
      // run ends inconclusive rather than blame the subject (seen once: Dovecot 2.3.19 left a
      // message out of a FETCH 4:17 with a plain OK, under load).
      const oracleFault = oracleFaults.length > 0;
      const reason = oracleFault ? `the answers differ, but the oracle broke an invariant in its own answer (${oracleFaults.map((fault) => fault.rule).join(', ')}): inconclusive, not counted against the subject` : conflict ?? 'the answers differ';
      throw new Divergence({ step: this.step, actor: pair.name, action: rendered.oracle.line, reason, oracleFault, ...sides });
    }
    const completion = oracle.responses.at(-1);
    const ok = completion?.kind === 'tagged' && completion.status === 'OK';
    this.unsyncedDeletions.completed(pair.name, command, ok, this.pairs.map((other) => other.name));
    this.cameAndWent.completed(pair.name, command, ok);
    this.reportedAtStart.completed(pair.name, command, this.pairs.map((other) => other.name));
    if (ok && (command.kind === 'expunge' || command.kind === 'uid-expunge')) this.cameAndWent.expungedBy(pair.name, this.pairs.map((other) => other.name));
  }

  /**
   * Pairs UIDs that name the same message: the same FETCH response position on both sides,
   * the same sequence number in both sessions' maps, and APPENDUID.
   */
  private learnPairs(pair: SessionPair, oracleResponses: readonly ImapResponse[], subjectResponses: readonly ImapResponse[]): string | null {
    const found: [number, number][] = [];
    // Positions are compared among responses that say something of the mailbox: a "+" or a
    // RECENT on one side only must not shift the pairing (both are dropped from the comparison).
    const [oracle, subject] = [oracleResponses, subjectResponses].map((responses) => responses.filter((response) => response.kind !== 'continuation' && response.kind !== 'recent')) as [ImapResponse[], ImapResponse[]];
    oracle.forEach((response, index) => {
      const other = subject[index];
      if (response.kind === 'fetch' && other?.kind === 'fetch' && response.seq === other.seq) {
        const uid = (items: typeof response.items): number | undefined => { const value = items.find((item) => item.name === 'UID')?.value; return value?.kind === 'number' ? value.value : undefined; };
        const [oracleUid, subjectUid] = [uid(response.items), uid(other.items)];
        if (oracleUid !== undefined && subjectUid !== undefined) found.push([oracleUid, subjectUid]);
      }
      if (response.kind === 'tagged' && other?.kind === 'tagged' && response.code?.name === 'APPENDUID' && other.code?.name === 'APPENDUID') {
        found.push([Number(response.code.args.split(' ')[1]), Number(other.code.args.split(' ')[1])]);
      }
    });
    const oracleView = pair.oracle.checker.view?.uids ?? [];
    const subjectView = pair.subject.checker.view?.uids ?? [];
    if (oracleView.length === subjectView.length) {
      oracleView.forEach((uid, index) => {
        const other = subjectView[index];
        if (uid !== null && other !== null && other !== undefined) found.push([uid, other]);
      });
    }
    for (const [oracleUid, subjectUid] of found) {
      const conflict = this.renaming.pair(oracleUid, subjectUid);
      if (conflict) return `UIDs cannot be renamed consistently: ${conflict}`;
    }
    return null;
  }
}
