/**
 * STORE, EXPUNGE / UID EXPUNGE / CLOSE / UNSELECT, COPY / MOVE and IDLE on the INBOX view: each
 * command is split into the part the server executes (with the set translated) and the part
 * that concerns virtual messages, which the proxy answers and reports to the middleware.
 *
 * Must never send the server a set that names a message the client did not name, and never
 * announce the EXPUNGE of a virtual message except where RFC 3501 §7.4.1 allows one.
 */
import type { InboxView } from '@inlay/schemas';
import { expandSmallSet, type RawRange } from './sequence-set.js';
import type { InboxMap, SplitSet } from './inbox-map.js';
import { clientUidValidity } from './inbox-map.js';
import { refreshAtSafePoint } from './inbox-select.js';
import type { InboxSession } from './inbox-session.js';
import type { OwnFlagChange, RunningCommand, Selection } from './inbox-types.js';
import { currentFlags, ownFlagChangesCounted, sameFlags } from './inbox-placement.js';
import { fetchFlagsLine, imapDate } from './virtual-fetch.js';
import { HeldAnnouncement, announcesFlags } from './mailbox-flags.js';
import { DROP, PASS } from '../framer.js';
import { ENGINE_LOG_CODES, PROXY_ERRORS, imapErrorLine } from '../errors.js';
import { untaggedOkCode } from '../response-code.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

const DELETED = '\\deleted';

/** The split of a client set, for both numbering forms. */
export function splitClientSet(inbox: Inbox, raw: readonly RawRange[], byUid: boolean): SplitSet {
  return byUid ? inbox.map.splitUidSet(raw) : inbox.map.splitSequenceSet(raw);
}

/** Answers a command entirely from the view, without the server. */
export function answeredLocally(session: InboxSession, tag: string, bytes: Buffer | Promise<Buffer>): RunningCommand {
  const local = Promise.resolve(bytes).then((answer) => session.host.writeClient(answer));
  return { tag, forbidsExpunge: false, complete: (line) => line, local };
}

/** A UID no server hands out in practice: a set of it names nothing. */
const NO_SUCH_UID = 4294967295;

/**
 * A command that names only virtual messages: answered by the proxy, but a server would still
 * have reported what changed meanwhile (new mail, flags, and for UID commands expunges) at its
 * end. So a search that matches nothing goes upstream under the client's tag, in the same
 * numbering form, and our answer takes the place of its completion.
 */
export async function answeredWithSync(
  session: InboxSession, tag: string, byUid: boolean, answer: Promise<Buffer> | Buffer, okText: string, uidForm = 'SEARCH UID', announcementsFirst = false,
): Promise<RunningCommand> {
  let data: Buffer | null = await answer;
  // The UID form of the client's own command where one can name nothing (a server decorates its
  // updates by the command running: Dovecot adds UID to flag updates during UID STORE); the
  // sequence form is always a SEARCH, the one sequence command that needs no message.
  const sync = byUid ? `UID ${uidForm.replace('?', String(NO_SUCH_UID))}` : `SEARCH UID ${NO_SUCH_UID}`;
  session.host.writeUpstream(Buffer.from(`${tag} ${sync}\r\n`, 'latin1'));
  // The answer goes before the sync's lines, as a server's own data goes before its sync; a keyword
  // announcement of the sync goes before the answer when the answer shows FLAGS
  // (`announcementsFirst`): Dovecot announces new keywords right before the first FLAGS it writes
  // (client_get_keyword_names; seed 52014).
  const inbox = session.inbox;
  const announcement = announcementsFirst && inbox !== null ? new HeldAnnouncement(inbox.flags) : null;
  const takeData = (): Buffer | null => {
    const taken = Buffer.concat([announcement?.take() ?? Buffer.alloc(0), data ?? Buffer.alloc(0)]);
    data = null;
    return taken.length > 0 ? taken : null;
  };
  return {
    tag,
    forbidsExpunge: !byUid,
    untagged: (line, literal) => {
      if (literal !== null) return undefined;
      const text = line.toString('latin1');
      if (/^\* SEARCH\b/i.test(text)) return DROP;
      return data !== null && announcement?.hold(text) ? DROP : undefined;
    },
    beforeFetch: takeData,
    beforeOther: takeData,
    complete: () => Buffer.concat([takeData() ?? Buffer.alloc(0), Buffer.from(`${tag} OK ${okText}\r\n`, 'latin1')]),
  };
}

export interface StoreRequest {
  readonly tag: string;
  readonly byUid: boolean;
  readonly split: SplitSet;
  /** "+FLAGS", "-FLAGS.SILENT", … as the client wrote it. */
  readonly item: string;
  readonly flags: readonly string[];
}

export async function store(session: InboxSession, inbox: Inbox, request: StoreRequest): Promise<RunningCommand> {
  const { tag, byUid, split, item, flags } = request;
  const mode = item.startsWith('+') ? 'add' : item.startsWith('-') ? 'remove' : 'set';
  const silent = /\.SILENT$/i.test(item);
  const command = byUid ? 'UID STORE' : 'STORE';
  // The change applies to the flags as they are now, which another session may have changed
  // since this client was last told (this node's cached view when fresh).
  const current = split.virtual.length > 0 && !inbox.readOnly ? await session.host.engine?.view(inbox.key) : undefined;
  const told = split.virtual.map((index) => inbox.map.virtuals[index]).filter((shown) => shown !== undefined).map((shown) => ({ shown, flags: shown.flags, flagsChanges: shown.flagsChanges }));
  const { reported, unforeseen, changed } = inbox.readOnly ? { reported: [], unforeseen: [], changed: [] } : applyFlags(inbox.map, split.virtual, mode, flags, current);
  if (changed.length > 0) {
    // Stored first, before anything goes upstream: a change the middleware did not confirm is
    // refused whole — never acknowledged and dropped (a `read` lost).
    const after = await session.host.engine?.flags({ ...inbox.key, changes: changed.map((uid) => ({ uid, mode, flags: [...flags] })), origin: session.host.eventOrigin });
    if (after === undefined) {
      for (const { shown, flags: was, flagsChanges } of told) Object.assign(shown, { flags: was, flagsChanges });
      return refusedForCampaignState(session, tag, 'STORE');
    }
    ownFlagChangesCounted(inbox, after, changed);
  }
  // The virtual messages' FETCH FLAGS answers, in sequence order among the server's: as Dovecot
  // does, only for messages whose flags differ from what the client was told (none in EXAMINE);
  // .SILENT spares the client only the echo of its own change, not what another session did.
  const answered = silent ? unforeseen : reported;
  const ownFlagChange: OwnFlagChange = {
    uids: new Set(inbox.readOnly ? [] : split.virtual.map((index) => inbox.map.virtuals[index]!.message.uid)),
    apply: (base) => changedFlags(base, mode, flags),
  };
  // Every flag update during UID STORE carries the UID, except with .SILENT or when a read-only
  // mailbox refuses the STORE (Dovecot, cmd-store.c).
  const updatesCarryUid = byUid && !silent && !inbox.readOnly;
  const pending = split.virtual.map((index) => inbox.map.virtuals[index]!).filter((shown) => answered.includes(shown.message.uid));
  const emitUpTo = (clientSeq: number): Buffer | null => {
    const lines: Buffer[] = [];
    while (pending.length > 0) {
      const index = inbox.map.virtuals.indexOf(pending[0]!);
      const seq = index === -1 ? 0 : inbox.map.clientSeqOfVirtual(index);
      if (seq >= clientSeq) break;
      const shown = pending.shift()!;
      if (index !== -1) lines.push(inbox.flags.announce(shown.flags), fetchFlagsLine(seq, shown.message.uid, shown.flags, updatesCarryUid));
    }
    return lines.length > 0 ? Buffer.concat(lines) : null;
  };
  const reportAndAnswer = async (line: Buffer): Promise<Buffer> => Buffer.concat([emitUpTo(Number.MAX_SAFE_INTEGER) ?? Buffer.alloc(0), line]);
  if (split.server === null) {
    // A STORE naming a keyword the mailbox lacks creates it, even to remove it, and announces it
    // first (Dovecot does); with real messages in the set the server does that itself.
    const created = inbox.readOnly ? Buffer.alloc(0) : inbox.flags.announce(flags);
    const answer = reportAndAnswer(Buffer.alloc(0)).then((data) => Buffer.concat([created, data]));
    const running = await answeredWithSync(session, tag, byUid, answer, inbox.readOnly ? 'Store ignored with read-only mailbox.' : 'Store completed.', `STORE ? ${silent ? '+FLAGS.SILENT' : '+FLAGS'} ()`);
    return { ...running, ownFlagChange, updatesCarryUid };
  }
  session.host.writeUpstream(Buffer.from(`${tag} ${command} ${split.server} ${item} (${flags.join(' ')})\r\n`, 'latin1'));
  return {
    tag,
    forbidsExpunge: !byUid,
    ownFlagChange,
    updatesCarryUid,
    beforeFetch: emitUpTo,
    // A keyword the STORE creates is announced (FLAGS, PERMANENTFLAGS) before the STORE's own
    // answers, not after them as at the end of a FETCH: it does not end the command's data.
    beforeOther: (text) => (announcesFlags(text) ? null : emitUpTo(Number.MAX_SAFE_INTEGER)),
    complete: reportAndAnswer,
  };
}

/** A command on campaign messages whose change the middleware did not confirm: `NO [UNAVAILABLE]`,
 *  nothing of it done (proxy/README.md, "When the middleware fails"). */
function refusedForCampaignState(session: InboxSession, tag: string, command: string): RunningCommand {
  session.log.warn({ code: PROXY_ERRORS.campaignStateUnavailable.code, command }, 'campaign message change refused: the middleware did not confirm it');
  return answeredLocally(session, tag, imapErrorLine(tag, PROXY_ERRORS.campaignStateUnavailable));
}

/** The server's tagged answer after it did its part: an OK becomes `NO [UNAVAILABLE]` when the
 *  campaign messages' part was not recorded; a NO or BAD is the server's own and stays. */
function refusedAfterServer(session: InboxSession, tag: string, line: Buffer, command: string): Buffer {
  if (!/^\S+ OK\b/i.test(line.toString('latin1'))) return line;
  session.log.warn({ code: PROXY_ERRORS.campaignStateUnavailable.code, command }, 'campaign message change refused: the middleware did not confirm it');
  return imapErrorLine(tag, PROXY_ERRORS.campaignStateUnavailable);
}

/**
 * Applies a flag change to virtual messages, starting from their flags in `current` (the view now)
 * where it lists them. Returns the UIDs whose flags now differ from what the client was told
 * (`reported`: a FETCH goes out), those that differ from what the client can work out itself from
 * what it was told and its change (`unforeseen`: another session changed them; a FETCH goes out
 * even for .SILENT), and those the change itself alters (`changed`: the middleware is told).
 */
function applyFlags(
  map: InboxMap, indexes: readonly number[], mode: 'set' | 'add' | 'remove', flags: readonly string[], current: InboxView | undefined,
): { reported: number[]; unforeseen: number[]; changed: number[] } {
  const reported: number[] = [];
  const unforeseen: number[] = [];
  const changed: number[] = [];
  const now = new Map((current?.messages ?? []).map((message) => [message.uid, message]));
  for (const index of indexes) {
    const shown = map.virtuals[index];
    if (!shown) continue;
    const listed = now.get(shown.message.uid);
    const base = listed?.flags ?? shown.flags;
    const next = changedFlags(base, mode, flags);
    if (!sameFlags(next, base)) changed.push(shown.message.uid);
    // Another session changed them since the client was told, maybe back to the same values.
    const touched = (listed?.flagsChanges ?? 0) > shown.flagsChanges;
    shown.flagsChanges = Math.max(shown.flagsChanges, listed?.flagsChanges ?? 0);
    if (sameFlags(next, shown.flags) && !touched) continue;
    if (touched || !sameFlags(next, changedFlags(shown.flags, mode, flags))) unforeseen.push(shown.message.uid);
    shown.flags = next;
    reported.push(shown.message.uid);
  }
  return { reported, unforeseen, changed };
}

/** `base` after a STORE of `flags` in `mode`; \Recent cannot be stored. */
function changedFlags(base: readonly string[], mode: 'set' | 'add' | 'remove', flags: readonly string[]): string[] {
  const named = new Set(flags.map((flag) => flag.toLowerCase()).filter((flag) => flag !== '\\recent'));
  const kept = base.filter((flag) => (mode === 'set' ? false : mode === 'remove' ? !named.has(flag.toLowerCase()) : true));
  const added = mode === 'remove' ? [] : flags.filter((flag) => flag.toLowerCase() !== '\\recent' && !kept.some((have) => have.toLowerCase() === flag.toLowerCase()));
  return [...kept, ...added];
}

/**
 * Virtual messages marked \Deleted among `indexes` (all when undefined): by their flags in
 * `current` (the view now), since another session may have set or cleared \Deleted since this
 * client was told, and an EXPUNGE removes what is marked in the mailbox, not in a client's copy.
 */
function deletedVirtuals(map: InboxMap, current: InboxView | undefined, indexes?: readonly number[]): number[] {
  const flagsOf = currentFlags(current);
  const candidates = indexes ?? map.virtuals.map((_, index) => index);
  return candidates.filter((index) => {
    const shown = map.virtuals[index];
    return shown !== undefined && flagsOf(shown).some((flag) => flag.toLowerCase() === DELETED);
  });
}

/** The view now, for a command that acts on the virtual messages' current flags. */
async function currentView(session: InboxSession, inbox: Inbox): Promise<InboxView | undefined> {
  return inbox.readOnly || inbox.map.virtuals.length === 0 ? undefined : session.host.engine?.view(inbox.key);
}

/** Removes virtual messages from the session's view (highest first); returns the EXPUNGE lines. */
function removeVirtuals(inbox: Inbox, indexes: readonly number[]): Buffer {
  const lines: Buffer[] = [];
  for (const index of [...indexes].sort((x, y) => y - x)) lines.push(Buffer.from(`* ${inbox.map.remove(index)} EXPUNGE\r\n`));
  return Buffer.concat(lines);
}

/** Tells the middleware first, then removes the virtual messages; returns the EXPUNGE lines (if
 *  announced), or null when the middleware did not record it: then nothing is removed (an
 *  `expunged` event is never acknowledged and lost). */
async function expungeVirtuals(session: InboxSession, inbox: Inbox, indexes: readonly number[], announce: boolean): Promise<Buffer | null> {
  if (indexes.length === 0) return Buffer.alloc(0);
  if (!(await recordExpunge(session, inbox, indexes))) return null;
  const lines = removeVirtuals(inbox, indexes);
  return announce ? lines : Buffer.alloc(0);
}

/** Whether the middleware recorded the expunge of these virtual messages. */
async function recordExpunge(session: InboxSession, inbox: Inbox, indexes: readonly number[]): Promise<boolean> {
  if (indexes.length === 0) return true;
  const uids = indexes.map((index) => inbox.map.virtuals[index]!.message.uid);
  return (await session.host.engine?.expunge({ ...inbox.key, uids, origin: session.host.eventOrigin })) !== undefined;
}

/**
 * EXPUNGE, or UID EXPUNGE with its set already split. The virtual messages go among the server's
 * own EXPUNGEs (before the first untagged response that is not a FETCH), as a server reports all
 * it removed before what else changed; the middleware is told first (README, "When the middleware
 * fails": an expunge it did not record is never acknowledged).
 */
export async function expunge(session: InboxSession, inbox: Inbox, tag: string, split: SplitSet | null): Promise<RunningCommand> {
  const deleted = inbox.readOnly ? [] : deletedVirtuals(inbox.map, await currentView(session, inbox), split?.virtual);
  if (split !== null && split.server === null) {
    const lines = await expungeVirtuals(session, inbox, deleted, true);
    if (lines === null) return refusedForCampaignState(session, tag, 'UID EXPUNGE');
    return answeredWithSync(session, tag, true, lines, 'Expunge completed.', 'EXPUNGE ?');
  }
  // Recorded before the server expunges: the real messages go either way (mail never waits for
  // the campaign side), the virtual ones only once recorded, else the answer says NO.
  const recorded = await recordExpunge(session, inbox, deleted);
  const virtual = recorded ? deleted : [];
  let removed = false;
  const announce = (): Buffer | null => {
    if (removed || virtual.length === 0) return null;
    removed = true;
    return removeVirtuals(inbox, virtual);
  };
  const finish = (line: Buffer): Buffer => {
    const lines = announce();
    const answer = recorded ? line : refusedAfterServer(session, tag, line, 'EXPUNGE');
    return lines === null ? answer : Buffer.concat([lines, answer]);
  };
  session.host.writeUpstream(Buffer.from(split === null ? `${tag} EXPUNGE\r\n` : `${tag} UID EXPUNGE ${split.server}\r\n`, 'latin1'));
  return { tag, forbidsExpunge: false, beforeOther: announce, complete: finish };
}

/** CLOSE expunges silently; UNSELECT does not. Either way INBOX rewriting ends with it. */
export async function close(session: InboxSession, inbox: Inbox, tag: string, command: Buffer, expungeToo: boolean): Promise<RunningCommand> {
  const virtual = expungeToo && !inbox.readOnly ? deletedVirtuals(inbox.map, await currentView(session, inbox)) : [];
  // CLOSE expunges silently: refused (the mailbox stays selected) unless the middleware recorded it.
  if (!(await recordExpunge(session, inbox, virtual))) return refusedForCampaignState(session, tag, 'CLOSE');
  session.host.writeUpstream(command);
  return {
    tag,
    forbidsExpunge: false,
    complete(line) {
      if (/^\S+ OK\b/i.test(line.toString('latin1'))) {
        removeVirtuals(inbox, virtual);
        session.selection = { kind: 'none' };
      }
      return line;
    },
  };
}

/**
 * COPY / MOVE: real messages by the server; each virtual one materialised in the destination by
 * a hidden APPEND (LITERAL+), its new UID added to the COPYUID the client gets.
 */
export function copyOrMove(session: InboxSession, inbox: Inbox, tag: string, byUid: boolean, move: boolean, split: SplitSet, destination: string, targetIsInbox: boolean): RunningCommand {
  const name = `${byUid ? 'UID ' : ''}${move ? 'MOVE' : 'COPY'}`;
  const virtual = split.virtual.map((index) => inbox.map.virtuals[index]!);
  let copyUid: ServerCopyUid | null = null;
  const rewriteCopyUid = (text: string): string =>
    text.replace(/ ?\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]/i, (_, validity: string, source: string, target: string) => {
      copyUid = { validity, source, target };
      return '';
    });
  const materialise = async (line: Buffer): Promise<Buffer> => {
    const text = line.toString('latin1');
    const realOk = split.server === null || /^\S+ OK\b/i.test(text);
    if (!realOk) return line;
    const pairs: { source: number; target: number }[] = [];
    const real = copyUid as ServerCopyUid | null; // assigned by the untagged handler above
    let validity = real ? Number(real.validity) : 0;
    for (const shown of virtual) {
      const literal = Buffer.from(shown.message.rfc822, 'base64');
      const flags = shown.flags.filter((flag) => flag.toLowerCase() !== '\\recent').join(' ');
      const head = `APPEND ${destination} (${flags}) "${imapDate(shown.message.internalDate)}" {${literal.length}+}\r\n`;
      const appended = await session.hidden(Buffer.concat([Buffer.from(head, 'latin1'), literal, Buffer.from('\r\n')]));
      const uid = /APPENDUID (\d+) (\d+)/i.exec(appended.text);
      if (!appended.ok) {
        session.log.warn({ code: ENGINE_LOG_CODES.materialiseFailed, answer: appended.text.slice(0, 200) }, 'copying a virtual message failed');
        // Nothing copied yet (no real part, first message): the server refused the destination
        // itself (no such mailbox, invalid name), and its answer is the one COPY would get.
        if (split.server === null && pairs.length === 0 && /^(NO|BAD) /i.test(appended.text)) {
          return Buffer.from(`${tag} NO ${appended.text.replace(/^\w+ /, '')}\r\n`, 'latin1');
        }
        return Buffer.from(`${tag} NO [SERVERBUG] Copy of a message failed: ${appended.text.replace(/^\w+ /, '').slice(0, 200)}\r\n`, 'latin1');
      }
      if (uid) {
        validity = Number(uid[1]);
        pairs.push({ source: shown.message.uid, target: Number(uid[2]) });
      }
    }
    const expunged = move ? await expungeVirtuals(session, inbox, split.virtual, true) : Buffer.alloc(0);
    // Copied, but the middleware did not record the expunge: the virtual messages stay, and the
    // MOVE is not acknowledged.
    if (expunged === null) return refusedAfterServer(session, tag, Buffer.from(`${tag} OK\r\n`), 'MOVE');
    const code = copyUidCode(real, pairs, validity, targetIsInbox, targetIsInbox ? session.stateEpochOf(validity) : 0);
    const status = split.server === null ? `${tag} OK ${code}${name} completed.\r\n` : text.replace(/^(\S+ OK )/i, `$1${code}`).replace(/\r?\n$/, '\r\n');
    return Buffer.concat([expunged, Buffer.from(status, 'latin1')]);
  };
  if (split.server === null) {
    return answeredLocally(session, tag, materialise(Buffer.alloc(0)));
  }
  session.host.writeUpstream(Buffer.from(`${tag} ${name} ${split.server} ${destination}\r\n`, 'latin1'));
  return {
    tag,
    forbidsExpunge: false,
    untagged(line, literal) {
      // MOVE announces COPYUID in an untagged OK before its EXPUNGEs (RFC 6851 §4.3).
      if (literal !== null || untaggedOkCode(line) !== 'COPYUID') return undefined;
      const rest = rewriteCopyUid(line.toString('latin1'));
      return rest.trim() === '* OK' ? Buffer.alloc(0) : Buffer.from(rest, 'latin1');
    },
    complete: (line) => materialise(Buffer.from(rewriteCopyUid(line.toString('latin1')), 'latin1')),
  };
}

/** The server's own COPYUID for the real messages of a COPY/MOVE, as it wrote it. */
interface ServerCopyUid {
  readonly validity: string;
  readonly source: string;
  readonly target: string;
}

function copyUidCode(real: ServerCopyUid | null, pairs: readonly { source: number; target: number }[], validity: number, targetIsInbox: boolean, stateEpoch: number): string {
  const sources: number[] = [];
  const targets: number[] = [];
  if (real) {
    const realSources = expandSmallSet(real.source);
    const realTargets = expandSmallSet(real.target);
    realSources.forEach((uid, index) => {
      sources.push(uid * 16);
      targets.push(targetIsInbox ? realTargets[index]! * 16 : realTargets[index]!);
    });
  }
  for (const pair of pairs) {
    sources.push(pair.source);
    targets.push(targetIsInbox ? pair.target * 16 : pair.target);
  }
  if (sources.length === 0 || validity === 0) return '';
  // COPYUID lists both sets in corresponding order (RFC 4315 §3): sort the pairs by source.
  const order = sources.map((_, index) => index).sort((x, y) => sources[x]! - sources[y]!);
  const shownValidity = targetIsInbox ? clientUidValidity(validity, stateEpoch) : validity;
  return `[COPYUID ${shownValidity} ${order.map((index) => sources[index]).join(',')} ${order.map((index) => targets[index]).join(',')}] `;
}

/**
 * IDLE: passed on; the view is refreshed now and then while idling, and once more at DONE. New
 * mail during IDLE makes the proxy end the upstream IDLE itself (DONE), place the mail with its
 * UIDs (InboxSession.announceGrowth) and IDLE again; the client sees one EXISTS and idles on.
 */
export function idle(session: InboxSession, tag: string, command: Buffer, refreshEveryMs: number, readyForDone: () => void): RunningCommand {
  session.host.writeUpstream(command);
  let timer: NodeJS.Timeout | null = null;
  let refreshing = false;
  const refresh = (): void => {
    if (refreshing || session.idleInterrupted) return;
    refreshing = true;
    // EXPUNGE and EXISTS may be sent at any time during IDLE (RFC 2177).
    void refreshWhileIdle(session).then((bytes) => {
      refreshing = false;
      if (bytes.length > 0 && session.current?.tag === tag) session.host.writeClient(bytes);
    });
  };
  let established = false;
  return {
    tag,
    forbidsExpunge: false,
    refreshesItself: true,
    idles: true,
    pauseIdle() {
      if (!established || refreshing) return false;
      session.host.writeUpstream(Buffer.from('DONE\r\n', 'latin1'));
      return true;
    },
    untagged(line) {
      if (line[0] !== 0x2b /* + */ || established) return undefined;
      established = true;
      session.host.idleChanged(true);
      if (session.host.engine && refreshEveryMs > 0) timer = setInterval(refresh, refreshEveryMs);
      readyForDone();
      return PASS;
    },
    async complete(line) {
      if (timer) clearInterval(timer);
      session.host.idleChanged(false);
      return Buffer.concat([await refreshAtSafePoint(session, false), line]);
    },
  };
}

/** During IDLE no hidden command can run, so only what needs none: withdrawals, flags, placeable messages. */
async function refreshWhileIdle(session: InboxSession): Promise<Buffer> {
  const inbox = session.inbox;
  const engine = session.host.engine;
  if (!inbox || !engine) return Buffer.alloc(0);
  const view = await engine.view(inbox.key);
  if (!view || session.selection !== inbox) return Buffer.alloc(0);
  return session.applyViewChanges(inbox, view, false);
}
