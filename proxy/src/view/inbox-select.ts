/**
 * SELECT/EXAMINE INBOX, NOOP/CHECK/IDLE completions and STATUS INBOX: the moments the session
 * (re)builds its numbering, applies what changed in the view, and injects new virtual messages.
 *
 * Injection protocol (proxy/README.md, "Assigning a UID"): every session raises the view's
 * epoch (`reveal`) before it tells its client about real mail — at SELECT, at STATUS, and when
 * EXISTS grows — or finds that this node already did for that UIDNEXT (EngineClient.revealUpTo). A new virtual message is anchored at the server's UIDNEXT − 1 as the session
 * learned it *after* reading the epoch it assigns with: at SELECT, when the view read before the
 * SELECT went upstream has epoch E and our own reveal returned E + 1 (nobody revealed between);
 * otherwise from a hidden STATUS followed by a hidden NOOP that shows no new mail. The
 * middleware applies the assignment only if the epoch has not moved.
 *
 * Must never fail the client's command because the engine did not answer: the view is simply
 * left as it was.
 */
import type { InboxView } from '@inlay/schemas';
import { MailboxFlags } from './mailbox-flags.js';
import { InboxMap, anchorOf, clientUidNext, clientUidValidity } from './inbox-map.js';
import { MAX_SCALABLE_SERVER_UID, scalable } from './uid-scale.js';
import { PROXY_ERRORS } from '../errors.js';
import { hiddenBelowOf, showPlaceable } from './inbox-placement.js';
import { UID_SCALE } from '@inlay/schemas';
import { rememberPlacement, rememberedRealUpTo } from './placement-memo.js';
import type { InboxSession } from './inbox-session.js';
import type { RunningCommand, Selection } from './inbox-types.js';
import { DROP, PASS } from '../framer.js';
import { hasHiddenResponseCode } from './response-codes.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

/** Server UIDVALIDITY per login, so a SELECT can ask for the view before it reaches the server. */
const knownUidValidity = new Map<string, number>();
const KNOWN_UID_VALIDITY_MAX = 100_000;

function rememberUidValidity(login: string, validity: number): void {
  if (knownUidValidity.size >= KNOWN_UID_VALIDITY_MAX) knownUidValidity.clear();
  knownUidValidity.set(login.toLowerCase(), validity);
}

function rememberedUidValidity(login: string): number | undefined {
  return knownUidValidity.get(login.toLowerCase());
}

const SELECT_LINE = /^\* (\d+) (EXISTS|RECENT)\b|^\* OK \[(UIDVALIDITY|UIDNEXT|UNSEEN) (\d+)\]/i;

export async function selectInbox(session: InboxSession, tag: string, command: Buffer, readOnly: boolean): Promise<RunningCommand> {
  const { engine, login } = session.host;
  const remembered = rememberedUidValidity(login);
  // Read before the SELECT goes upstream: its epoch then predates the anchor SELECT reports.
  const early = engine && remembered !== undefined ? await engine.view(session.viewKeyFor(remembered)) : undefined;
  // The INBOX this session leaves, as of its last sync: a SELECT of it unchanged needs no SEARCH.
  const previous = session.inbox;
  if (previous !== null && !session.growthPending) rememberPlacement(login, previous);
  session.selection = { kind: 'none' };
  const lines: string[] = [];
  const figures = { exists: 0, uidValidity: 0, uidNext: 0, unseen: 0 };
  let answered = false;
  session.host.writeUpstream(command);
  return {
    tag,
    forbidsExpunge: false,
    refreshesItself: true,
    heldAfterAnswer: true,
    untagged(line, literal) {
      // Once the server has answered, what comes is the answer to our hidden commands (new mail
      // among it): the session handles that as it does after any command.
      if (literal !== null || answered) return undefined;
      const text = line.toString('latin1');
      const match = SELECT_LINE.exec(text);
      if (match?.[2]?.toUpperCase() === 'EXISTS') figures.exists = Number(match[1]);
      if (match?.[3]) figures[codeName(match[3])] = Number(match[4]);
      lines.push(text);
      return DROP;
    },
    async complete(line) {
      answered = true;
      if (!/^\S+ OK\b/i.test(line.toString('latin1'))) return Buffer.concat([...lines.map((text) => Buffer.from(text, 'latin1')), line]);
      if (!scalable(figures.uidNext)) {
        // UIDs past 2^28 − 1 cannot be translated: this INBOX is shown as the server has it,
        // under the server's UIDVALIDITY (so a client that knew it translated resyncs), without campaigns.
        session.log.warn({ code: PROXY_ERRORS.inboxUidsBeyondScale.code, serverUidNext: figures.uidNext, maxUid: MAX_SCALABLE_SERVER_UID }, 'INBOX UIDs are past what the proxy translates; shown untranslated, without campaigns');
        session.selection = { kind: 'other' };
        return Buffer.concat([...lines.map((text) => Buffer.from(text, 'latin1')), line]);
      }
      rememberUidValidity(login, figures.uidValidity);
      const key = session.viewKeyFor(figures.uidValidity);
      const map = new InboxMap(figures.exists);
      const flags = new MailboxFlags();
      for (const text of lines) flags.serverLine(text, true);
      const inbox: Inbox = { kind: 'inbox', readOnly, map, key, flags, syncedUidNext: figures.uidNext, viewUidBound: figures.uidNext, stateEpoch: 0, stateEpochGuessed: false, ...(engine ? { memory: engine.memory } : {}) };
      session.selection = inbox;
      const viewMatches = early !== undefined && remembered === figures.uidValidity;
      // The client is about to learn EXISTS and UIDNEXT: raise the epoch first (see the header),
      // unless this node already did for this UIDNEXT.
      const shown = engine ? await engine.revealUpTo(key, figures.uidNext) : undefined;
      const view = shown?.view ?? (viewMatches ? early : undefined);
      // The view state's epoch goes into UIDVALIDITY; without an answer, the one this node last
      // saw keeps UIDVALIDITY as it was (a cold node shows the one of epoch 0: README).
      const knownEpoch = view !== undefined ? (view.stateEpoch ?? 0) : engine?.memory.stateEpoch(key);
      inbox.stateEpoch = knownEpoch ?? 0;
      inbox.stateEpochGuessed = engine !== null && knownEpoch === undefined;
      map.noteAssignedBelow(view?.uidNext);
      // UIDNEXT never goes backwards, answer or not: this node remembers what it was told.
      if (engine) map.noteAssignedBelow(engine.memory.uidNext(key) || undefined);
      // No view to show: the client may now see real mail without the virtual messages below it.
      if (engine && !view) engine.memory.noteShownWithoutView(key, (figures.uidNext - 1) * UID_SCALE);
      if (view) {
        await placeAtSelect(session, inbox, view, figures);
        if (shown?.view && shown.view.pending > 0 && !readOnly) {
          // No reveal but ours (if we made one) since the view was read before the SELECT: the
          // anchor SELECT reported is then at or above all mail anyone has shown. Else sync first.
          const onlyOurs = viewMatches && shown.view.epoch === early.epoch + (shown.revealed ? 1 : 0);
          await inject(session, inbox, shown.view, onlyOurs ? figures.uidNext - 1 : null);
        }
      }
      if (session.selection === inbox && !session.growthPending) rememberPlacement(login, inbox);
      // Keywords only virtual messages carry, or ever carried (the view keeps them), are in the
      // mailbox's FLAGS from the start, as on a server.
      flags.announce([...(view?.keywords ?? []), ...map.virtuals.flatMap((shown) => shown.flags)]);
      return Buffer.concat([...lines.map((text) => rewriteSelectLine(session, inbox, text, figures.unseen)), line]);
    },
  };
}

function codeName(code: string): 'uidValidity' | 'uidNext' | 'unseen' {
  const upper = code.toUpperCase();
  return upper === 'UIDVALIDITY' ? 'uidValidity' : upper === 'UIDNEXT' ? 'uidNext' : 'unseen';
}

function rewriteSelectLine(session: InboxSession, inbox: Inbox, text: string, serverUnseen: number): Buffer {
  // [HIGHESTMODSEQ], [MAILBOXID] …: codes of extensions the client was not offered.
  if (hasHiddenResponseCode(text)) return Buffer.alloc(0);
  const { map } = inbox;
  const match = SELECT_LINE.exec(text);
  if (match?.[2]?.toUpperCase() === 'EXISTS') {
    // A first unseen virtual message that sorts before the server's first unseen needs its own UNSEEN line.
    const unseen = firstUnseen(inbox, serverUnseen);
    const extra = serverUnseen === 0 && unseen !== 0 ? `* OK [UNSEEN ${unseen}] First unseen.\r\n` : '';
    // Mail that arrived while the SELECT completed (hidden commands) is announced after the
    // answer, in its own EXISTS: this one counts what the UIDNEXT beside it covers.
    const arrivedSince = map.serverExists - Number(match[1]);
    return Buffer.from(`* ${map.clientExists - Math.max(0, arrivedSince)} EXISTS\r\n${extra}`, 'latin1');
  }
  if (match?.[3]?.toUpperCase() === 'UNSEEN') return Buffer.from(text.replace(/\[UNSEEN \d+\]/i, `[UNSEEN ${firstUnseen(inbox, serverUnseen)}]`), 'latin1');
  if (match?.[3]?.toUpperCase() === 'UIDNEXT') return Buffer.from(text.replace(/\[UIDNEXT \d+\]/i, `[UIDNEXT ${clientUidNext(Number(match[4]), map.highestUidHandedOut)}]`), 'latin1');
  const flags = inbox.flags.serverLine(text, true);
  if (flags !== null) return Buffer.from(flags, 'latin1');
  return session.rewriteCodes(inbox, text);
}

function firstUnseen(inbox: Inbox, serverUnseen: number): number {
  const { map } = inbox;
  let first = serverUnseen === 0 ? 0 : map.clientSeqOfServer(serverUnseen);
  map.virtuals.forEach((shown, index) => {
    if (shown.flags.some((flag) => flag.toLowerCase() === '\\seen')) return;
    const seq = map.clientSeqOfVirtual(index);
    if (first === 0 || seq < first) first = seq;
  });
  return first;
}

/**
 * Places the view's messages: each after the real messages with a UID up to its anchor — from a
 * placement remembered for this very INBOX (placement-memo.ts) until the first hidden SEARCH,
 * whose answers may already count changes the SELECT did not report.
 */
async function placeAtSelect(session: InboxSession, inbox: Inbox, view: InboxView, selected: { uidValidity: number; exists: number; uidNext: number }): Promise<void> {
  const { map } = inbox;
  const lastRealUid = inbox.syncedUidNext - 1;
  let searched = false;
  const realUpTo = async (anchor: number): Promise<number | null> => {
    const remembered = searched ? undefined : rememberedRealUpTo(session.host.login, selected, anchor);
    if (remembered !== undefined) return remembered;
    searched = true;
    return countRealUpTo(session, anchor);
  };
  const hiddenBelow = hiddenBelowOf(inbox);
  for (const message of view.messages) {
    const anchor = anchorOf(message.uid);
    if (anchor > lastRealUid) continue; // assigned by a session that knows newer mail: shown after our next sync
    if (message.uid < hiddenBelow) continue; // shown below mail a client may have seen without it
    // At the SELECT's last UID: all the mail the SELECT counted, and no more (late mail reported
    // by a hidden SEARCH before this one is already in map.serverExists, and comes after).
    const realBefore = anchor === lastRealUid ? Math.min(map.serverExists, selected.exists) : await realUpTo(anchor);
    if (realBefore === null) continue;
    map.appendAfter(message, realBefore);
  }
}

/** How many real messages have a UID at or below `anchor` (ESEARCH COUNT, else a plain SEARCH). */
async function countRealUpTo(session: InboxSession, anchor: number): Promise<number | null> {
  if (anchor === 0) return 0;
  const counted = await session.hidden(`SEARCH RETURN (COUNT) UID 1:${anchor}`);
  if (counted.ok) {
    const count = /\bCOUNT (\d+)/i.exec(counted.untagged.join(' '));
    return count ? Number(count[1]) : 0;
  }
  const listed = await session.hidden(`SEARCH UID 1:${anchor}`);
  if (!listed.ok) return null;
  return listed.untagged.join(' ').replace(/^\* SEARCH/i, '').trim().split(/\s+/).filter(Boolean).length;
}

/**
 * Learns the server's current UIDNEXT after the view was read: a hidden STATUS, then a hidden
 * NOOP that must bring no new mail (else the anchor may already be stale: try next time).
 */
async function syncedAnchor(session: InboxSession, inbox: Inbox): Promise<number | null> {
  const status = await session.hidden('STATUS INBOX (UIDNEXT)');
  const next = /UIDNEXT (\d+)/i.exec(status.untagged.join(' '));
  if (!status.ok || !next) return null;
  const before = inbox.map.serverExists;
  const growthBefore = session.growths;
  const noop = await session.hidden('NOOP');
  if (!noop.ok || session.growths !== growthBefore || inbox.map.serverExists < before) return null;
  inbox.syncedUidNext = Math.max(inbox.syncedUidNext, Number(next[1]));
  inbox.viewUidBound = Math.min(inbox.viewUidBound, Number(next[1]));
  return Number(next[1]) - 1;
}

/** Asks the middleware to inject the pending campaigns after `anchor` and shows what it assigned. */
async function inject(session: InboxSession, inbox: Inbox, view: InboxView, knownAnchor: number | null): Promise<Buffer> {
  const engine = session.host.engine;
  if (!engine) return Buffer.alloc(0);
  const anchor = knownAnchor ?? (await syncedAnchor(session, inbox));
  if (anchor === null || session.selection !== inbox) return Buffer.alloc(0);
  const result = await engine.assign({ ...inbox.key, epoch: view.epoch, anchorServerUid: anchor, origin: session.host.eventOrigin });
  if (!result) return Buffer.alloc(0);
  if (!result.applied) session.log.debug({ epoch: view.epoch, now: result.epoch }, 'assignment skipped: new mail was shown meanwhile; next time');
  return showPlaceable(inbox, result);
}

/**
 * After NOOP, CHECK or IDLE: withdrawals and flag changes from the view, messages assigned by
 * other sessions, and injection of what is pending. Returns what to send before the tagged OK.
 */
export async function refreshAtSafePoint(session: InboxSession, withUid: boolean): Promise<Buffer> {
  const inbox = session.inbox;
  const engine = session.host.engine;
  if (!inbox || !engine) return Buffer.alloc(0);
  const view = await engine.view(inbox.key);
  if (!view || session.selection !== inbox) return Buffer.alloc(0);
  const parts = [session.applyViewChanges(inbox, view, withUid)];
  const deferred = view.messages.some((message) => message.uid > inbox.map.highestShownUid);
  if (view.pending > 0 && !inbox.readOnly) parts.push(await inject(session, inbox, view, null));
  else if (deferred && (await syncedAnchor(session, inbox)) !== null) parts.push(showPlaceable(inbox, view));
  return Buffer.concat(parts);
}

/**
 * NOOP and CHECK: passed on, then the view is refreshed before the client sees the OK. Keywords
 * the view gained since the session last looked are announced first, before the server's own sync
 * lines, as Dovecot sends FLAGS at the start of a sync: the view is read before the command goes
 * upstream (from this node's cache when fresh).
 */
export async function noop(session: InboxSession, tag: string, command: Buffer): Promise<RunningCommand> {
  const inbox = session.inbox;
  const engine = session.host.engine;
  const view = inbox && engine ? await engine.view(inbox.key) : undefined;
  if (inbox && view && session.selection === inbox) {
    const announcement = inbox.flags.announce(view.keywords ?? []);
    if (announcement.length > 0) session.host.writeClient(announcement);
  }
  session.host.writeUpstream(command);
  return {
    tag,
    forbidsExpunge: false,
    refreshesItself: true,
    async complete(line) {
      return Buffer.concat([await refreshAtSafePoint(session, false), line]);
    },
  };
}

/** STATUS of INBOX from any state: counts and UIDs as the INBOX view shows them. */
export function statusInbox(session: InboxSession, tag: string, mailboxArg: string, items: readonly string[]): RunningCommand {
  const wanted = items.map((item) => item.toUpperCase());
  const asked = [...new Set([...wanted, 'UIDNEXT', 'UIDVALIDITY', 'MESSAGES', 'UNSEEN'])];
  session.host.writeUpstream(Buffer.from(`${tag} STATUS ${mailboxArg} (${asked.join(' ')})\r\n`, 'latin1'));
  let statusLine: string | null = null;
  return {
    tag,
    forbidsExpunge: false,
    leavesMailbox: true,
    untagged(line, literal) {
      const text = literal === null ? line.toString('latin1') : '';
      if (!/^\* STATUS /i.test(text)) return undefined;
      statusLine = text;
      return DROP;
    },
    async complete(line) {
      if (statusLine === null) return line;
      const values = new Map<string, number>();
      for (const [, name, value] of statusLine.matchAll(/([A-Z-]+) (\d+)/gi)) values.set(name!.toUpperCase(), Number(value));
      const validity = values.get('UIDVALIDITY') ?? 0;
      const serverNext = values.get('UIDNEXT') ?? 1;
      const head = statusLine.slice(0, statusLine.lastIndexOf('('));
      const answer = (shownValues: Record<string, number>): Buffer =>
        Buffer.concat([Buffer.from(`${head}(${wanted.map((name) => `${name} ${shownValues[name] ?? values.get(name) ?? 0}`).join(' ')})\r\n`, 'latin1'), line]);
      // Shown untranslated, as SELECT shows such an INBOX.
      if (!scalable(serverNext)) return answer({});
      rememberUidValidity(session.host.login, validity);
      const engine = session.host.engine;
      // UIDNEXT tells the client about new mail too: the same reveal as before showing it.
      const statusKey = session.viewKeyFor(validity);
      const view = engine ? (await engine.revealUpTo(statusKey, serverNext)).view : undefined;
      // On the selected INBOX a server answers with the mailbox as this session last reported it
      // (Dovecot: [CLIENTBUG]); so do the virtual messages: those the session has shown.
      const selected = session.inbox;
      const shown =
        selected !== null && selected.key.serverUidValidity === validity
          ? selected.map.virtuals.map((virtual) => ({ ...virtual.message, flags: [...virtual.flags] }))
          : (view?.messages ?? []).filter((message) => anchorOf(message.uid) < serverNext && message.uid >= (engine?.memory.hiddenBelow(statusKey) ?? 0));
      const highest = Math.max(
        selected !== null && selected.key.serverUidValidity === validity ? selected.map.highestUidHandedOut : (view?.uidNext ?? 1) - 1,
        (engine?.memory.uidNext(statusKey) ?? 1) - 1,
        ...shown.map((message) => message.uid),
      );
      const shownValues: Record<string, number> = {
        MESSAGES: (values.get('MESSAGES') ?? 0) + shown.length,
        UNSEEN: (values.get('UNSEEN') ?? 0) + shown.filter((message) => !message.flags.some((flag) => flag.toLowerCase() === '\\seen')).length,
        UIDNEXT: clientUidNext(serverNext, highest),
        UIDVALIDITY: clientUidValidity(validity, selected !== null && selected.key.serverUidValidity === validity ? selected.stateEpoch : (view?.stateEpoch ?? engine?.memory.stateEpoch(statusKey) ?? 0)),
      };
      return answer(shownValues);
    },
  };
}

/** A command the view does not rewrite (LIST, CREATE, LOGOUT, …): passed on as it is. */
export function passThrough(session: InboxSession, tag: string, command: Buffer): RunningCommand {
  session.host.writeUpstream(command);
  // (After LOGOUT the server closes the connection: its OK must not wait for the view either.)
  return { tag, forbidsExpunge: false, leavesMailbox: true, complete: (line) => line };
}

/** SELECT/EXAMINE of another mailbox: nothing of it is rewritten; INBOX rewriting stops. */
export function selectOther(session: InboxSession, tag: string, command: Buffer): RunningCommand {
  session.selection = { kind: 'none' };
  session.host.writeUpstream(command);
  return {
    tag,
    forbidsExpunge: false,
    untagged: () => PASS,
    complete(line) {
      if (/^\S+ OK\b/i.test(line.toString('latin1'))) session.selection = { kind: 'other' };
      return line;
    },
  };
}
