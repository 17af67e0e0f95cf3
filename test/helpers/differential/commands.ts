/**
 * The commands the differential harness sends, as data: generated at random from what the
 * oracle's session knows (message count, UIDs), then rendered once per target. UIDs inside a
 * command are references to *oracle* UIDs and are rendered for the subject through the UID
 * renaming, so "UID FETCH 4:7" on the oracle is the same question as "UID FETCH 64:112" on a
 * subject whose UIDs are spaced differently.
 *
 * Covers FETCH of every item (sections, partials, macros), SEARCH criteria (flags, size,
 * headers, dates, sets, NOT/OR nesting), STORE, EXPUNGE, UID EXPUNGE, NOOP, CHECK, IDLE,
 * STATUS, APPEND, SELECT/EXAMINE. INBOX is spelt in every way IMAP allows (any case, quoted,
 * a literal), and STATUS now and then names a mailbox that only contains "inbox" and exists on
 * neither account, so both refuse it alike (APPEND always reaches INBOX: a seed's mail stays
 * the same). It must never produce a command whose
 * meaning depends on the target (e.g. a raw subject UID).
 */
import { CAMPAIGN_TAGS, DATE_WINDOW, DOMAINS, generateMessage, imapDate, PEOPLE, SEARCH_WORDS, type GeneratedMessage } from './messages.ts';
import type { Random } from './random.ts';

/** A UID in a command: an oracle UID, "*", or a number past every UID either target has. */
export type UidRef = { readonly kind: 'uid'; readonly uid: number } | { readonly kind: 'star' } | { readonly kind: 'beyond'; readonly offset: number };

export type MessageSet =
  | { readonly kind: 'seq'; readonly text: string }
  | { readonly kind: 'uid'; readonly ranges: readonly (readonly [UidRef, UidRef])[] };

export type SearchKey =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'set'; readonly set: MessageSet }
  | { readonly kind: 'not'; readonly key: SearchKey }
  | { readonly kind: 'or'; readonly left: SearchKey; readonly right: SearchKey }
  | { readonly kind: 'group'; readonly keys: readonly SearchKey[] };

export type HarnessCommand =
  | { readonly kind: 'fetch'; readonly uid: boolean; readonly set: MessageSet; readonly items: string }
  | { readonly kind: 'store'; readonly uid: boolean; readonly set: MessageSet; readonly action: string; readonly flags: string }
  | { readonly kind: 'search'; readonly uid: boolean; readonly keys: readonly SearchKey[] }
  | { readonly kind: 'expunge' }
  | { readonly kind: 'uid-expunge'; readonly set: MessageSet }
  | { readonly kind: 'noop' }
  | { readonly kind: 'check' }
  | { readonly kind: 'idle' }
  | { readonly kind: 'status'; readonly recent: boolean; readonly mailbox: string }
  | { readonly kind: 'append'; readonly message: GeneratedMessage; readonly flags: string; readonly mailbox: string }
  | { readonly kind: 'select'; readonly readOnly: boolean; readonly mailbox: string };

/** A command as sent to one target: the line, and a literal to send after a "+" continuation. */
export interface RenderedCommand {
  readonly line: string;
  readonly literal: Buffer | null;
}

/** What generation may rely on: the oracle session's view, in oracle UIDs. */
export interface GenerationContext {
  readonly random: Random;
  /** Messages in the session's view. */
  readonly count: number;
  /** Oracle UIDs of the session's messages that have a known counterpart on the subject. */
  readonly sessionUids: readonly number[];
  /** Every oracle UID with a counterpart, expunged ones included (for sets with gaps). */
  readonly mappedUids: readonly number[];
  /** For messages a session appends. */
  readonly messageRandom: Random;
  /** How mailboxes are spelt; a stream of its own, so a seed's commands stay the same. Absent: INBOX. */
  readonly nameRandom?: Random;
  readonly label: string;
  /** \Recent cannot be compared (NormaliseOptions.dropRecent): no RECENT, NEW or OLD search
   *  keys (each drawn as usual, then replaced, so a seed's other steps stay the same), and no
   *  RECENT in STATUS. */
  readonly withoutRecent?: boolean;
  /**
   * The oracle answers a message set past the end as Cyrus does, with what exists, where Dovecot
   * and the proxy after it answer BAD (RFC 3501 leaves it open). Such a set is then drawn as the
   * last message instead (the draw stays, so a seed's other steps stay the same).
   */
  readonly lenientPastEnd?: boolean;
}

/** Stand-ins for the keys that depend on \Recent, used when it cannot be compared. */
const WITHOUT_RECENT: Readonly<Record<string, string>> = { NEW: 'UNSEEN', OLD: 'ALL', RECENT: 'ALL' };

export const FLAGS = ['\\Seen', '\\Flagged', '\\Answered', '\\Deleted', '\\Draft', '$Label1', '$Junk'];
const SIMPLE_ITEMS = ['FLAGS', 'UID', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY'];
const PEEK_SECTIONS = [
  'BODY.PEEK[]', 'BODY.PEEK[HEADER]', 'BODY.PEEK[TEXT]', 'BODY.PEEK[1]', 'BODY.PEEK[1.MIME]', 'BODY.PEEK[2]', 'BODY.PEEK[2.MIME]',
  'BODY.PEEK[1.1]', 'BODY.PEEK[2.HEADER]', 'BODY.PEEK[2.TEXT]', 'BODY.PEEK[3]', 'BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]',
  'BODY.PEEK[HEADER.FIELDS (X-Campaign Message-ID)]', 'BODY.PEEK[HEADER.FIELDS.NOT (To Date)]', 'RFC822.HEADER', 'RFC822.SIZE',
];
/** Fetching these without PEEK sets \Seen, so the answer carries a FLAGS update. */
const SEEN_SETTING = ['BODY[]', 'BODY[TEXT]', 'BODY[1]', 'RFC822', 'RFC822.TEXT', 'BODY[HEADER]'];

/** INBOX as a client may write it: atom in any case, quoted string, literal (LITERAL+). */
const INBOX_SPELLINGS = ['INBOX', 'inbox', 'Inbox', '"INBOX"', '"inBox"', '{5+}\r\nINBOX', '{5+}\r\ninbox'];
/** Names that contain "inbox" but are not INBOX (and exist on neither account). */
const LOOKALIKE_MAILBOXES = ['"inbox archive"', '"Old inbox"', 'INBOX.sub', 'inbox/sub', '&AOQ-inbox', '{9+}\r\ninbox.sub', '"INBOX "'];

function mailboxName(context: GenerationContext, lookalikes: boolean): string {
  const random = context.nameRandom;
  if (random === undefined || random.chance(0.4)) return 'INBOX';
  return lookalikes && random.chance(0.2) ? random.pick(LOOKALIKE_MAILBOXES) : random.pick(INBOX_SPELLINGS);
}

function uidRef(context: GenerationContext): UidRef {
  const { random } = context;
  return random.weighted<UidRef>([
    [context.sessionUids.length > 0 ? 8 : 0, { kind: 'uid', uid: random.pick(context.sessionUids.length > 0 ? context.sessionUids : [0]) }],
    [context.mappedUids.length > 0 ? 2 : 0, { kind: 'uid', uid: random.pick(context.mappedUids.length > 0 ? context.mappedUids : [0]) }],
    [1, { kind: 'star' }],
    [0.5, { kind: 'beyond', offset: random.int(1, 5) }],
  ]);
}

function seqNumber(context: GenerationContext): string {
  const { random, count } = context;
  // Now and then one past the end: both targets must refuse it the same way.
  if (count === 0 || random.chance(0.03)) return String(context.lenientPastEnd === true && count > 0 ? count : count + 1);
  return random.chance(0.1) ? '*' : String(random.int(1, count));
}

export function messageSet(context: GenerationContext, uid: boolean): MessageSet {
  const { random } = context;
  const parts = random.int(1, random.chance(0.2) ? 3 : 1);
  if (uid) {
    return { kind: 'uid', ranges: Array.from({ length: parts }, () => { const from = uidRef(context); return [from, random.chance(0.5) ? uidRef(context) : from] as const; }) };
  }
  if (random.chance(0.15)) return { kind: 'seq', text: '1:*' };
  return { kind: 'seq', text: Array.from({ length: parts }, () => (random.chance(0.5) ? `${seqNumber(context)}:${seqNumber(context)}` : seqNumber(context))).join(',') };
}

function fetchItems(random: Random): string {
  if (random.chance(0.08)) return random.pick(['ALL', 'FAST', 'FULL']);
  const items = new Set<string>(random.subset(SIMPLE_ITEMS, 0.35));
  for (let i = random.int(0, 2); i > 0; i -= 1) {
    let item = random.chance(0.08) ? random.pick(SEEN_SETTING) : random.pick(PEEK_SECTIONS);
    if (item.includes('[') && random.chance(0.3)) item += `<${random.int(0, 300)}.${random.int(1, 200)}>`;
    items.add(item);
  }
  if (items.size === 0) items.add('FLAGS');
  return `(${[...items].join(' ')})`;
}

function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

function searchDate(random: Random): string {
  return imapDate(random.int(DATE_WINDOW.from / 86_400_000, DATE_WINDOW.to / 86_400_000) * 86_400_000);
}

function simpleKey(context: GenerationContext): SearchKey {
  const { random } = context;
  const text = (value: string): SearchKey => ({ kind: 'text', text: value });
  return random.weighted<() => SearchKey>([
    [6, () => {
      const key = random.pick(['ALL', 'ANSWERED', 'DELETED', 'FLAGGED', 'SEEN', 'DRAFT', 'UNANSWERED', 'UNDELETED', 'UNFLAGGED', 'UNSEEN', 'UNDRAFT', 'NEW', 'OLD', 'RECENT']);
      return text((context.withoutRecent ? WITHOUT_RECENT[key] : undefined) ?? key);
    }],
    [1, () => text(`${random.pick(['KEYWORD', 'UNKEYWORD'])} ${random.pick(['$Label1', '$Junk'])}`)],
    [2, () => text(`${random.pick(['LARGER', 'SMALLER'])} ${random.pick([200, 600, 1000, 2000, 5000])}`)],
    [3, () => text(`${random.pick(['SUBJECT', 'BODY', 'TEXT'])} ${quoted(random.pick(SEARCH_WORDS))}`)],
    [2, () => text(`${random.pick(['FROM', 'TO', 'CC'])} ${quoted(random.chance(0.5) ? random.pick(PEOPLE) : random.pick(DOMAINS))}`)],
    [1, () => text(random.chance(0.5) ? `HEADER X-Campaign ${quoted(random.pick(CAMPAIGN_TAGS))}` : `HEADER Message-ID ${quoted(random.pick(['example', 'mail-', 'campaign']))}`)],
    [2, () => text(`${random.pick(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE'])} ${searchDate(random)}`)],
    [2, () => ({ kind: 'set', set: messageSet(context, false) })],
    [2, () => ({ kind: 'set', set: { kind: 'uid', ranges: (messageSet(context, true) as Extract<MessageSet, { kind: 'uid' }>).ranges } })],
  ])();
}

/** A criterion of bounded depth: simple keys under NOT, OR and parenthesised groups. */
export function searchKey(context: GenerationContext, depth = 0): SearchKey {
  const { random } = context;
  if (depth >= 3 || random.chance(0.6)) return simpleKey(context);
  return random.weighted<() => SearchKey>([
    [2, () => ({ kind: 'not', key: searchKey(context, depth + 1) })],
    [2, () => ({ kind: 'or', left: searchKey(context, depth + 1), right: searchKey(context, depth + 1) })],
    [1, () => ({ kind: 'group', keys: [searchKey(context, depth + 1), searchKey(context, depth + 1)] })],
  ])();
}

export type CommandKind = 'fetch' | 'uid-fetch' | 'search' | 'uid-search' | 'store' | 'uid-store' | 'expunge' | 'uid-expunge' | 'noop' | 'check' | 'idle' | 'status' | 'append' | 'select';

export function generateCommand(kind: CommandKind, context: GenerationContext): HarnessCommand {
  const { random } = context;
  switch (kind) {
    case 'fetch':
    case 'uid-fetch':
      return { kind: 'fetch', uid: kind === 'uid-fetch', set: messageSet(context, kind === 'uid-fetch'), items: fetchItems(random) };
    case 'search':
    case 'uid-search':
      return { kind: 'search', uid: kind === 'uid-search', keys: Array.from({ length: random.int(1, 3) }, () => searchKey(context)) };
    case 'store':
    case 'uid-store': {
      const flags = random.subset(FLAGS, 0.25);
      const action = `${random.pick(['+', '+', '-', ''])}FLAGS${random.chance(0.4) ? '.SILENT' : ''}`;
      return { kind: 'store', uid: kind === 'uid-store', set: messageSet(context, kind === 'uid-store'), action, flags: `(${flags.join(' ')})` };
    }
    case 'expunge':
      return { kind: 'expunge' };
    case 'uid-expunge':
      return { kind: 'uid-expunge', set: messageSet(context, true) };
    case 'append':
      return { kind: 'append', message: generateMessage(context.messageRandom, context.label), flags: `(${random.subset(FLAGS.filter((flag) => flag !== '\\Deleted'), 0.3).join(' ')})`, mailbox: mailboxName(context, false) };
    case 'select':
      // Never another mailbox: the session must stay in INBOX.
      return { kind: 'select', readOnly: random.chance(0.25), mailbox: mailboxName(context, false) };
    case 'noop':
    case 'check':
    case 'idle':
      return { kind };
    case 'status':
      return { kind, recent: !context.withoutRecent, mailbox: mailboxName(context, true) };
  }
}

/** How one target spells UIDs: `uid` maps an oracle UID; `beyondBase` is its highest UID. */
export interface UidSpelling {
  uid(oracleUid: number): number;
  readonly beyondBase: number;
}

function renderRef(ref: UidRef, spelling: UidSpelling): string {
  switch (ref.kind) {
    case 'uid':
      return String(spelling.uid(ref.uid));
    case 'star':
      return '*';
    case 'beyond':
      return String(spelling.beyondBase + ref.offset);
  }
}

export function renderSet(set: MessageSet, spelling: UidSpelling): string {
  if (set.kind === 'seq') return set.text;
  return set.ranges.map(([from, to]) => (from === to ? renderRef(from, spelling) : `${renderRef(from, spelling)}:${renderRef(to, spelling)}`)).join(',');
}

export function renderSearchKey(key: SearchKey, spelling: UidSpelling): string {
  switch (key.kind) {
    case 'text':
      return key.text;
    case 'set':
      return key.set.kind === 'uid' ? `UID ${renderSet(key.set, spelling)}` : key.set.text;
    case 'not':
      return `NOT ${renderSearchKey(key.key, spelling)}`;
    case 'or':
      return `OR ${renderSearchKey(key.left, spelling)} ${renderSearchKey(key.right, spelling)}`;
    case 'group':
      return `(${key.keys.map((inner) => renderSearchKey(inner, spelling)).join(' ')})`;
  }
}

export function renderCommand(command: HarnessCommand, spelling: UidSpelling): RenderedCommand {
  const uid = (on: boolean): string => (on ? 'UID ' : '');
  const line = (text: string): RenderedCommand => ({ line: text, literal: null });
  switch (command.kind) {
    case 'fetch':
      return line(`${uid(command.uid)}FETCH ${renderSet(command.set, spelling)} ${command.items}`);
    case 'store':
      return line(`${uid(command.uid)}STORE ${renderSet(command.set, spelling)} ${command.action} ${command.flags}`);
    case 'search':
      return line(`${uid(command.uid)}SEARCH ${command.keys.map((key) => renderSearchKey(key, spelling)).join(' ')}`);
    case 'expunge':
      return line('EXPUNGE');
    case 'uid-expunge':
      return line(`UID EXPUNGE ${renderSet(command.set, spelling)}`);
    case 'noop':
      return line('NOOP');
    case 'check':
      return line('CHECK');
    case 'idle':
      return line('IDLE');
    case 'status':
      return line(`STATUS ${command.mailbox} (MESSAGES ${command.recent ? 'RECENT ' : ''}UIDNEXT UIDVALIDITY UNSEEN)`);
    case 'append':
      return { line: `APPEND ${command.mailbox} ${command.flags} "${command.message.internalDate}" `, literal: command.message.bytes };
    case 'select':
      return line(`${command.readOnly ? 'EXAMINE' : 'SELECT'} ${command.mailbox}`);
  }
}
