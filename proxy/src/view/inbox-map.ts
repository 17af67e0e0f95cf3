/**
 * The numbering of one session's INBOX view: where the virtual messages sit among the real ones,
 * and the translation of sequence numbers and UIDs between the client and the server
 * (proxy/README.md, "UIDs and sequence numbers").
 *
 * It holds no list of the mailbox's UIDs: only the server's message count and, per virtual
 * message, how many real messages precede it (`realBefore`). Real mail only ever arrives at the
 * end and a virtual message is only ever shown after every real message the client has been told
 * of (at most among new mail announced in the same EXISTS), so `realBefore` changes only when a
 * real message before it is expunged.
 *
 * Must never reorder: client UIDs ascend with client sequence numbers, always.
 */
import { UID_SCALE, type VirtualMessage } from '@inlay/schemas';
import { MAX_SCALABLE_SERVER_UID, UidBeyondScaleError } from './uid-scale.js';
import { formatRanges, resolveRanges, SequenceSetError, type Range, type RawRange } from './sequence-set.js';

export interface ShownVirtual {
  readonly message: VirtualMessage;
  /** Real messages of the session's view with a lower UID. */
  realBefore: number;
  /** The flags this session last told its client. */
  flags: readonly string[];
  /** The view's count of changes to them (VirtualMessage.flagsChanges) when they were told: a
   *  higher count means another session changed them since, maybe back to the same values. */
  flagsChanges: number;
}

export type ClientMessage = { readonly kind: 'real'; readonly serverSeq: number } | { readonly kind: 'virtual'; readonly index: number };

/** A client set split into what the server must see and the virtual messages it names. */
export interface SplitSet {
  /** Server set, or null when the set names no real message. */
  readonly server: string | null;
  /** Indexes into `virtuals`, ascending. */
  readonly virtual: number[];
}

export function clientUidOfServer(serverUid: number): number {
  if (serverUid > MAX_SCALABLE_SERVER_UID) throw new UidBeyondScaleError(serverUid);
  return serverUid * UID_SCALE;
}

export function isVirtualUid(clientUid: number): boolean {
  return clientUid % UID_SCALE !== 0;
}

/** The highest server UID at or below this client UID. */
export function anchorOf(clientUid: number): number {
  return Math.floor(clientUid / UID_SCALE);
}

/**
 * What the client is told UIDNEXT is: the lowest client UID a new message could get. A new
 * virtual message takes exactly this UID, so UIDNEXT moves whenever one is added (RFC 3501
 * §2.3.1.1), and real mail moves it too.
 */
export function clientUidNext(serverUidNext: number, highestVirtualUid: number): number {
  return Math.max((serverUidNext - 1) * UID_SCALE + 1, highestVirtualUid + 1);
}

/**
 * UIDVALIDITY shown to clients: derived from the server's, but different, so a client that
 * cached the server's raw UIDs resyncs once when it first comes through Inlay, and never again;
 * and from the view state epoch (InboxView.stateEpoch), so view state lost and begun again shows
 * a new UIDVALIDITY rather than reused UIDs (proxy/README.md, "UIDVALIDITY and the view state").
 */
export function clientUidValidity(serverUidValidity: number, stateEpoch = 0): number {
  const derived = (serverUidValidity ^ 0x5a5a_5a5a ^ stateEpoch) >>> 0;
  return derived === 0 ? 1 : derived;
}

export class InboxMap {
  readonly virtuals: ShownVirtual[] = [];
  /** The highest UID this session showed or the view says was assigned, shown or gone since. */
  private handedOut = 0;
  /** The highest UID of a virtual message this session showed, removed since or not. */
  private shown = 0;

  constructor(public serverExists: number) {}

  /** The view's UIDNEXT: UIDs below it may be known to some client, withdrawn or not. */
  noteAssignedBelow(uidNext: number | undefined): void {
    if (uidNext !== undefined) this.handedOut = Math.max(this.handedOut, uidNext - 1);
  }

  /** What UIDNEXT must stay above (clientUidNext): never lowered by a withdrawal or an EXPUNGE. */
  get highestUidHandedOut(): number {
    return Math.max(this.handedOut, this.highestVirtualUid);
  }

  get clientExists(): number {
    return this.serverExists + this.virtuals.length;
  }

  /**
   * The highest UID of a virtual message this session ever showed. A message at or below it that
   * the map does not hold was shown and removed (expunged, withdrawn), or comes too late: either
   * way it is never shown (again), since a new message's UID must be above every one shown.
   */
  get highestShownUid(): number {
    return this.shown;
  }

  get highestVirtualUid(): number {
    return this.virtuals.length === 0 ? 0 : this.virtuals[this.virtuals.length - 1]!.message.uid;
  }

  clientSeqOfVirtual(index: number): number {
    return this.virtuals[index]!.realBefore + index + 1;
  }

  clientSeqOfServer(serverSeq: number): number {
    let before = 0;
    for (const shown of this.virtuals) {
      if (shown.realBefore < serverSeq) before++;
      else break;
    }
    return serverSeq + before;
  }

  resolve(clientSeq: number): ClientMessage | null {
    if (clientSeq < 1 || clientSeq > this.clientExists) return null;
    let virtualBefore = 0;
    for (let index = 0; index < this.virtuals.length; index++) {
      const seq = this.clientSeqOfVirtual(index);
      if (seq === clientSeq) return { kind: 'virtual', index };
      if (seq < clientSeq) virtualBefore++;
      else break;
    }
    return { kind: 'real', serverSeq: clientSeq - virtualBefore };
  }

  indexOfUid(uid: number): number {
    return this.virtuals.findIndex((shown) => shown.message.uid === uid);
  }

  /** Shows a virtual message after every real message the session knows; returns its client sequence number. */
  append(message: VirtualMessage): number {
    return this.appendAfter(message, this.serverExists);
  }

  /**
   * Shows a virtual message after the first `realBefore` real messages — only ever past every
   * message the client has been told of, with a UID above every virtual one (callers check).
   */
  appendAfter(message: VirtualMessage, realBefore: number): number {
    this.virtuals.push({ message, realBefore, flags: message.flags, flagsChanges: message.flagsChanges ?? 0 });
    this.handedOut = Math.max(this.handedOut, message.uid);
    this.shown = Math.max(this.shown, message.uid);
    return this.clientSeqOfVirtual(this.virtuals.length - 1);
  }

  /** Removes a virtual message; returns the client sequence number it had (for `* n EXPUNGE`). */
  remove(index: number): number {
    const seq = this.clientSeqOfVirtual(index);
    this.virtuals.splice(index, 1);
    return seq;
  }

  /** The server expunged its message `serverSeq`; returns the client sequence number it had. */
  serverExpunged(serverSeq: number): number {
    const clientSeq = this.clientSeqOfServer(serverSeq);
    for (const shown of this.virtuals) if (shown.realBefore >= serverSeq) shown.realBefore--;
    this.serverExists--;
    return clientSeq;
  }

  /** Splits a client sequence set (`*` = the client's highest sequence number). */
  splitSequenceSet(raw: readonly RawRange[], strict = true): SplitSet {
    // A message number past the end is a client error the server answers BAD (FETCH, STORE,
    // COPY); SEARCH only ignores it (strict = false).
    if (strict && !validMessageSet(raw, this.clientExists)) throw new SequenceSetError('Invalid messageset');
    const ranges = resolveRanges(raw, this.clientExists);
    const server: Range[] = [];
    // `*` stays `*` for the server when the last message is real, as in a UID set: a server that
    // reports new mail at the start of a command counts it in `*` (Cyrus sends `* 10 EXISTS`,
    // then answers "1:*" with message 10 too), and the client, told the same EXISTS first, must
    // get the same answer; the FETCH of mail not yet placed fixes its number (inbox-growth.ts).
    const starParts: string[] = [];
    // FETCH, STORE and COPY only: SEARCH sets are read as the server reads them (strict = false).
    const keepStar = strict && !this.lastIsVirtual;
    const virtual = new Set<number>();
    ranges.forEach((range, rangeIndex) => {
      // In an empty view `*` is 0, and "1:*" comes back as 0:1: there is no message 0.
      const from = Math.max(range.from, 1);
      const last = Math.min(range.to, this.clientExists);
      if (from > last) return;
      let virtualBelowFrom = 0;
      let virtualUpToLast = 0;
      for (let index = 0; index < this.virtuals.length; index++) {
        const seq = this.clientSeqOfVirtual(index);
        if (seq < from) virtualBelowFrom++;
        if (seq <= last) virtualUpToLast++;
        if (seq >= from && seq <= last) virtual.add(index);
      }
      const serverRange = { from: from - virtualBelowFrom, to: last - virtualUpToLast };
      const { from: rawFrom, to: rawTo } = raw[rangeIndex]!;
      const star = keepStar && (rawFrom === '*' || rawTo === '*') && serverRange.to === this.serverExists && serverRange.from <= serverRange.to;
      if (!star) server.push(serverRange);
      else starParts.push(rawFrom === '*' && rawTo === '*' ? '*' : `${serverRange.from}:*`);
    });
    const numbered = formatRanges(server);
    const parts = [...(numbered === null ? [] : [numbered]), ...starParts];
    return { server: parts.length === 0 ? null : parts.join(','), virtual: [...virtual].sort((x, y) => x - y) };
  }

  /** The last message of the view is a virtual one: `*` in a UID set is then its UID. */
  get lastIsVirtual(): boolean {
    const last = this.virtuals[this.virtuals.length - 1];
    return last !== undefined && last.realBefore === this.serverExists;
  }

  /**
   * What `*` in a UID set stands for when the proxy evaluates it on virtual messages: the last
   * virtual UID when that message is last, else "a real UID above every virtual one".
   */
  get starUid(): number {
    return this.lastIsVirtual ? this.highestVirtualUid : Number.MAX_SAFE_INTEGER;
  }

  /**
   * Splits a client UID set without asking the server for its highest UID. When the last
   * message is real, `*` means the same message on both sides and stays `*` for the server (its
   * "n:* names the last message even above n" rule then agrees with the client's); a virtual
   * message is in "n:*" exactly when its UID is at least n. When the last message is virtual,
   * `*` is its UID and every range becomes explicit.
   */
  splitUidSet(raw: readonly RawRange[]): SplitSet {
    if (!this.lastIsVirtual) {
      const virtual = new Set<number>();
      for (const { from, to } of raw) {
        const star = from === '*' || to === '*';
        const low = star ? (from === '*' ? to : from) : Math.min(from, to);
        const high = star ? Number.MAX_SAFE_INTEGER : Math.max(from, to);
        if (low === '*') continue; // "*" alone: the last message, which is real
        this.virtuals.forEach((shown, index) => {
          if (shown.message.uid >= low && shown.message.uid <= high) virtual.add(index);
        });
      }
      return { server: scaleUidSetDown(raw), virtual: [...virtual].sort((x, y) => x - y) };
    }
    const ranges = resolveRanges(raw, this.highestVirtualUid);
    const server: Range[] = [];
    const virtual = new Set<number>();
    for (const { from, to } of ranges) {
      const low = Math.ceil(from / UID_SCALE);
      const high = Math.floor(to / UID_SCALE);
      if (low <= high && high >= 1) server.push({ from: Math.max(low, 1), to: high });
      this.virtuals.forEach((shown, index) => {
        if (shown.message.uid >= from && shown.message.uid <= to) virtual.add(index);
      });
    }
    return { server: formatRanges(server), virtual: [...virtual].sort((x, y) => x - y) };
  }
}

/** The real part of a UID set whose `*` is a real message: range by range, `*` kept. */
function scaleUidSetDown(raw: readonly RawRange[]): string | null {
  const parts: string[] = [];
  for (const { from, to } of raw) {
    if (from === '*' || to === '*') {
      const other = from === '*' ? to : from;
      parts.push(other === '*' ? '*' : `${Math.max(1, Math.ceil(other / UID_SCALE))}:*`);
      continue;
    }
    const low = Math.max(1, Math.ceil(Math.min(from, to) / UID_SCALE));
    const high = Math.floor(Math.max(from, to) / UID_SCALE);
    if (low <= high) parts.push(low === high ? `${low}` : `${low}:${high}`);
  }
  return parts.length === 0 ? null : parts.join(',');
}

const STAR = 0xffff_ffff;

/**
 * Whether a server would accept this message set for FETCH, STORE or COPY, by the rule Dovecot
 * applies (its msgset check): no set is valid in an empty mailbox; otherwise, of the merged,
 * sorted ranges, the highest one must not end past the last message — or, when it ends in `*`,
 * must not start past it. Lower ranges past the end are simply cut.
 */
export function validMessageSet(raw: readonly RawRange[], messages: number): boolean {
  if (messages === 0 || raw.length === 0) return false;
  const ranges = raw
    .map(({ from, to }) => [from === '*' ? STAR : from, to === '*' ? STAR : to] as const)
    .map(([a, b]) => (a <= b ? { from: a, to: b } : { from: b, to: a }))
    .sort((x, y) => x.from - y.from);
  let last = { ...ranges[0]! };
  for (const range of ranges.slice(1)) {
    if (range.from <= last.to + 1) last.to = Math.max(last.to, range.to);
    else last = { ...range };
  }
  if (last.to === STAR) return last.from === STAR || last.from <= messages;
  return last.to <= messages;
}
