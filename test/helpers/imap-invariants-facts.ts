/**
 * What a client may assume never changes about a message once it has a UID: INTERNALDATE,
 * RFC822.SIZE, ENVELOPE, BODYSTRUCTURE and every body section (RFC 3501 §2.3.1.1, RFC 9051
 * §2.3.1.1). A MessageHistory remembers what was seen per (user, mailbox, UIDVALIDITY, UID)
 * and answers whether a new sighting contradicts it; one history can be shared by all sessions
 * of a user, since every session must see the same message under one UID.
 *
 * Partial fetches (BODY[TEXT]<5>) are compared against the full section and against each
 * other where they overlap, so a client that fetches in pieces is covered too. It must never
 * judge FLAGS, which do change.
 */
import { canonicalValue, type FetchItem, type ImapValue } from './imap-invariants-wire.ts';

interface SectionFacts {
  /** The whole section (null for NIL); undefined until seen. */
  full?: Buffer | null;
  pieces: { origin: number; bytes: Buffer }[];
}

interface MessageFacts {
  /** Canonical text of INTERNALDATE (as an instant), RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY. */
  readonly fixed: Map<string, string>;
  readonly sections: Map<string, SectionFacts>;
}

/** A fetch item worth remembering, or null for FLAGS, UID, MODSEQ and the like. */
export type Fact =
  | { readonly kind: 'fixed'; readonly key: string; readonly text: string }
  | { readonly kind: 'section'; readonly key: string; readonly origin: number | null; readonly bytes: Buffer | null };

const months = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** "2-Nov-2026 10:00:00 +0100" → the instant in ISO form; the input unchanged when unreadable. */
export function internalDateInstant(text: string): string {
  const match = /^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(text);
  const month = months.indexOf(match?.[2]?.toUpperCase() ?? '');
  if (!match || month < 0) return text;
  const [, day, , year, hour, minute, second, sign, zoneHours, zoneMinutes] = match;
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(zoneHours) * 60 + Number(zoneMinutes));
  const utc = Date.UTC(Number(year), month, Number(day), Number(hour), Number(minute), Number(second)) - offsetMinutes * 60_000;
  return new Date(utc).toISOString();
}

/** Sorts the field list of HEADER.FIELDS(.NOT) so two spellings of one section compare equal. */
export function normaliseSection(section: string): string {
  return section.toUpperCase().replace(/\(([^)]*)\)/, (_, fields: string) => `(${fields.split(/\s+/).filter(Boolean).sort().join(' ')})`);
}

function textOf(value: ImapValue): string {
  return value.kind === 'string' ? value.bytes.toString('latin1') : canonicalValue(value);
}

export function factOf(item: FetchItem): Fact | null {
  const bytes = item.value.kind === 'string' ? item.value.bytes : item.value.kind === 'nil' ? null : Buffer.from(canonicalValue(item.value));
  switch (item.name) {
    case 'INTERNALDATE':
      return { kind: 'fixed', key: item.name, text: internalDateInstant(textOf(item.value)) };
    case 'RFC822.SIZE':
    case 'ENVELOPE':
    case 'BODYSTRUCTURE':
    case 'BODY':
      return { kind: 'fixed', key: item.name, text: canonicalValue(item.value) };
    case 'RFC822':
      return { kind: 'section', key: 'BODY[]', origin: null, bytes };
    case 'RFC822.HEADER':
      return { kind: 'section', key: 'BODY[HEADER]', origin: null, bytes };
    case 'RFC822.TEXT':
      return { kind: 'section', key: 'BODY[TEXT]', origin: null, bytes };
  }
  if (item.section === null) return null;
  const family = item.name.slice(0, item.name.indexOf('['));
  if (family === 'BINARY.SIZE') return { kind: 'fixed', key: `BINARY.SIZE[${item.section}]`, text: canonicalValue(item.value) };
  if (family !== 'BODY' && family !== 'BINARY') return null;
  return { kind: 'section', key: `${family}[${normaliseSection(item.section)}]`, origin: item.origin, bytes };
}

/** Checks a piece against what is known of its section; returns a description of the contradiction. */
function comparePiece(known: SectionFacts, origin: number, bytes: Buffer): string | null {
  if (known.full !== undefined) {
    const full = known.full ?? Buffer.alloc(0);
    const expected = full.subarray(origin, origin + bytes.length);
    if (!expected.equals(bytes)) return `partial <${origin}> ${preview(bytes)} is not bytes ${origin}.. of the section ${preview(full)}`;
  }
  for (const piece of known.pieces) {
    const start = Math.max(origin, piece.origin);
    const end = Math.min(origin + bytes.length, piece.origin + piece.bytes.length);
    if (start >= end) continue;
    const mine = bytes.subarray(start - origin, end - origin);
    const theirs = piece.bytes.subarray(start - piece.origin, end - piece.origin);
    if (!mine.equals(theirs)) return `partial <${origin}> ${preview(bytes)} disagrees with earlier partial <${piece.origin}> ${preview(piece.bytes)}`;
  }
  return null;
}

export function preview(bytes: Buffer | null | string, limit = 80): string {
  if (bytes === null) return 'NIL';
  const text = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  return JSON.stringify(text.length > limit ? `${text.slice(0, limit)}…` : text) + (typeof bytes === 'string' ? '' : ` (${bytes.length} bytes)`);
}

/** Immutable message data per (scope, UID); `scope` names user, mailbox and UIDVALIDITY. */
export class MessageHistory {
  private readonly messages = new Map<string, MessageFacts>();

  /** Records a fact; returns a description of the contradiction with earlier ones, if any. */
  record(scope: string, uid: number, fact: Fact): string | null {
    const id = `${scope}\u0000${uid}`;
    let facts = this.messages.get(id);
    if (!facts) {
      facts = { fixed: new Map(), sections: new Map() };
      this.messages.set(id, facts);
    }
    if (fact.kind === 'fixed') {
      const before = facts.fixed.get(fact.key);
      if (before !== undefined && before !== fact.text) return `${fact.key} was ${preview(before)}, now ${preview(fact.text)}`;
      facts.fixed.set(fact.key, fact.text);
      return this.sizeAgreesWithBody(facts);
    }
    let section = facts.sections.get(fact.key);
    if (!section) {
      section = { pieces: [] };
      facts.sections.set(fact.key, section);
    }
    if (fact.origin !== null) {
      const problem = comparePiece(section, fact.origin, fact.bytes ?? Buffer.alloc(0));
      if (problem) return `${fact.key}: ${problem}`;
      section.pieces.push({ origin: fact.origin, bytes: fact.bytes ?? Buffer.alloc(0) });
      return null;
    }
    if (section.full !== undefined) {
      const same = section.full === null || fact.bytes === null ? section.full === fact.bytes : section.full.equals(fact.bytes);
      if (!same) return `${fact.key} was ${preview(section.full)}, now ${preview(fact.bytes)}`;
      return null;
    }
    for (const piece of section.pieces) {
      const problem = comparePiece({ full: fact.bytes, pieces: [] }, piece.origin, piece.bytes);
      if (problem) return `${fact.key}: ${problem}`;
    }
    section.full = fact.bytes;
    return this.sizeAgreesWithBody(facts);
  }

  private sizeAgreesWithBody(facts: MessageFacts): string | null {
    const size = facts.fixed.get('RFC822.SIZE');
    const body = facts.sections.get('BODY[]')?.full;
    if (size === undefined || body === undefined || body === null) return null;
    return Number(size) === body.length ? null : `RFC822.SIZE ${size} but BODY[] has ${body.length} bytes`;
  }
}
