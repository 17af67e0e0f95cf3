/**
 * What the invariant checker remembers about a session, as types: a slot per message of the
 * selected mailbox (the seq→UID map the client can infer), what is known per mailbox and
 * UIDVALIDITY, and what each command in progress has seen so far. Types and an empty slot only.
 */
import type { Fact } from './imap-invariants-facts.ts';
import type { ParsedCommand } from './imap-invariants-wire.ts';

/** One message of the selected mailbox; EXPUNGE removes its slot, so slots renumber as sequence numbers do. */
export interface Slot {
  uid: number | null;
  /** Bounds the UID must fall in, from UIDNEXT announcements. */
  readonly minUid: number;
  readonly maxUid: number;
  /** Facts seen before the UID was known. */
  pending: Fact[];
}

export interface Knowledge {
  readonly scope: string;
  readonly expunged: Set<number>;
  maxUidnext: number;
  maxUidSeen: number;
}

export interface Selected {
  readonly mailbox: string;
  readonly knowledge: Knowledge;
  slots: Slot[];
  /** UIDNEXT the SELECT announced: messages appearing later have UIDs at or above it. */
  readonly floor: number;
  readonly readOnly: boolean;
}

export interface Running {
  readonly command: ParsedCommand;
  readonly facts: { slot: Slot; fact: Fact }[];
  readonly answeredWithUid: Set<Slot>;
  /** Messages any FETCH response was about during the command. */
  readonly answered: Set<Slot>;
  /** The messages when the command was sent ("*" and the set refer to these). */
  readonly slotsAtStart: readonly Slot[];
  /** FLAGS-only FETCH responses without UID seen during a UID FETCH/STORE. */
  readonly flagsWithoutUid: Slot[];
  readonly select: { mailbox: string; exists: number; uidValidity: number | null; uidNext: number | null } | null;
  /** For APPEND/COPY/MOVE: the destination and the highest UIDNEXT it had been given. */
  readonly destination: { mailbox: string; validity: string; uidnext: number } | null;
}

export function freshSlot(minUid: number, maxUid: number): Slot {
  return { uid: null, minUid, maxUid, pending: [] };
}
