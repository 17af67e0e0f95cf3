/**
 * What the Store keeps of a user's INBOX view (table `virtual_messages`, one partition per user
 * and mailbox) and of engine events (table `events`). Plain data and one pure function: the
 * engine (src/engine/) decides every change, the store applies it atomically.
 *
 * A view is changed only through `Store.changeView(ref, decide)`: the store reads the partition,
 * calls `decide` (pure, synchronous, possibly several times when another writer got in between)
 * and applies the change it returns as one compare-and-set — LMDB `atomically`, Cassandra
 * a conditional batch on a static `version` column. Must never hold anything but what both
 * stores can keep exactly (millisecond times, byte-exact bodies).
 */
import type { EngineEventType, EventOrigin } from '@inlay/schemas';

/** Which view: a tenant keyspace, a user key (userKeyFor) and a mailbox (only INBOX for now). */
export interface ViewRef {
  readonly keyspaceName: string;
  readonly id?: string;
  readonly userKey: string;
  readonly mailbox: string;
}

/** visible: listed; withdrawn: its campaign stopped applying; expunged: the user deleted it.
 *  Only `visible` is ever listed; the other two never come back under their UID. */
export type VirtualMessageState = 'visible' | 'withdrawn' | 'expunged';

/** Why a message was assigned: the campaign's first for the user (event `injected`), or again
 *  after its last one was withdrawn or expunged (event `reinjected`). */
export type InjectionOrigin = 'first' | 'afterWithdrawal' | 'afterExpunge';

export interface StoredVirtualMessage {
  /** Client UID (schemas/src/engine.ts). */
  readonly uid: number;
  readonly campaignId: string;
  /** The campaign revision it was rendered from; later edits never change it. */
  readonly campaignRevision: number;
  readonly variantId: string | null;
  readonly origin: InjectionOrigin;
  readonly messageId: string;
  /** Lowercase hex SHA-256 of the body. */
  readonly contentHash: string;
  readonly size: number;
  /** The RFC 822 bytes while the message is visible; dropped when it leaves the view. */
  readonly body?: Buffer;
  readonly internalDateMs: number;
  readonly injectedAtMs: number;
  /** Sorted (byte order), normalized (engine/flags.ts). */
  readonly flags: readonly string[];
  /** How many times the flags changed (absent: never). A session reports the flags again when
   *  this moved, even back to the values it told: a server's modification sequence. */
  readonly flagsChanges?: number;
  readonly state: VirtualMessageState;
  readonly readAtMs?: number;
  readonly expungedAtMs?: number;
  readonly withdrawnAtMs?: number;
  /** The assign call that made it: tells that call its own messages apart after a retry. */
  readonly assignmentId: string;
}

/** What messages of earlier UIDVALIDITYs left of one campaign: frequency caps and reinjection
 *  outlive a re-created mailbox. */
export interface CampaignHistory {
  readonly messages: number;
  readonly lastInjectedAtMs: number;
  readonly reinjectionsAfterExpunge: number;
  /** How its last message left: expunged by the user, withdrawn, or dropped with the mailbox. */
  readonly lastEnd: 'expunged' | 'withdrawn' | 'dropped';
  readonly lastExpungedAtMs?: number;
}

export interface StoredView {
  /** The server UIDVALIDITY the messages belong to; 0 before the first assignment. */
  readonly uidValidity: number;
  /** The lowest client UID a new virtual message may take. */
  readonly nextUid: number;
  /** Raised by every reveal; an assign applies only with the epoch it names. */
  readonly epoch: number;
  /** Drawn at random when the view's state is first written, then fixed: part of the client
   *  UIDVALIDITY (InboxView.stateEpoch), so state lost and begun again (a tenant keyspace dropped
   *  and re-created) shows clients a new UIDVALIDITY instead of reused UIDs. 0: written before
   *  this field existed (UIDVALIDITY as it was). */
  readonly stateEpoch: number;
  readonly history: Readonly<Record<string, CampaignHistory>>;
  /** Every keyword ever set on a message of this UIDVALIDITY, sorted (engine/flags.ts,
   *  rememberKeywords): a server keeps a keyword in the mailbox's FLAGS for good. */
  readonly keywords: readonly string[];
  /** Every message of this UIDVALIDITY, in every state, ascending by UID. */
  readonly messages: readonly StoredVirtualMessage[];
}

export const EMPTY_VIEW: StoredView = Object.freeze({ uidValidity: 0, nextUid: 1, epoch: 0, stateEpoch: 0, history: {}, keywords: [], messages: [] });

export interface MessageUpdate {
  readonly uid: number;
  readonly flags?: readonly string[];
  readonly flagsChanges?: number;
  readonly state?: VirtualMessageState;
  readonly readAtMs?: number;
  readonly expungedAtMs?: number;
  readonly withdrawnAtMs?: number;
  /** Forget the body (the message left the view for good). */
  readonly dropBody?: boolean;
}

/** One atomic change of a view. */
export interface ViewChange {
  readonly uidValidity?: number;
  readonly nextUid?: number;
  readonly epoch?: number;
  readonly stateEpoch?: number;
  readonly history?: Readonly<Record<string, CampaignHistory>>;
  /** The whole keyword list, replacing the stored one. */
  readonly keywords?: readonly string[];
  /** Remove every message row first (the mailbox has a new UIDVALIDITY). */
  readonly dropMessages?: boolean;
  readonly insert?: readonly StoredVirtualMessage[];
  /** Updates of existing messages (after dropMessages: none). */
  readonly update?: readonly MessageUpdate[];
}

/** What `decide` returns: the change to apply (null: write nothing) and a result for the caller. */
export interface ViewDecision<Result> {
  readonly change: ViewChange | null;
  readonly result: Result;
}

export type ViewDecide<Result> = (current: StoredView) => ViewDecision<Result>;

/** The view after `change`: what both stores return once the change is written. */
export function applyViewChange(current: StoredView, change: ViewChange): StoredView {
  const updates = new Map((change.update ?? []).map((update) => [update.uid, update]));
  const kept = change.dropMessages ? [] : current.messages;
  const messages = [...kept.map((message) => applyMessageUpdate(message, updates.get(message.uid))), ...(change.insert ?? [])].sort((a, b) => a.uid - b.uid);
  return {
    uidValidity: change.uidValidity ?? current.uidValidity,
    nextUid: change.nextUid ?? current.nextUid,
    epoch: change.epoch ?? current.epoch,
    stateEpoch: change.stateEpoch ?? current.stateEpoch,
    history: change.history ?? current.history,
    keywords: change.keywords ?? current.keywords,
    messages,
  };
}

export function applyMessageUpdate(message: StoredVirtualMessage, update: MessageUpdate | undefined): StoredVirtualMessage {
  if (update === undefined) return message;
  const { body, ...rest } = message;
  return {
    ...rest,
    ...(update.dropBody || body === undefined ? {} : { body }),
    ...(update.flags === undefined ? {} : { flags: [...update.flags] }),
    ...(update.flagsChanges === undefined ? {} : { flagsChanges: update.flagsChanges }),
    ...(update.state === undefined ? {} : { state: update.state }),
    ...(update.readAtMs === undefined ? {} : { readAtMs: update.readAtMs }),
    ...(update.expungedAtMs === undefined ? {} : { expungedAtMs: update.expungedAtMs }),
    ...(update.withdrawnAtMs === undefined ? {} : { withdrawnAtMs: update.withdrawnAtMs }),
  };
}

/** One engine event as stored; `eventId` is derived from what it is about (engine/events.ts), so
 *  a second report of the same event writes the same row. */
export interface EngineEventRecord {
  /** A version-1 UUID (Cassandra timeuuid) whose time is `occurredAt`. */
  readonly eventId: string;
  readonly type: EngineEventType;
  readonly tenantId: string;
  readonly userKey: string;
  readonly mailbox: string;
  readonly uidValidity: number;
  readonly uid: number;
  readonly campaignId: string;
  readonly variantId: string | null;
  /** `<uidValidity>:<uid>`: the IMAP object in the user's mailbox. */
  readonly objectId: string;
  readonly messageId: string;
  readonly occurredAt: Date;
  /** From the proxy's request that made it happen (node, client address, client ID); the first
   *  report's is kept. Absent from events of proxies older than these fields. */
  readonly origin?: EventOrigin;
}

export interface EventRange {
  /** Inclusive. */
  readonly since: Date;
  /** Exclusive. */
  readonly until: Date;
}
