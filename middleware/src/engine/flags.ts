/**
 * Flags of virtual messages, shared by every session of a user: STORE's set / add / remove
 * applied to the stored list. IMAP compares flags case-insensitively (RFC 9051 §2.3.2), so
 * "\SEEN" is "\Seen" and "$label1" is "$Label1"; system flags are kept in their canonical
 * spelling, a keyword in the spelling it was first stored in. \Recent is a session flag a client
 * cannot set (RFC 3501 §2.3.2) and is dropped.
 *
 * The list is kept sorted by code unit (byte order for these ASCII-only flags), the order
 * Cassandra keeps a set<text> in, so both stores return the same list. Pure.
 */
import { MAX_VIEW_KEYWORDS, type FlagChange } from '@inlay/schemas';

export const SEEN_FLAG = '\\Seen';

const SYSTEM_FLAGS = ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen'];
const CANONICAL = new Map(SYSTEM_FLAGS.map((flag) => [flag.toLowerCase(), flag]));

/** Dovecot and Cyrus cap keywords per mailbox in the hundreds; per message, 100 is far beyond
 *  what a client sets and keeps a row small whatever a client sends. */
export const MAX_FLAGS_PER_MESSAGE = 100;

function canonical(flag: string): string | undefined {
  const lower = flag.toLowerCase();
  if (lower === '\\recent') return undefined;
  return CANONICAL.get(lower) ?? flag;
}

/** `current` after one change; unchanged spellings of flags already present are kept. */
export function applyFlagChange(current: readonly string[], change: Pick<FlagChange, 'mode' | 'flags'>): string[] {
  const given = change.flags.flatMap((flag) => canonical(flag) ?? []);
  const byKey = new Map<string, string>();
  const base = change.mode === 'set' ? [] : current;
  for (const flag of base) byKey.set(flag.toLowerCase(), flag);
  for (const flag of given) {
    const key = flag.toLowerCase();
    if (change.mode === 'remove') byKey.delete(key);
    else if (!byKey.has(key) && byKey.size < MAX_FLAGS_PER_MESSAGE) byKey.set(key, current.find((kept) => kept.toLowerCase() === key) ?? flag);
  }
  return [...byKey.values()].sort();
}

/**
 * `known` with the keywords among `flags` it lacks (compared case-insensitively, the spelling
 * first stored kept), sorted; undefined when nothing is new or the list is full
 * (MAX_VIEW_KEYWORDS: past it a keyword is no longer remembered, only announced while shown).
 */
export function rememberKeywords(known: readonly string[], flags: readonly string[]): string[] | undefined {
  const byKey = new Map(known.map((keyword) => [keyword.toLowerCase(), keyword]));
  for (const flag of flags) {
    const keyword = canonical(flag);
    if (keyword === undefined || keyword.startsWith('\\') || byKey.size >= MAX_VIEW_KEYWORDS) continue;
    if (!byKey.has(keyword.toLowerCase())) byKey.set(keyword.toLowerCase(), keyword);
  }
  return byKey.size === known.length ? undefined : [...byKey.values()].sort();
}

/** Whether the change sets \Seen (what counts as reading the message). */
export function setsSeen(change: Pick<FlagChange, 'mode' | 'flags'>): boolean {
  return change.mode !== 'remove' && change.flags.some((flag) => flag.toLowerCase() === '\\seen');
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((flag, index) => flag === b[index]);
}
