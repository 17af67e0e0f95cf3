/**
 * Search criteria back to IMAP text for the upstream server, after the proxy rewrote their
 * sequence sets and UID sets into the server's numbering (mapSearchSets). A set that names no
 * real message becomes `NOT 1:*`: a key that matches nothing and stays correct under NOT and OR,
 * and still names a set that is not empty. A server may sync differently when the criteria name
 * one: Dovecot reports no expunge after such a UID SEARCH, but drops an empty set (UID
 * 4294967295) or NOT ALL before deciding, and would then report the expunge the client's own
 * criteria hold back.
 *
 * It must never write a string the server could read differently: strings go quoted only when
 * every byte is printable ASCII, otherwise as a non-synchronising literal ({n+}, LITERAL+, which
 * Dovecot and every server the proxy supports offers).
 */
import { parseSequenceSet, type SearchKey, type SearchProgram, type SequenceSet, type SystemFlag } from './search-parse.js';

/**
 * What a client set becomes on the server: a set in the same numbering (sequence numbers for a
 * sequence set, UIDs for a UID set), explicitly a UID set, or null when no real message is in it.
 */
export type MappedSet = string | { readonly uid: string } | null;

export interface SetMapper {
  /** A client sequence set (client numbering, `*` = the client's highest sequence number). */
  sequence(set: SequenceSet): MappedSet;
  /** A client UID set (`*` = the client's highest UID). */
  uid(set: SequenceSet): MappedSet;
}

const MATCHES_NOTHING: SearchKey = { kind: 'not', key: { kind: 'sequence', set: parseSequenceSet('1:*') } };

/** The program with every set replaced through the mapper; the rest is shared, not copied. */
export function mapSearchSets(program: SearchProgram, mapper: SetMapper): SearchProgram {
  return { charset: program.charset, keys: program.keys.map((key) => mapKey(key, mapper)) };
}

function mapKey(key: SearchKey, mapper: SetMapper): SearchKey {
  switch (key.kind) {
    case 'sequence':
    case 'uid': {
      const mapped = key.kind === 'sequence' ? mapper.sequence(key.set) : mapper.uid(key.set);
      if (mapped === null) return MATCHES_NOTHING;
      if (typeof mapped === 'string') return { kind: key.kind, set: parseSequenceSet(mapped) };
      return { kind: 'uid', set: parseSequenceSet(mapped.uid) };
    }
    case 'not':
      return { kind: 'not', key: mapKey(key.key, mapper) };
    case 'or':
      return { kind: 'or', left: mapKey(key.left, mapper), right: mapKey(key.right, mapper) };
    case 'and':
      return { kind: 'and', keys: key.keys.map((inner) => mapKey(inner, mapper)) };
    case 'all':
    case 'flag':
    case 'new':
    case 'keyword':
    case 'date':
    case 'size':
    case 'address':
    case 'subject':
    case 'header':
    case 'body':
    case 'text':
      return key;
  }
}

/** True when a key or any key inside it is a sequence set or UID set. */
export function hasSets(key: SearchKey): boolean {
  switch (key.kind) {
    case 'sequence':
    case 'uid':
      return true;
    case 'not':
      return hasSets(key.key);
    case 'or':
      return hasSets(key.left) || hasSets(key.right);
    case 'and':
      return key.keys.some(hasSets);
    default:
      return false;
  }
}

/** The criteria as command text (what follows "SEARCH "), without a final CRLF. */
export function formatSearch(program: SearchProgram): Buffer {
  const out = new Output();
  if (program.charset) out.text(`CHARSET ${program.charset} `);
  program.keys.forEach((key, index) => {
    if (index > 0) out.text(' ');
    writeKey(out, key);
  });
  return out.toBuffer();
}

class Output {
  private readonly pieces: Buffer[] = [];
  private pending = '';

  text(value: string): void {
    this.pending += value;
  }

  /** An astring: quoted when safe, else a LITERAL+ literal. */
  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length <= MAX_QUOTED && bytes.every((byte) => byte >= 0x20 && byte <= 0x7e)) {
      this.pending += `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
      return;
    }
    this.pending += `{${bytes.length}+}\r\n`;
    this.flush();
    this.pieces.push(bytes);
  }

  private flush(): void {
    if (this.pending) this.pieces.push(Buffer.from(this.pending, 'latin1'));
    this.pending = '';
  }

  toBuffer(): Buffer {
    this.flush();
    return Buffer.concat(this.pieces);
  }
}

// Long quoted strings are legal, but a literal costs nothing with LITERAL+ and keeps lines short.
const MAX_QUOTED = 1000;

const FLAG_NAMES: Readonly<Record<SystemFlag, readonly [string, string]>> = {
  '\\Answered': ['ANSWERED', 'UNANSWERED'],
  '\\Deleted': ['DELETED', 'UNDELETED'],
  '\\Draft': ['DRAFT', 'UNDRAFT'],
  '\\Flagged': ['FLAGGED', 'UNFLAGGED'],
  '\\Seen': ['SEEN', 'UNSEEN'],
  '\\Recent': ['RECENT', 'OLD'],
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3501 atom: printable ASCII but the atom-specials and "]". */
function isAtom(value: string): boolean {
  return /^[\x21-\x7e]+$/.test(value) && !/[(){%*"\\\]]/.test(value);
}

function writeKey(out: Output, key: SearchKey): void {
  switch (key.kind) {
    case 'all':
      return out.text('ALL');
    case 'flag':
      return out.text(FLAG_NAMES[key.flag][key.set ? 0 : 1]);
    case 'new':
      return out.text('NEW');
    case 'keyword':
      out.text(key.set ? 'KEYWORD ' : 'UNKEYWORD ');
      return isAtom(key.keyword) ? out.text(key.keyword) : out.string(key.keyword);
    case 'date': {
      const name = { before: 'BEFORE', on: 'ON', since: 'SINCE' }[key.relation];
      const { day, month, year } = key.date;
      return out.text(`${key.field === 'sent' ? 'SENT' : ''}${name} ${day}-${MONTHS[month - 1]}-${String(year).padStart(4, '0')}`);
    }
    case 'size':
      return out.text(`${key.relation === 'larger' ? 'LARGER' : 'SMALLER'} ${key.bytes}`);
    case 'address':
      out.text(`${key.field} `);
      return out.string(key.value);
    case 'subject':
      out.text('SUBJECT ');
      return out.string(key.value);
    case 'header':
      out.text('HEADER ');
      out.string(key.field);
      out.text(' ');
      return out.string(key.value);
    case 'body':
      out.text('BODY ');
      return out.string(key.value);
    case 'text':
      out.text('TEXT ');
      return out.string(key.value);
    case 'sequence':
      return out.text(key.set.text);
    case 'uid':
      return out.text(`UID ${key.set.text}`);
    case 'not':
      out.text('NOT ');
      return writeKey(out, key.key);
    case 'or':
      out.text('OR ');
      writeKey(out, key.left);
      out.text(' ');
      return writeKey(out, key.right);
    case 'and':
      out.text('(');
      key.keys.forEach((inner, index) => {
        if (index > 0) out.text(' ');
        writeKey(out, inner);
      });
      return out.text(')');
  }
}
