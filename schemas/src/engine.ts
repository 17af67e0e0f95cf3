/**
 * The internal engine API between the proxy and the middleware: a user's INBOX view of virtual
 * messages, and the changes sessions make to it. Internal: authenticated by the shared
 * `internalToken`, never exposed to tenants, documented in the OpenAPI document under the tag
 * "internal".
 *
 * UIDs here are *client* UIDs (proxy/README.md): a real message with server UID u is shown as
 * u × 16 (UID_SCALE), and a virtual message takes one of the 15 free slots after the real UID it
 * is anchored to, so anchorUid = floor(uid / 16). The middleware stores client UIDs; the proxy
 * does the arithmetic.
 *
 * Every call names the user by the login name the client gave (the middleware resolves tenant and
 * user key) and the mailbox (only "INBOX" for now), with the server's UIDVALIDITY: when that
 * changes the mailbox was re-created and the old view means nothing, so the middleware starts a
 * new, empty one.
 *
 * Must never import anything of Inlay's (this package is the leaf every other one imports).
 */
import { Type, type Static } from '@sinclair/typebox';

/** Client UID of a real message = server UID × UID_SCALE; the slots in between are virtual. */
export const UID_SCALE = 16;
/** Highest server UID the scheme can show: client UIDs are 32-bit like every IMAP UID. */
export const MAX_SCALED_SERVER_UID = Math.floor(0xffff_ffff / UID_SCALE);

/**
 * Keywords a view remembers (InboxView.keywords). Cyrus caps a mailbox at 128 user flags; clients
 * use a handful ($Junk, $NotJunk, $Forwarded, $MDNSent, labels). The cap keeps every view read and
 * FLAGS line small whatever a client keeps inventing; a keyword past it is still announced while
 * a message shows it, as before, only not remembered.
 */
export const MAX_VIEW_KEYWORDS = 128;

const Uid = Type.Integer({ minimum: 1, maximum: 0xffff_ffff });
const Login = Type.String({ minLength: 1, maxLength: 320, description: 'the login name the client gave the IMAP server' });
const Mailbox = Type.Literal('INBOX');
const Flag = Type.String({ minLength: 1, maxLength: 100, pattern: '^\\\\?[!#$&\'+\\-.0-9<>?@A-Z^_`a-z|~]+$' });

/** Which view a request is about. */
export const ViewKeySchema = Type.Object(
  {
    login: Login,
    mailbox: Mailbox,
    serverUidValidity: Type.Integer({ minimum: 1, maximum: 0xffff_ffff }),
  },
  { additionalProperties: false },
);
export type ViewKey = Static<typeof ViewKeySchema>;

export const VirtualMessageSchema = Type.Object(
  {
    /** Client UID; never reused within the view's UIDVALIDITY, never changes meaning. */
    uid: Uid,
    campaignId: Type.String(),
    variantId: Type.Union([Type.String(), Type.Null()]),
    /** RFC 3339; INTERNALDATE of the message (the injection time, or the campaign's fixed date). */
    internalDate: Type.String(),
    /** Shared by every session of the user: \Seen, \Flagged, \Answered, \Deleted, \Draft, keywords. */
    flags: Type.Array(Flag),
    /** How many times `flags` changed (absent: never); a session reports them again when this
     *  moved, even back to the values it told, as a server does by modification sequence. */
    flagsChanges: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The whole RFC 822 message, base64; immutable for this UID. */
    rfc822: Type.String({ contentEncoding: 'base64' }),
  },
  { additionalProperties: false },
);
export type VirtualMessage = Static<typeof VirtualMessageSchema>;

/** The answer to every view call. */
export const InboxViewSchema = Type.Object(
  {
    /** False when the user has no tenant (no domain mapping and no "default" tenant): nothing to show. */
    known: Type.Boolean(),
    /** Raised by every `reveal` call — a session reveals before it tells its client about real
     *  mail (SELECT, STATUS, a grown EXISTS); an `assign` names the epoch it read before it
     *  learned its anchor, and fails if it moved (proxy/README.md, "Assigning a UID"). */
    epoch: Type.Integer({ minimum: 0 }),
    /** Drawn at random when the view's state was first written, then fixed: part of the client
     *  UIDVALIDITY (proxy/README.md, "UIDVALIDITY and the view state"). When the state is lost (the
     *  tenant keyspace dropped and re-created) the view starts over with a new one, so clients
     *  resync once instead of meeting reused UIDs. 0 or absent: state from before this field, or
     *  not written yet — UIDVALIDITY as derived from the server's alone. */
    stateEpoch: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff_ffff })),
    /** The visible virtual messages, ascending by UID. A message a session showed that is no
     *  longer listed was withdrawn or expunged: the session announces an EXPUNGE for it. */
    messages: Type.Array(VirtualMessageSchema),
    /** Above every UID ever assigned in this view, listed or not (withdrawn, expunged): a UID is
     *  never reused, so no client may be told a UIDNEXT at or below one it may have seen.
     *  Absent when nothing was assigned under this UIDVALIDITY. */
    uidNext: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Every keyword ever set on a virtual message of this view (under this UIDVALIDITY), listed
     *  or not any more, in the spelling first stored, sorted: a server keeps a keyword in the
     *  mailbox's FLAGS for good once a message had it, so sessions announce these at SELECT and
     *  when the list grows. At most MAX_VIEW_KEYWORDS; absent from a middleware older than this
     *  field (read as none). */
    keywords: Type.Optional(
      Type.Array(Flag, { maxItems: MAX_VIEW_KEYWORDS, description: 'every keyword ever set on a virtual message of this view; announced in the mailbox FLAGS for good' }),
    ),
    /** Campaigns that apply to the user now and would get a message from an `assign` call. */
    pending: Type.Integer({ minimum: 0 }),
    /** How long the proxy may reuse this view for the user's other sessions. */
    ttlMs: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type InboxView = Static<typeof InboxViewSchema>;

/** Where a view change came from, as the proxy saw it; every field optional (older proxies). */
export const EventOriginSchema = Type.Object(
  {
    /** The proxy node's name (its host name unless configured). */
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    /** The client's address: the connecting one, or the one a trusted proxy in front of Inlay
     *  named in IMAP ID (x-originating-ip). */
    clientAddress: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** The client's IMAP ID "name" and "version", when it sent them. */
    clientName: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    clientVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type EventOrigin = Static<typeof EventOriginSchema>;

/** POST /internal/v1/views/assign: inject the pending campaigns after `anchorServerUid`. */
export const AssignRequestSchema = Type.Object(
  {
    ...ViewKeySchema.properties,
    /** The epoch of the view the session read *before* it learned anchorServerUid from the server. */
    epoch: Type.Integer({ minimum: 0 }),
    /** A server UID at or above every real message in the mailbox when the session last synced
     *  (UIDNEXT − 1 at SELECT), and below every message still to come. */
    anchorServerUid: Type.Integer({ minimum: 0, maximum: MAX_SCALED_SERVER_UID }),
    /** Carried into the injected / reinjected events this call records. */
    origin: Type.Optional(EventOriginSchema),
  },
  { additionalProperties: false },
);
export type AssignRequest = Static<typeof AssignRequestSchema>;

export const AssignResultSchema = Type.Object(
  {
    ...InboxViewSchema.properties,
    /** False when the epoch moved (another session revealed new mail): nothing was assigned. */
    applied: Type.Boolean(),
    /** UIDs assigned by this call. */
    assigned: Type.Array(Uid),
  },
  { additionalProperties: false },
);
export type AssignResult = Static<typeof AssignResultSchema>;

/** POST /internal/v1/views/flags: flag changes a client made on virtual messages. */
export const FlagChangeSchema = Type.Object(
  {
    uid: Uid,
    mode: Type.Union([Type.Literal('set'), Type.Literal('add'), Type.Literal('remove')]),
    flags: Type.Array(Flag, { maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type FlagChange = Static<typeof FlagChangeSchema>;

export const FlagsRequestSchema = Type.Object(
  { ...ViewKeySchema.properties, changes: Type.Array(FlagChangeSchema, { minItems: 1, maxItems: 1000 }), origin: Type.Optional(EventOriginSchema) },
  { additionalProperties: false },
);
export type FlagsRequest = Static<typeof FlagsRequestSchema>;

/** POST /internal/v1/views/expunge: virtual messages the client expunged (they never return). */
export const ExpungeRequestSchema = Type.Object(
  { ...ViewKeySchema.properties, uids: Type.Array(Uid, { minItems: 1, maxItems: 1000 }), origin: Type.Optional(EventOriginSchema) },
  { additionalProperties: false },
);
export type ExpungeRequest = Static<typeof ExpungeRequestSchema>;

export const ENGINE_EVENT_TYPES = ['injected', 'reinjected', 'read', 'expunged'] as const;
export type EngineEventType = (typeof ENGINE_EVENT_TYPES)[number];
