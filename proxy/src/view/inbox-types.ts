/**
 * The types the INBOX view's modules share: what a running client command tells the session
 * about its responses (RunningCommand), what is selected (Selection), and what the session needs
 * from the relay that owns it (InboxHost). Types only.
 */
import type { Logger } from 'pino';
import type { EventOrigin, ViewKey } from '@inlay/schemas';
import type { EngineClient } from '../engine-client.js';
import type { ViewMemory } from '../engine-memory.js';
import type { LineVerdict, LiteralAnnouncement } from '../framer.js';
import type { InboxMap } from './inbox-map.js';
import type { MailboxFlags } from './mailbox-flags.js';
import type { ProxyErrorDefinition } from '../errors.js';

export interface InboxHost {
  readonly log: Logger;
  /** The login name, as the middleware knows the user. */
  readonly login: string;
  readonly engine: EngineClient | null;
  /** Where this session's client is, for the events its view changes record. */
  readonly eventOrigin: EventOrigin;
  writeUpstream(bytes: Buffer): void;
  /** Our own bytes to the client, at the next response boundary. */
  writeClient(bytes: Buffer): void;
  /** The server side stopped at a line (STOP): carry on reading it. */
  resumeServer(): void;
  idleChanged(idle: boolean): void;
  /** The relay is passing a command on without the view (an APPEND). */
  passThroughRunning(): boolean;
  /** Ends the session: `bye` to the client at the next response boundary, then both connections close. */
  endSession(reason: string, bye: ProxyErrorDefinition): void;
}

/** What a running command does to some virtual messages' flags (RunningCommand.ownFlagChange). */
export interface OwnFlagChange {
  readonly uids: ReadonlySet<number>;
  apply(flags: readonly string[]): string[];
}

/** A client command while it runs: how its responses are treated. */
export interface RunningCommand {
  readonly tag: string;
  /** Seq-number FETCH/STORE/SEARCH: no EXPUNGE may reach the client while it runs. */
  readonly forbidsExpunge: boolean;
  /** An untagged response meant for this command; undefined = default handling. */
  untagged?(line: Buffer, literal: LiteralAnnouncement | null): LineVerdict | undefined;
  /** A FETCH response's client sequence number is about to go out: what to send before it. */
  beforeFetch?(clientSeq: number): Buffer | null;
  /** Another untagged response (EXISTS, EXPUNGE, FLAGS, …; `text` is its line) is about to go out:
   *  the server has finished the command's own data, so what the proxy adds to it goes first. */
  beforeOther?(text: string): Buffer | null;
  /** The tagged completion from the server; returns what the client gets instead. */
  complete(line: Buffer): Buffer | Promise<Buffer>;
  /** NOOP, CHECK, IDLE, SELECT: the command applies the view itself. */
  readonly refreshesItself?: boolean;
  /**
   * Its answer describes the mailbox as the server reported it before anything held back while
   * it completed (SELECT: mail arriving during its hidden commands): that goes after the answer.
   */
  readonly heldAfterAnswer?: boolean;
  /** STATUS, LIST, LOGOUT and the like do not look at the selected mailbox, and a server reports
   *  no changes of it after them (Dovecot does not): neither does the view. */
  readonly leavesMailbox?: boolean;
  /** Set when the proxy answers the command itself: settles once the answer is out. */
  readonly local?: Promise<void>;
  /** IDLE: new mail must be announced as it comes, not at a completion. */
  readonly idles?: boolean;
  /** UID STORE: flag updates reported while it runs carry the UID. */
  readonly updatesCarryUid?: boolean;
  /** IDLE, once the server has said "+": ends the upstream IDLE (DONE) so that new mail can be
   *  placed with its UIDs; false when it cannot now. */
  pauseIdle?(): boolean;
  /** STORE, or a body FETCH setting \Seen: the change the command makes to virtual messages'
   *  flags, which the middleware's view shows only once it completes; new mail announced before
   *  then reports those messages' flags with it applied. */
  readonly ownFlagChange?: OwnFlagChange;
}

export type Selection =
  | { readonly kind: 'none' }
  | { readonly kind: 'other' }
  | {
      readonly kind: 'inbox';
      readonly readOnly: boolean;
      readonly map: InboxMap;
      readonly key: ViewKey;
      /** FLAGS and PERMANENTFLAGS as the client was told them, with virtual messages' keywords. */
      readonly flags: MailboxFlags;
      /** Every real message with a server UID below this is in the session's view. */
      syncedUidNext: number;
      /** This node's memory of the view (engine-memory.ts): virtual messages below its
       *  `hiddenBelow` are never placed anew. Absent without an engine. */
      readonly memory?: ViewMemory;
      /** The view state epoch in this session's client UIDVALIDITY, fixed once SELECT has the view. */
      stateEpoch: number;
      /** No view and no remembered epoch at SELECT: stateEpoch is 0 by default, not known. */
      stateEpochGuessed: boolean;
      /** Every real message of the session's view has a server UID below this (Infinity: not known
       *  since new mail arrived). A virtual message can go at the end only when its anchor is
       *  below syncedUidNext and at least viewUidBound − 1. */
      viewUidBound: number;
    };

export interface HiddenResult {
  readonly ok: boolean;
  readonly untagged: readonly string[];
  readonly text: string;
}
