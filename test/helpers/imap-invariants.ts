/**
 * Watches one IMAP session as its client sees it — the bytes the client sent and the bytes it
 * received, in that order — and reports every place where the server broke a promise clients
 * rely on (RFC 3501 §2.3.1.1, §7.4.1, RFC 9051; the "INBOX view" invariants in
 * ARCHITECTURE.md). The rules are listed, one line each, in imap-invariants-rules.ts. It
 * tracks, per selected mailbox, the seq→UID map the client can infer (FETCH ... UID, EXPUNGE
 * renumbering, EXISTS), the UIDNEXT values announced, the UIDs expunged, and what each UID's
 * message looked like (shared across sessions through a MessageHistory).
 *
 * It is an observer: it never writes to the connection, and it must never flag what RFC 3501
 * allows (e.g. NIL/empty data for a message expunged by another session, sent with
 * [EXPUNGEISSUED], is not taken as the message changing).
 */
import { factOf, MessageHistory, type Fact } from './imap-invariants-facts.ts';
import { freshSlot, type Knowledge, type Running, type Selected, type Slot } from './imap-invariants-state.ts';
import {
  atomOrString, formatViolations, saslPlainUser, tagged, uidsIn, type InvariantRule, type InvariantViolation,
} from './imap-invariants-rules.ts';
import {
  atomsOf, expandSet, ImapFramer, mailboxName, parseCommand, parseResponse,
  type ImapResponse, type ParsedCommand,
} from './imap-invariants-wire.ts';

export interface CheckerOptions {
  /** Names the session in reports. */
  readonly name?: string;
  /** Shared by the sessions of one test so a UID's message is compared across sessions. */
  readonly history?: MessageHistory;
  readonly contextLines?: number;
}

const sequenceCommands = new Set(['FETCH', 'STORE', 'SEARCH']);

export class ImapInvariantChecker {
  readonly violations: InvariantViolation[] = [];
  readonly name: string;
  private readonly history: MessageHistory;
  private readonly contextLines: number;
  private readonly context: string[] = [];
  private readonly clientFramer = new ImapFramer('client');
  private readonly serverFramer = new ImapFramer('server');
  private readonly running: Running[] = [];
  private readonly knowledge = new Map<string, Knowledge>();
  private readonly validity = new Map<string, string>();
  private readonly listeners: ((response: ImapResponse, frame: Buffer) => void)[] = [];
  private selected: Selected | null = null;
  private user = '?';
  private pendingLogin: { tag: string; user: string } | null = null;

  constructor(options: CheckerOptions = {}) {
    this.name = options.name ?? 'session';
    this.history = options.history ?? new MessageHistory();
    this.contextLines = options.contextLines ?? 12;
  }

  /** The selected mailbox and the UID of each sequence number, as far as the client can know. */
  get view(): { mailbox: string; uids: (number | null)[] } | null {
    return this.selected && { mailbox: this.selected.mailbox, uids: this.selected.slots.map((slot) => slot.uid) };
  }

  /** Called with every parsed server response after the checker has taken it into account. */
  onResponse(listener: (response: ImapResponse, frame: Buffer) => void): void {
    this.listeners.push(listener);
  }

  clientBytes(chunk: Buffer | string): void {
    for (const frame of this.clientFramer.push(Buffer.from(chunk))) this.clientFrame(frame);
  }

  serverBytes(chunk: Buffer | string): void {
    for (const frame of this.serverFramer.push(Buffer.from(chunk))) {
      this.remember(`S: ${frame.toString('latin1')}`);
      let response: ImapResponse;
      try {
        response = parseResponse(frame);
      } catch (error) {
        this.report('protocol', `unreadable response: ${(error as Error).message}`);
        continue;
      }
      this.serverResponse(response);
      for (const listener of this.listeners) listener(response, frame);
    }
  }

  assertClean(): void {
    if (this.violations.length > 0) throw new Error(formatViolations(this.violations));
  }

  private remember(line: string): void {
    // One frame, one line: CRLFs inside literals are shown as "⏎".
    const shown = line.replace(/\r\n$/, '').replace(/\r?\n/g, '⏎');
    this.context.push(shown.length > 300 ? `${shown.slice(0, 300)}… (${shown.length} chars)` : shown);
    if (this.context.length > this.contextLines) this.context.shift();
  }

  private report(rule: InvariantRule, message: string): void {
    this.violations.push({ rule, session: this.name, message, context: [...this.context] });
  }

  private clientFrame(frame: Buffer): void {
    const continuing = this.running.find((run) => run.command.name === 'IDLE' || run.command.name === 'AUTHENTICATE');
    const command = continuing ? null : parseCommand(frame);
    const shown = command?.name === 'LOGIN' ? `${command.tag} LOGIN <credentials>` : continuing?.command.name === 'AUTHENTICATE' ? '<sasl>' : frame.toString('latin1');
    this.remember(`C: ${shown}`);
    if (!command) return;
    if (command.name === 'LOGIN') this.pendingLogin = { tag: command.tag, user: atomOrString(command.args[0]) };
    if (command.name === 'AUTHENTICATE') this.pendingLogin = { tag: command.tag, user: saslPlainUser(command.args[1]) };
    this.running.push({
      command, facts: [], answeredWithUid: new Set(), flagsWithoutUid: [], answered: new Set(), slotsAtStart: [...(this.selected?.slots ?? [])],
      select: command.name === 'SELECT' || command.name === 'EXAMINE'
        ? { mailbox: mailboxName(command.args[0]), exists: 0, uidValidity: null, uidNext: null } : null,
      destination: this.destinationOf(command),
    });
  }

  private destinationOf(command: ParsedCommand): Running['destination'] {
    const target = command.name === 'APPEND' ? command.args[0] : command.name === 'COPY' || command.name === 'MOVE' ? command.args[1] : undefined;
    if (target === undefined) return null;
    const mailbox = mailboxName(target);
    const validity = this.validity.get(mailbox) ?? '?';
    return { mailbox, validity, uidnext: this.knowledgeFor(mailbox, validity).maxUidnext };
  }

  private knowledgeFor(mailbox: string, validity: string): Knowledge {
    const scope = `${this.user}\u0000${mailbox}\u0000${validity}`;
    let known = this.knowledge.get(scope);
    if (!known) {
      known = { scope, expunged: new Set(), maxUidnext: 0, maxUidSeen: 0 };
      this.knowledge.set(scope, known);
    }
    return known;
  }

  private announceUidnext(known: Knowledge, uidnext: number, where: string): void {
    if (uidnext < known.maxUidnext) this.report('uidnext', `${where}: UIDNEXT ${uidnext} is below the UIDNEXT ${known.maxUidnext} announced before`);
    if (uidnext <= known.maxUidSeen) this.report('uidnext', `${where}: UIDNEXT ${uidnext} is not above UID ${known.maxUidSeen}, already seen`);
    known.maxUidnext = Math.max(known.maxUidnext, uidnext);
  }

  private seeUid(known: Knowledge, uid: number, where: string): void {
    if (known.expunged.has(uid)) this.report('uid-reused', `${where}: UID ${uid} was expunged before and is seen again`);
    known.maxUidSeen = Math.max(known.maxUidSeen, uid);
  }

  private serverResponse(response: ImapResponse): void {
    const selecting = this.running.find((run) => run.select !== null)?.select ?? null;
    switch (response.kind) {
      case 'continuation':
      case 'recent':
      case 'other':
      case 'flags':
        return;
      case 'tagged':
        return this.completed(response);
      case 'status':
        return this.untaggedStatus(response, selecting);
      case 'exists':
        if (selecting) selecting.exists = response.number;
        else this.exists(response.number);
        return;
      case 'expunge':
        return this.expunge(response.number);
      case 'fetch':
        return this.fetch(response);
      case 'search':
        return this.search(response.numbers);
      case 'mailbox-status': {
        const uidValidity = response.attributes.get('UIDVALIDITY');
        if (uidValidity !== undefined) this.validity.set(response.mailbox, String(uidValidity));
        const uidnext = response.attributes.get('UIDNEXT');
        const known = this.knowledgeFor(response.mailbox, this.validity.get(response.mailbox) ?? '?');
        if (uidnext !== undefined) this.announceUidnext(known, uidnext, `STATUS ${response.mailbox}`);
        return;
      }
    }
  }

  private untaggedStatus(response: Extract<ImapResponse, { kind: 'status' }>, selecting: Running['select']): void {
    const code = response.code;
    if (!code) return;
    const number = Number(code.args);
    if (selecting && code.name === 'UIDVALIDITY') selecting.uidValidity = number;
    else if (selecting && code.name === 'UIDNEXT') selecting.uidNext = number;
    else if (this.selected && code.name === 'UIDNEXT') this.announceUidnext(this.selected.knowledge, number, 'untagged OK');
    else if (this.selected && code.name === 'UIDVALIDITY' && this.selected.knowledge.scope !== this.knowledgeFor(this.selected.mailbox, code.args).scope) {
      // The mailbox was recreated: nothing known about the old UIDs holds any more.
      this.validity.set(this.selected.mailbox, code.args);
      this.selected = { ...this.selected, knowledge: this.knowledgeFor(this.selected.mailbox, code.args), slots: this.selected.slots.map(() => freshSlot(1, Infinity)), floor: 1 };
    } else if (code.name === 'COPYUID') this.newUids(code.args.split(' '), 'COPYUID');
  }

  private exists(count: number): void {
    const selected = this.selected;
    if (!selected) return;
    if (count < selected.slots.length) {
      this.report('exists-shrank', `EXISTS ${count} but the client knows of ${selected.slots.length} messages (only EXPUNGE removes messages)`);
      selected.slots = selected.slots.slice(0, count);
    }
    while (selected.slots.length < count) selected.slots.push(freshSlot(selected.floor, Infinity));
  }

  private expunge(seq: number): void {
    const blocking = this.running.find((run) => !run.command.uid && sequenceCommands.has(run.command.name));
    if (this.running.length === 0) this.report('expunge-forbidden', `EXPUNGE ${seq} while no command is in progress`);
    else if (blocking) this.report('expunge-forbidden', `EXPUNGE ${seq} during ${blocking.command.name} (tag ${blocking.command.tag})`);
    const selected = this.selected;
    if (!selected) return;
    const slot = selected.slots[seq - 1];
    if (!slot) return this.report('seq-out-of-range', `EXPUNGE ${seq} but the mailbox has ${selected.slots.length} messages`);
    selected.slots.splice(seq - 1, 1);
    if (slot.uid !== null) selected.knowledge.expunged.add(slot.uid);
  }

  private fetch(response: Extract<ImapResponse, { kind: 'fetch' }>): void {
    const selected = this.selected;
    if (!selected) return;
    const slot = selected.slots[response.seq - 1];
    if (!slot) return this.report('seq-out-of-range', `FETCH for message ${response.seq} but the mailbox has ${selected.slots.length} messages`);
    for (const run of this.running) run.answered.add(slot);
    const uidIndex = response.items.findIndex((item) => item.name === 'UID');
    const uidItem = response.items[uidIndex];
    if (uidItem) {
      // Only for UID commands: there the server adds UID itself, and clients look for it first.
      // In a plain FETCH Dovecot lists items in the order they were asked for.
      const uidCommand = this.running.some((run) => run.command.uid && (run.command.name === 'FETCH' || run.command.name === 'STORE'));
      if (uidIndex !== 0 && uidCommand) this.report('uid-not-first', `FETCH ${response.seq} lists UID as item ${uidIndex + 1}, not first, during a UID command`);
      if (uidItem.value.kind === 'number') this.learnUid(selected, response.seq, uidItem.value.value);
      for (const run of this.running) run.answeredWithUid.add(slot);
    } else {
      this.checkUidPresent(selected, response.seq, slot, response.items.map((item) => item.name));
    }
    const run = this.running.at(-1);
    for (const item of response.items) {
      const fact = factOf(item);
      if (!fact) continue;
      // Judged when the command completes: with [EXPUNGEISSUED] the data may be placeholders.
      if (run) run.facts.push({ slot, fact });
      else this.applyFact(selected, slot, fact);
    }
  }

  private checkUidPresent(selected: Selected, seq: number, slot: Slot, names: string[]): void {
    if (this.running.length === 0) return;
    const uidCommands = this.running.filter((run) => run.command.uid && (run.command.name === 'FETCH' || run.command.name === 'STORE'));
    if (uidCommands.length !== this.running.length) return;
    if (names.some((name) => name !== 'FLAGS')) {
      return this.report('fetch-without-uid', `FETCH ${seq} (${names.join(' ')}) without UID during UID ${uidCommands[0]!.command.name}`);
    }
    // A FLAGS-only response may be an unsolicited flag update, which RFC 3501 lets go without
    // UID (Dovecot sends them so); it is a violation only when it answers the command for a
    // message in its set — not possible for STORE .SILENT, which answers nothing.
    // Judged at completion: Dovecot sends such updates for messages of the set before it
    // answers them (with UID), and for a STORE that then fails in a read-only mailbox.
    for (const run of uidCommands) run.flagsWithoutUid.push(slot);
  }

  /** A successful UID FETCH/STORE must have answered each message of its set with a UID. */
  private checkAnsweredWithUid(selected: Selected, run: Running): void {
    const { command } = run;
    // STORE .SILENT answers nothing; nor does STORE in a read-only mailbox (Dovecot: "OK Store ignored").
    if (command.name === 'STORE' && (selected.readOnly || /\.SILENT$/i.test(atomsOf(command.args.slice(1, 2))[0] ?? ''))) return;
    const star = selected.slots.at(-1)?.uid ?? null;
    const set = expandSet(atomsOf(command.args.slice(0, 1))[0] ?? '', star);
    for (const slot of new Set(run.flagsWithoutUid)) {
      if (slot.uid === null || run.answeredWithUid.has(slot) || set?.has(slot.uid) !== true) continue;
      this.report('fetch-without-uid', `FETCH (FLAGS) for UID ${slot.uid}, in the set of UID ${command.name} ${tagged(command)}, came without UID and was not answered with one`);
    }
  }

  /** Every message of a FETCH's set must be answered, unless the server said some were expunged. */
  private checkComplete(selected: Selected, run: Running): void {
    const setText = atomsOf(run.command.args.slice(0, 1))[0] ?? '';
    const before = run.slotsAtStart;
    // "*" is the last message when the server runs the command: mail it reported within the
    // response (Cyrus: EXISTS before the FETCH data) may be that one, not the last known before.
    const last = selected.slots.length > before.length ? selected.slots : before;
    const star = run.command.uid ? (last.at(-1)?.uid ?? null) : last.length;
    const set = expandSet(setText, star);
    if (!set) return;
    const missing = before.flatMap((slot, index) => {
      const key = run.command.uid ? slot.uid : index + 1;
      // Under UID FETCH, messages expunged during the command may go unanswered.
      const gone = run.command.uid && !selected.slots.includes(slot);
      return key !== null && set.has(key) && !gone && !run.answered.has(slot) ? [key] : [];
    });
    if (missing.length > 0) this.report('fetch-incomplete', `${run.command.uid ? 'UID ' : ''}FETCH ${setText} ${tagged(run.command)} completed OK without answering ${run.command.uid ? 'UIDs' : 'messages'} ${missing.join(' ')}`);
  }

  private learnUid(selected: Selected, seq: number, uid: number): void {
    const slot = selected.slots[seq - 1]!;
    const where = `FETCH ${seq} (UID ${uid})`;
    if (slot.uid !== null && slot.uid !== uid) this.report('uid-changed', `${where}: message ${seq} had UID ${slot.uid}, with no EXPUNGE in between`);
    this.seeUid(selected.knowledge, uid, where);
    if (uid < slot.minUid) this.report('new-uid-below-uidnext', `${where}: the message appeared after UIDNEXT ${slot.minUid} was announced, so its UID must be at least that`);
    if (uid > slot.maxUid) this.report('uidnext', `${where}: the message was there when UIDNEXT ${slot.maxUid + 1} was announced, so its UID must be below that`);
    const lower = selected.slots.slice(0, seq - 1).findLast((other) => other.uid !== null);
    const higher = selected.slots.slice(seq).find((other) => other.uid !== null);
    if (lower && lower.uid! >= uid) this.report('uid-order', `${where}: message ${selected.slots.indexOf(lower) + 1} has UID ${lower.uid}, not below ${uid}`);
    if (higher && higher.uid! <= uid) this.report('uid-order', `${where}: message ${selected.slots.indexOf(higher) + 1} has UID ${higher.uid}, not above ${uid}`);
    slot.uid = uid;
    const pending = slot.pending;
    slot.pending = [];
    for (const fact of pending) this.applyFact(selected, slot, fact);
  }

  private applyFact(selected: Selected, slot: Slot, fact: Fact): void {
    if (slot.uid === null) {
      slot.pending.push(fact);
      return;
    }
    const problem = this.history.record(selected.knowledge.scope, slot.uid, fact);
    if (problem) this.report('message-changed', `UID ${slot.uid} in ${selected.mailbox}: ${problem}`);
  }

  private search(numbers: readonly number[]): void {
    const searches = this.running.filter((run) => run.command.name === 'SEARCH');
    const selected = this.selected;
    if (!selected || searches.length === 0) return;
    if (searches.every((run) => !run.command.uid)) {
      const outside = numbers.filter((n) => n < 1 || n > selected.slots.length);
      if (outside.length > 0) this.report('seq-out-of-range', `SEARCH returned ${outside.join(' ')} but the mailbox has ${selected.slots.length} messages`);
    } else if (searches.every((run) => run.command.uid)) {
      for (const uid of numbers) this.seeUid(selected.knowledge, uid, 'UID SEARCH');
      // Judged against the messages the client knows now: EXPUNGEs later in the same command
      // may remove hits legitimately; a hit the client was never told of is a violation.
      if (selected.slots.every((slot) => slot.uid !== null)) {
        const present = new Set(selected.slots.map((slot) => slot.uid));
        const unknown = numbers.filter((uid) => !present.has(uid));
        if (unknown.length > 0) this.report('search-unknown-uid', `UID SEARCH returned ${unknown.join(' ')}, which no message in the mailbox has`);
      }
    }
  }

  private newUids(args: string[], where: string, destination = this.running.find((run) => run.destination !== null)?.destination): void {
    const set = args.at(-1);
    if (!destination || set === undefined || (args[0] !== destination.validity && destination.validity !== '?')) return;
    const known = this.knowledgeFor(destination.mailbox, args[0] ?? '?');
    for (const uid of uidsIn(set)) {
      this.seeUid(known, uid, where);
      if (uid < destination.uidnext) this.report('new-uid-below-uidnext', `${where} gives new UID ${uid} in ${destination.mailbox}, below UIDNEXT ${destination.uidnext} announced before`);
    }
  }

  private completed(response: Extract<ImapResponse, { kind: 'tagged' }>): void {
    const index = this.running.findIndex((run) => run.command.tag === response.tag);
    if (index < 0) return this.report('protocol', `tagged response for ${response.tag}, which is not in progress`);
    const [run] = this.running.splice(index, 1) as [Running];
    if (response.code?.name === 'APPENDUID' || response.code?.name === 'COPYUID') this.newUids(response.code.args.split(' '), response.code.name, run.destination);
    if (this.pendingLogin?.tag === response.tag && response.status === 'OK') this.user = this.pendingLogin.user;
    const selected = this.selected;
    // A BAD SELECT was never run; a NO one leaves no mailbox selected (RFC 3501 §6.3.1).
    if (run.select) {
      const readOnly = run.command.name === 'EXAMINE' || response.code?.name === 'READ-ONLY';
      return response.status === 'BAD' ? undefined : this.selectCompleted(run.select, response.status === 'OK', readOnly);
    }
    if (response.status === 'OK' && (run.command.name === 'CLOSE' || run.command.name === 'UNSELECT')) this.selected = null;
    if (!selected) return;
    if (response.status === 'OK' && response.code?.name !== 'EXPUNGEISSUED') {
      for (const { slot, fact } of run.facts) this.applyFact(selected, slot, fact);
    }
    if (response.status === 'OK' && run.command.uid) this.checkAnsweredWithUid(selected, run);
    if (response.status === 'OK' && response.code?.name !== 'EXPUNGEISSUED' && run.command.name === 'FETCH') this.checkComplete(selected, run);
  }

  private selectCompleted(select: NonNullable<Running['select']>, ok: boolean, readOnly: boolean): void {
    this.selected = null;
    if (!ok) return;
    const validity = select.uidValidity === null ? '?' : String(select.uidValidity);
    this.validity.set(select.mailbox, validity);
    const knowledge = this.knowledgeFor(select.mailbox, validity);
    if (select.uidNext !== null) this.announceUidnext(knowledge, select.uidNext, `SELECT ${select.mailbox}`);
    const maxUid = select.uidNext === null ? Infinity : select.uidNext - 1;
    this.selected = {
      mailbox: select.mailbox, knowledge, floor: select.uidNext ?? 1, readOnly,
      slots: Array.from({ length: select.exists }, () => freshSlot(1, maxUid)),
    };
  }
}

export { MessageHistory };
export { formatViolations, type InvariantRule, type InvariantViolation };
