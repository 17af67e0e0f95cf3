/**
 * One client session's INBOX view: the state (which mailbox is selected, the numbering, the
 * virtual messages shown), the server responses rewritten into the client's numbering, and the
 * hidden commands the proxy itself sends upstream. The command families are in
 * inbox-commands.ts and inbox-fetch.ts; the relay hands this class whole commands and every
 * server line while INBOX is selected.
 *
 * While INBOX is selected commands run one at a time: the next client command is read only
 * when the previous one has completed, so the proxy's numbering and the server's move in
 * lockstep, and our own hidden commands never interleave with the client's.
 *
 * New mail is held back to the end of the command that brought it (or IDLE is paused upstream)
 * so its UIDs can be learnt first (inbox-growth.ts); where the view's messages go is decided in
 * inbox-placement.ts.
 *
 * It must never: send the client a number from the server's numbering, show a virtual message
 * below a real message the client has been told of, announce an EXPUNGE while a FETCH, STORE or
 * SEARCH is running, or let a failure of the campaign side fail a command.
 */
import type { Logger } from 'pino';
import type { InboxView, ViewKey } from '@inlay/schemas';
import { DROP, PASS, STOP, type LineVerdict, type LiteralAnnouncement } from '../framer.js';
import { clientUidNext } from './inbox-map.js';
import { UID_SCALE_END_REASON, endsSessionForUidScale } from './uid-scale.js';
import { PROXY_ERRORS } from '../errors.js';
import { untaggedOkCode } from '../response-code.js';
import { appendedToInbox, placeForGrowth, type PendingGrowth } from './inbox-growth.js';
import { flagUpdates, ownFetch, showPlaceable, withdrawals } from './inbox-placement.js';
import type { HiddenResult, InboxHost, RunningCommand, Selection } from './inbox-types.js';
import { hasHiddenResponseCode, withoutHiddenTaggedCode } from './response-codes.js';
import { beforeCompletion, parseFetchHead, rewriteFetchUids, rewriteUidCodes, uidFirst, type FetchScanState } from './response-rewrite.js';

interface HiddenCommand {
  readonly tag: string;
  readonly untagged: string[];
  /** `FETCH from:to (UID)`: its answers are ours, not the client's. */
  readonly fetchRange?: { readonly from: number; readonly to: number };
  resolve(result: HiddenResult): void;
}


const NOTHING = Buffer.alloc(0);

/** An upstream IDLE the proxy ended (DONE) while the client idles on. */
interface IdlePause {
  /** The client sent its own DONE meanwhile (not passed on): end its IDLE after placing. */
  clientDone: boolean;
}

export class InboxSession {
  selection: Selection = { kind: 'none' };
  current: RunningCommand | null = null;
  /** How often new real mail arrived; a hidden sync compares it before and after. */
  growths = 0;
  private hiddenCommand: HiddenCommand | null = null;
  private hiddenCounter = 0;
  /** Output held back while a command finishes asynchronously; null when passing straight through. */
  private held: Buffer[] | null = null;
  private fetchScan: FetchScanState | null = null;
  /** Server sequence number of the FETCH response being read. */
  private fetchSeq = 0;
  private fetchBefore: Buffer | null = null;
  private pendingGrowth: PendingGrowth | null = null;
  /** The proxy ended the upstream IDLE to place new mail; the client still idles. */
  private idlePause: IdlePause | null = null;
  /** IDLE sent upstream again after a pause: its "+" is ours, not the client's. */
  private idleResuming = false;
  /** From the client command's tagged line until its answer is out: growth is announced at once. */
  private completing = false;
  /** The IDLE whose DONE the client sent and the relay passed on (it ends at the server's answer). */
  private idleEndedByClient: RunningCommand | null = null;
  /** The last EXISTS the reveal path put into the held output (`parts` is that held array). */
  private heldExists: { parts: Buffer[]; index: number } | null = null;
  /** The line just decided went into `held` (so its literal must follow it there). */
  private lineHeld = false;
  /**
   * Where the literal of the response whose line was just decided goes: a response (line and
   * literals) moves as one unit, so a held line's literal is held after it and a dropped line's
   * literal is dropped. Without this a literal overtook its held line (issue 11, item 9).
   */
  literalFate: 'pass' | 'hold' | 'drop' = 'pass';

  constructor(readonly host: InboxHost) {}

  get inbox(): Extract<Selection, { kind: 'inbox' }> | null {
    return this.selection.kind === 'inbox' ? this.selection : null;
  }

  get log(): Logger {
    return this.host.log;
  }

  // --- output ---

  private hold(): void {
    this.held ??= [];
  }

  /** Ends holding and returns what was held, followed by `last`. */
  private release(last?: Buffer): Buffer {
    const parts = this.held ?? [];
    this.held = null;
    if (last) parts.push(last);
    return Buffer.concat(parts);
  }

  private out(bytes: Buffer | null, line: Buffer): LineVerdict {
    const chosen = bytes ?? line;
    if (this.held !== null) {
      this.held.push(Buffer.from(chosen));
      this.lineHeld = true;
      return DROP;
    }
    return bytes ?? PASS;
  }

  /** A command family's verdict on a line, kept in order with what is held (new mail waiting). */
  private inOrder(verdict: LineVerdict, line: Buffer): LineVerdict {
    if (verdict === PASS) return this.out(null, line);
    if (Buffer.isBuffer(verdict)) return this.out(verdict, line);
    return verdict;
  }

  /**
   * Literal bytes of a response whose line was held: held after it. True when nothing is held
   * any more (the held output went out meanwhile, this line with it): the rest follows directly.
   */
  holdLiteral(chunk: Buffer): boolean {
    if (this.held === null) return true;
    this.held.push(Buffer.from(chunk));
    return false;
  }

  // --- hidden commands ---

  /** Sends a command of our own upstream and collects its untagged responses. */
  hidden(command: string | Buffer, fetchRange?: HiddenCommand['fetchRange']): Promise<HiddenResult> {
    const tag = `~inlay${++this.hiddenCounter}`;
    return new Promise((resolve) => {
      this.hiddenCommand = { tag, untagged: [], resolve, ...(fetchRange ? { fetchRange } : {}) };
      const bytes = typeof command === 'string' ? Buffer.from(`${command}\r\n`, 'latin1') : command;
      this.host.writeUpstream(Buffer.concat([Buffer.from(`${tag} `), bytes]));
    });
  }

  /**
   * Makes the server report mail it has counted in an answer but not announced (Cyrus' SEARCH):
   * a hidden non-UID SEARCH, during which a server reports new mail but sends no EXPUNGE. The
   * EXISTS it brings goes into the held output like any mail reported between commands.
   */
  async reportUnannouncedMail(): Promise<void> {
    await this.hidden('SEARCH UID 1');
  }

  // --- server responses ---

  onServerLine(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict {
    this.lineHeld = false;
    const verdict = this.decideServerLine(line, first, literal);
    this.literalFate = literal === null || verdict !== DROP ? 'pass' : this.lineHeld ? 'hold' : 'drop';
    return verdict;
  }

  private decideServerLine(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict {
    if (!first) return this.continueFetch(line, literal);
    const c0 = line[0];
    if (c0 === 0x2a /* * */) return this.untagged(line, literal);
    if (c0 === 0x2b /* + */ && this.idleResuming) {
      this.idleResuming = false;
      return DROP;
    }
    if (c0 === 0x2b /* + */) return this.inOrder(this.current?.untagged?.(line, literal) ?? PASS, line);
    const space = line.indexOf(0x20);
    const tag = line.toString('latin1', 0, space);
    const hidden = this.hiddenCommand;
    if (hidden && tag === hidden.tag) {
      this.hiddenCommand = null;
      const text = line.toString('latin1', space + 1).trimEnd();
      hidden.resolve({ ok: /^OK\b/i.test(text), untagged: hidden.untagged, text });
      return DROP;
    }
    const running = this.current;
    if (running && tag === running.tag) line = withoutHiddenTaggedCode(line);
    if (running && tag === running.tag && this.idlePause !== null) {
      // The answer to our own DONE: place the new mail, then idle on (or end, if the client did).
      const pause = this.idlePause;
      const completion = Buffer.from(line);
      void this.announceGrowth().then(() => this.afterIdlePause(running, pause, completion));
      return DROP;
    }
    if (running && tag === running.tag) {
      this.fetchScan = null;
      if (this.pendingGrowth === null) {
        const result = running.complete(line);
        const refresh = Buffer.isBuffer(result) ? this.refreshAfter(running) : null;
        if (Buffer.isBuffer(result) && !(refresh instanceof Promise)) {
          this.current = null;
          const verdict = this.out(refresh === null ? result : beforeCompletion(result, refresh), line);
          this.settle();
          return verdict;
        }
        return this.finishLater(running, line, Promise.resolve(result), refresh);
      }
      // New mail came with the command: announce it first, so the completion sees it placed.
      return this.finishLater(running, line, this.announceGrowth().then(() => running.complete(line)), null);
    }
    // A pass-through command's completion while new mail waits: the relay finishes it (finishAfterGrowth).
    if (this.pendingGrowth !== null) return PASS;
    return this.out(null, line);
  }

  /** A UidBeyondScaleError, logged (uid-scale.ts): the caller ends the session. */
  beyondScale(err: unknown): boolean {
    return endsSessionForUidScale(this.log, err);
  }

  get growthPending(): boolean {
    return this.pendingGrowth !== null;
  }

  /** The client ended IDLE: true when the proxy had already ended it upstream (the DONE is ours to drop). */
  clientEndsIdle(): boolean {
    const pause = this.idlePause;
    if (pause === null) {
      // The client's DONE goes upstream: mail reported from now on is held to the IDLE's
      // completion, as for any command. Pausing (a DONE of our own) would reach the server as a
      // command once its IDLE is over (Cyrus: "* BAD Invalid tag"), and the IDLE be resumed.
      this.idleEndedByClient = this.current;
      return false;
    }
    pause.clientDone = true;
    return true;
  }

  /** Whether the upstream IDLE is being paused or resumed by the proxy (no view refresh meanwhile). */
  get idleInterrupted(): boolean {
    return this.idlePause !== null || this.idleResuming;
  }

  private afterIdlePause(running: RunningCommand, pause: IdlePause, completion: Buffer): void {
    if (this.current !== running) return;
    if (!pause.clientDone) {
      this.idlePause = null;
      this.host.writeClient(this.release());
      this.idleResuming = true;
      this.host.writeUpstream(Buffer.from(`${running.tag} IDLE\r\n`, 'latin1'));
      // The client's DONE may have come while the IDLE went out: it is forwarded then.
      return;
    }
    this.idlePause = null;
    this.finishLater(running, completion, Promise.resolve(running.complete(completion)), null);
  }

  /** A pass-through command completed with new mail pending: announce it, then its answer. */
  async finishAfterGrowth(answer: Buffer, serverCompletion: Buffer): Promise<void> {
    const inbox = this.inbox;
    const appended = inbox === null ? undefined : appendedToInbox(serverCompletion.toString('latin1'), inbox.key.serverUidValidity);
    if (this.pendingGrowth !== null && appended !== undefined) this.pendingGrowth.appended = appended;
    this.completing = true;
    await this.announceGrowth();
    this.completing = false;
    this.host.writeClient(this.release(answer));
  }

  /** The command's answer needs I/O: hold everything back until it is ready. */
  private finishLater(running: RunningCommand, line: Buffer, result: Promise<Buffer>, refresh: Promise<Buffer> | Buffer | null): LineVerdict {
    this.hold();
    this.completing = true;
    const finished = result.then(async (bytes) => {
      const extra = await (refresh ?? this.refreshAfter(running));
      return extra === null ? bytes : beforeCompletion(bytes, extra);
    });
    void finished.then(
      (bytes) => this.finishAsync(running.heldAfterAnswer === true ? this.answerThenHeld(bytes) : bytes),
      (err: Error) => {
        if (this.beyondScale(err)) return this.host.endSession(UID_SCALE_END_REASON, PROXY_ERRORS.inboxUidsBeyondScale);
        this.log.error({ err: err.message, stack: err.stack }, 'INBOX view: completing a command failed; passing the server answer on');
        this.finishAsync(line);
      },
    );
    return DROP;
  }

  /**
   * The answer whole, then what was held while it completed: new mail reported by the hidden
   * commands of a SELECT comes after its completion (an EXISTS may come at any time), so the
   * UIDNEXT the answer gave still covers every message the answer counted.
   */
  private answerThenHeld(answer: Buffer): Buffer {
    if (this.held === null || this.held.length === 0) return answer;
    // The SELECT's own EXISTS counts every virtual message placed, less the late mail (see
    // rewriteSelectLine); the late mail's EXISTS was counted when it came, maybe before a hidden
    // SEARCH placed a virtual message below it. It is announced with the count the view has now,
    // else the client is told one message fewer than the view numbers, and a later FETCH of the
    // late mail names a message past the count the client was told (the stress run behind Cyrus).
    const late = this.heldExists;
    const inbox = this.inbox;
    if (late !== null && late.parts === this.held && inbox !== null) this.held[late.index] = Buffer.from(`* ${inbox.map.clientExists} EXISTS\r\n`);
    this.heldExists = null;
    const held = this.release();
    this.hold();
    return Buffer.concat([answer, held]);
  }

  private finishAsync(bytes: Buffer): void {
    this.current = null;
    this.completing = false;
    this.host.writeClient(this.release(bytes));
    this.settle();
  }

  /** Set by the relay while a command runs: called once it has completed. */
  settled: (() => void) | null = null;

  private settle(): void {
    const settled = this.settled;
    this.settled = null;
    // Not from inside the server framer's callback: the relay reads client input again.
    if (settled) setImmediate(settled);
  }

  private untagged(line: Buffer, literal: LiteralAnnouncement | null): LineVerdict {
    const hidden = this.hiddenCommand;
    const text = literal === null ? line.toString('latin1') : '';
    if (hidden && /^\* (SEARCH|ESEARCH|STATUS)\b/i.test(text)) {
      hidden.untagged.push(text.trimEnd());
      return DROP;
    }
    if (hidden?.fetchRange && ownFetch(hidden.fetchRange, text)) {
      hidden.untagged.push(text.trimEnd());
      // A message the client knows, with a flag change the server folded in: the client gets that.
      const knownToClient = Number(/^\* (\d+)/.exec(text)![1]) <= (this.inbox?.map.serverExists ?? 0);
      if (!(knownToClient && /\bFLAGS\b/i.test(text))) return DROP;
    }
    const special = this.current?.untagged?.(line, literal);
    if (special !== undefined) return this.inOrder(special, line);
    const inbox = this.inbox;
    if (!inbox) return this.out(null, line);
    const number = /^\* (\d+) (EXISTS|EXPUNGE|FETCH|RECENT)\b/i.exec(line.toString('latin1', 0, 32));
    if (number?.[2]?.toUpperCase() !== 'FETCH') {
      const before = this.current?.beforeOther?.(text) ?? null;
      if (before !== null) {
        const verdict = this.untaggedInInbox(inbox, line, literal, number, text);
        if (verdict === STOP) {
          this.host.writeClient(before);
          return STOP;
        }
        const sent = this.out(Buffer.concat([before, verdict === PASS ? line : verdict === DROP ? NOTHING : (verdict as Buffer)]), line);
        this.markGrowthSlot();
        return sent;
      }
    }
    const verdict = this.untaggedInInbox(inbox, line, literal, number, text);
    this.markGrowthSlot();
    return verdict;
  }

  /** The EXISTS of deferred new mail goes here, after what came before the line that brought it. */
  private markGrowthSlot(): void {
    const growth = this.pendingGrowth;
    if (growth === null || growth.slot !== null || this.held === null) return;
    growth.slot = this.held.length;
    growth.firstCount = growth.count;
    this.held.push(NOTHING);
  }

  private untaggedInInbox(inbox: Extract<Selection, { kind: 'inbox' }>, line: Buffer, literal: LiteralAnnouncement | null, number: RegExpExecArray | null, text: string): LineVerdict {
    if (number) {
      const value = Number(number[1]);
      switch (number[2]!.toUpperCase()) {
        case 'EXISTS':
          return this.serverExists(inbox, value, line);
        case 'EXPUNGE':
          return this.serverExpunge(inbox, value, line);
        case 'FETCH':
          return this.startFetch(inbox, line, literal);
        default:
          return this.out(null, line);
      }
    }
    if (hasHiddenResponseCode(text)) return this.held === null ? DROP : this.out(Buffer.alloc(0), line);
    const code = literal === null ? untaggedOkCode(line) : null;
    if (code === 'UIDNEXT' || code === 'UIDVALIDITY' || code === 'COPYUID') return this.out(this.rewriteCodes(inbox, text), line);
    const flags = inbox.flags.serverLine(text);
    if (flags === '') return this.held === null ? DROP : this.out(Buffer.alloc(0), line);
    if (flags !== null && flags !== text) return this.out(Buffer.from(flags, 'latin1'), line);
    return this.out(null, line);
  }

  rewriteCodes(inbox: Extract<Selection, { kind: 'inbox' }>, text: string): Buffer {
    const rewritten = rewriteUidCodes(text, { sourceIsInbox: true, targetIsInbox: false, stateEpochOf: () => inbox.stateEpoch }).replace(
      /\[UIDNEXT (\d+)\]/i,
      (_, next: string) => `[UIDNEXT ${clientUidNext(Number(next), inbox.map.highestUidHandedOut)}]`,
    );
    return Buffer.from(rewritten, 'latin1');
  }

  private serverExpunge(inbox: Extract<Selection, { kind: 'inbox' }>, serverSeq: number, line: Buffer): LineVerdict {
    const growth = this.pendingGrowth;
    if (growth !== null) {
      growth.count--;
      if (serverSeq > inbox.map.serverExists) {
        // New mail not announced yet: the client never learns of it, unless a FETCH showed it.
        if (serverSeq > inbox.map.serverExists + growth.pinned) return DROP;
        growth.pinned--;
        return this.out(Buffer.from(`* ${inbox.map.clientSeqOfServer(serverSeq)} EXPUNGE\r\n`), line);
      }
    }
    return this.out(Buffer.from(`* ${inbox.map.serverExpunged(serverSeq)} EXPUNGE\r\n`), line);
  }

  private startFetch(inbox: Extract<Selection, { kind: 'inbox' }>, line: Buffer, literal: LiteralAnnouncement | null): LineVerdict {
    const head = parseFetchHead(line);
    if (!head) return this.out(null, line);
    const growth = this.pendingGrowth;
    // A FETCH of new mail not yet announced fixes its number: virtual messages go after it.
    if (growth !== null && head.serverSeq > inbox.map.serverExists) growth.pinned = Math.max(growth.pinned, head.serverSeq - inbox.map.serverExists);
    const clientSeq = inbox.map.clientSeqOfServer(head.serverSeq);
    const before = this.current?.beforeFetch?.(clientSeq) ?? null;
    this.fetchScan = { depth: 0, afterUidKeyword: false };
    this.fetchSeq = head.serverSeq;
    const body = rewriteFetchUids(line, head.listStart, this.fetchScan, (uid) => this.sawServerUid(inbox, uid, head.serverSeq));
    if (literal === null) this.fetchScan = null;
    // Nothing left once a hidden data item (MODSEQ) is taken out: no response at all.
    if (literal === null && /^\(\)\r?\n$/.test(body.toString('latin1', head.listStart))) {
      if (before !== null) return this.out(before, line);
      return this.held === null ? DROP : this.out(NOTHING, line);
    }
    const ordered = literal === null ? uidFirst(body, head.listStart) : body;
    const renumbered = Buffer.concat([Buffer.from(`* ${clientSeq} FETCH `), ordered.subarray(head.listStart)]);
    return this.out(before ? Buffer.concat([before, renumbered]) : renumbered, line);
  }

  private continueFetch(line: Buffer, literal: LiteralAnnouncement | null): LineVerdict {
    const scan = this.fetchScan;
    if (!scan) return this.out(null, line);
    const inbox = this.inbox;
    const seq = this.fetchSeq;
    const rewritten = rewriteFetchUids(line, 0, scan, (uid) => inbox && this.sawServerUid(inbox, uid, seq));
    if (literal === null) this.fetchScan = null;
    return this.out(rewritten === line ? null : rewritten, line);
  }

  /**
   * A message with this server UID is in the session's view, so is every message with a lower
   * one (the server hands UIDs out in arrival order and EXISTS covers a prefix): virtual
   * messages anchored below it can be placed.
   */
  private sawServerUid(inbox: Extract<Selection, { kind: 'inbox' }>, serverUid: number, serverSeq: number): void {
    if (serverUid >= inbox.syncedUidNext) inbox.syncedUidNext = serverUid + 1;
    // The last message's UID bounds every real one in the view.
    if (serverSeq === inbox.map.serverExists) inbox.viewUidBound = serverUid + 1;
  }

  // --- new mail ---

  private serverExists(inbox: Extract<Selection, { kind: 'inbox' }>, count: number, line: Buffer): LineVerdict {
    const { map } = inbox;
    const growth = this.pendingGrowth;
    if (growth !== null) {
      if (count > growth.count) {
        this.growths++;
        if (this.held !== null && growth.slot !== null) {
          // A further report after data the command already sent: announced here, not earlier.
          (growth.later ??= []).push({ slot: this.held.length, count });
          this.held.push(NOTHING);
        }
      }
      growth.count = Math.max(growth.count, count);
      return DROP;
    }
    if (count <= map.serverExists || !this.host.engine) {
      map.serverExists = count;
      return this.out(Buffer.from(`* ${map.clientExists} EXISTS\r\n`), line);
    }
    this.growths++;
    const running = this.current;
    const idling = running?.idles === true && this.idleEndedByClient !== running;
    const commandRunning = running !== null ? !idling : this.host.passThroughRunning();
    if (commandRunning && this.hiddenCommand === null && !this.completing) {
      this.pendingGrowth = { count, slot: null, pinned: 0 };
      this.hold();
      return DROP;
    }
    // In IDLE: end it upstream, place the mail at its answer, idle on (the client sees one EXISTS).
    if (idling && this.hiddenCommand === null && !this.completing && !this.idleInterrupted && running?.pauseIdle?.()) {
      this.idlePause = { clientDone: false };
      this.pendingGrowth = { count, slot: null, pinned: 0 };
      this.hold();
      return DROP;
    }
    // New real mail: raise the epoch first, so no assignment based on an older anchor can land
    // below it (middleware/README.md), and show what was assigned before it, in UID order.
    const boundBefore = inbox.viewUidBound;
    inbox.viewUidBound = Infinity;
    void this.host.engine.reveal(inbox.key).then((view) => {
      // Placed before the new mail, so judged by what the view held before it arrived.
      inbox.viewUidBound = boundBefore;
      // One EXISTS covers both, as a server reports all mail that arrived since its last report.
      // Not while a SELECT still places the view (its hidden SEARCH brought the mail): it places
      // every message itself, in UID order, and one placed here would be placed twice.
      if (view && running?.heldAfterAnswer !== true) showPlaceable(inbox, view);
      inbox.viewUidBound = Infinity;
      map.serverExists = count;
      const bytes = Buffer.from(`* ${map.clientExists} EXISTS\r\n`);
      if (this.held !== null) {
        this.heldExists = { parts: this.held, index: this.held.length };
        this.held.push(bytes);
      } else this.host.writeClient(bytes);
      this.host.resumeServer();
    });
    return STOP;
  }

  /**
   * Announces deferred new mail (see PendingGrowth): learns the new messages' UIDs, reveals up to
   * them (or finds this node already did), places the virtual messages that belong before, among
   * or right after them, and puts the one EXISTS where the server's was. Without the UIDs (the
   * FETCH failed, or mail kept coming) it falls back to placing only what goes before the new mail.
   */
  private async announceGrowth(): Promise<void> {
    const growth = this.pendingGrowth;
    const inbox = this.inbox;
    if (growth === null) return;
    let before: Buffer = NOTHING;
    let ending = false;
    try {
      if (inbox !== null) before = await placeForGrowth(this, inbox, growth, () => this.onlyRecentAfter(growth));
    } catch (err) {
      ending = this.beyondScale(err);
      if (ending) this.host.endSession(UID_SCALE_END_REASON, PROXY_ERRORS.inboxUidsBeyondScale);
      else this.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'INBOX view: placing virtual messages among new mail failed; announcing the mail alone');
    } finally {
      this.pendingGrowth = null;
      if (inbox !== null && this.selection === inbox && !ending) {
        inbox.map.serverExists = growth.count;
        const all = Buffer.from(`* ${inbox.map.clientExists} EXISTS\r\n`);
        const later = growth.later ?? [];
        if (this.held !== null && growth.slot !== null && later.length > 0 && growth.firstCount !== undefined) {
          // One EXISTS per server report, each counting what the server had counted then.
          const upTo = (serverCount: number): Buffer => Buffer.from(`* ${inbox.map.clientSeqOfServer(Math.min(serverCount, inbox.map.serverExists))} EXISTS\r\n`);
          this.held[growth.slot] = Buffer.concat([before, upTo(growth.firstCount)]);
          later.forEach((report, index) => {
            this.held![report.slot] = index === later.length - 1 ? all : upTo(report.count);
          });
        } else {
          const exists = Buffer.concat([before, all]);
          if (this.held !== null && growth.slot !== null) this.held[growth.slot] = exists;
          else if (this.held !== null) this.held.push(exists);
          else this.host.writeClient(exists);
        }
      }
    }
  }

  /** Whether the server sent nothing after the held-back EXISTS but RECENT. */
  private onlyRecentAfter(growth: PendingGrowth): boolean {
    if (this.held === null || growth.slot === null) return false;
    return this.held.slice(growth.slot + 1).every((bytes) => /^(\* \d+ RECENT\r\n)*$/i.test(bytes.toString('latin1')));
  }

  /**
   * After any command, as a server reports what changed meanwhile at the end of each command:
   * messages assigned by other sessions (EXISTS), flags changed elsewhere (FETCH), and — where
   * EXPUNGE is legal — withdrawals. From this node's cached view when it is fresh (no I/O), else
   * asked for. Null when there is nothing to do; NOOP, CHECK and IDLE do their own.
   */
  private refreshAfter(running: RunningCommand): Buffer | Promise<Buffer> | null {
    const inbox = this.inbox;
    const engine = this.host.engine;
    if (!inbox || !engine || running.refreshesItself || running.leavesMailbox) return null;
    const apply = (view: InboxView | undefined): Buffer =>
      view === undefined || this.selection !== inbox ? Buffer.alloc(0) : this.applyViewChanges(inbox, view, running.updatesCarryUid === true, !running.forbidsExpunge);
    const cached = engine.cachedView(inbox.key);
    if (cached !== undefined) return cached === this.fullyApplied ? null : apply(cached);
    return engine.view(inbox.key).then(apply);
  }

  /** The last view whose every change this session has shown (withdrawals included). */
  private fullyApplied: InboxView | undefined;

  /** Keywords set elsewhere, withdrawn or expunged elsewhere, flags changed elsewhere, new messages; EXPUNGE only when legal. */
  applyViewChanges(inbox: Extract<Selection, { kind: 'inbox' }>, view: InboxView, withUid: boolean, allowExpunge = true): Buffer {
    if (this.viewStateLost(inbox, view)) return Buffer.alloc(0);
    const { map } = inbox;
    const parts: Buffer[] = [];
    // In the order Dovecot reports changes: keywords new to the mailbox, flags, expunges, new messages.
    parts.push(inbox.flags.announce(view.keywords ?? []));
    parts.push(flagUpdates(inbox, view, withUid));
    if (allowExpunge) {
      parts.push(withdrawals(inbox, view));
      this.fullyApplied = view;
    }
    parts.push(showPlaceable(inbox, view));
    return Buffer.concat(parts);
  }

  /**
   * Whether `view` belongs to another view state than the one the session selected with (its
   * stateEpoch moved: the state was lost and began again): its UIDs then name other messages
   * under the UIDVALIDITY this client holds, so the session ends (BYE [UNAVAILABLE]) and the
   * next SELECT shows the new UIDVALIDITY. A session that selected without knowing the epoch
   * ignores such views instead (README, "UIDVALIDITY and the view state").
   */
  viewStateLost(inbox: Extract<Selection, { kind: 'inbox' }>, view: InboxView): boolean {
    if (!view.known || (view.stateEpoch ?? 0) === inbox.stateEpoch) return false;
    // Selected on a cold node with the middleware away (epoch 0, nothing known): the session
    // shows real mail only under that UIDVALIDITY, and stays so until the client selects again.
    if (inbox.stateEpochGuessed) return true;
    this.log.warn({ code: PROXY_ERRORS.viewStateLost.code, was: inbox.stateEpoch, now: view.stateEpoch ?? 0 }, 'the INBOX view state began again; ending the session so the client resyncs');
    this.selection = { kind: 'none' };
    this.host.endSession('INBOX view state reset', PROXY_ERRORS.viewStateLost);
    return true;
  }

  /** The view state epoch in the client UIDVALIDITY of the INBOX under this server UIDVALIDITY:
   *  the selected INBOX's, else the last this node saw, else 0 (proxy/README.md). */
  stateEpochOf(serverUidValidity: number): number {
    const inbox = this.inbox;
    if (inbox !== null && inbox.key.serverUidValidity === serverUidValidity) return inbox.stateEpoch;
    return this.host.engine?.memory.stateEpoch(this.viewKeyFor(serverUidValidity)) ?? 0;
  }

  viewKeyFor(serverUidValidity: number): ViewKey {
    return { login: this.host.login, mailbox: 'INBOX', serverUidValidity };
  }

}
