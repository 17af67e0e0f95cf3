/**
 * Makes two targets' answers comparable "up to a renaming of UIDs": the UidRenaming pairs
 * each oracle UID with the subject UID of the same message (learnt from seq→UID maps of the
 * same session on both sides, and from APPENDUID), and normaliseResponse turns a parsed
 * response into one line in which UIDs are spelled as oracle UIDs ("u17"; "u?81 (subject)"
 * when no pairing is known, which then shows up as a difference).
 *
 * Also erased, because they may legitimately differ: UIDVALIDITY and UIDNEXT values (their
 * monotonic behaviour is the invariant checker's job), human-readable response text, untagged
 * OK without a code (keep-alives), the order of FETCH items, of flags and of SEARCH hits, the
 * order of FETCH and EXPUNGE responses between two other responses, as long as they say the
 * same (canonicalChangeRuns), and quoted-versus-literal string forms. \Recent and RECENT only when asked (see dropRecent).
 */
import { canonicalValue, type ImapResponse, type ResponseCode } from '../imap-invariants-wire.ts';
import { internalDateInstant, normaliseSection } from '../imap-invariants-facts.ts';

export class UidRenaming {
  private readonly subjectOfOracle = new Map<number, number>();
  private readonly oracleOfSubject = new Map<number, number>();

  /** Records that two UIDs name the same message; returns why not, when it contradicts earlier pairs. */
  pair(oracle: number, subject: number): string | null {
    const knownSubject = this.subjectOfOracle.get(oracle);
    const knownOracle = this.oracleOfSubject.get(subject);
    if (knownSubject === subject) return null;
    if (knownSubject !== undefined) return `oracle UID ${oracle} was paired with subject UID ${knownSubject}, now with ${subject}`;
    if (knownOracle !== undefined) return `subject UID ${subject} was paired with oracle UID ${knownOracle}, now with ${oracle}`;
    // Both sides number messages in the same order, so the renaming must be monotonic.
    for (const [otherOracle, otherSubject] of this.subjectOfOracle) {
      if (Math.sign(otherOracle - oracle) !== Math.sign(otherSubject - subject)) {
        return `pairing oracle UID ${oracle} with subject UID ${subject} breaks the order of ${otherOracle}↔${otherSubject}`;
      }
    }
    this.subjectOfOracle.set(oracle, subject);
    this.oracleOfSubject.set(subject, oracle);
    return null;
  }

  subjectOf(oracle: number): number | undefined {
    return this.subjectOfOracle.get(oracle);
  }

  oracleOf(subject: number): number | undefined {
    return this.oracleOfSubject.get(subject);
  }

  oracleUids(): number[] {
    return [...this.subjectOfOracle.keys()].sort((a, b) => a - b);
  }

  highest(side: Side): number {
    return Math.max(0, ...(side === 'oracle' ? this.subjectOfOracle.keys() : this.oracleOfSubject.keys()));
  }
}

export type Side = 'oracle' | 'subject';

export interface NormaliseOptions {
  /**
   * Drop RECENT responses and the \Recent flag. Which session gets \Recent depends on which
   * connection to the real server first noticed a message — admin sessions of an oracle, a
   * proxy's own connections — which a subject cannot be expected to mirror.
   */
  readonly dropRecent: boolean;
  /**
   * Drop untagged status responses whose code belongs to an extension the proxy hides
   * (ORACLE_ONLY_CODES); set for the oracle's answers only, so the subject sending one is still
   * a difference.
   */
  readonly dropHiddenCodes?: boolean;
  /**
   * Compare BODY and BODYSTRUCTURE without regard to case. Cyrus upper-cases MIME types,
   * subtypes, encodings and parameter names ("TEXT" "PLAIN" ("CHARSET" …)) where Dovecot, and the
   * proxy's virtual messages after it, keep the header's spelling; RFC 2045 makes all of them
   * case-insensitive, so an oracle on Cyrus differs from the proxy there and nowhere else.
   */
  readonly foldBodyStructureCase?: boolean;
  /**
   * Let EXISTS join a run of FETCH and EXPUNGE responses, going after them. Cyrus reports a
   * command's changes as expunges, then EXISTS, then flag updates (index_tellchanges); Dovecot,
   * and the proxy after it, as flag updates, expunges, then EXISTS. Both say the same; a message
   * named before the EXISTS that counts it is the invariant checker's business, not this one's.
   */
  readonly existsInChangeRuns?: boolean;
}

/**
 * Codes a server sends unasked that belong to extensions the proxy does not advertise: Cyrus 3.6
 * gives [HIGHESTMODSEQ] (CONDSTORE), [MAILBOXID] (OBJECTID), [URLMECH] (URLAUTH) and
 * [ANNOTATIONS] (ANNOTATE-EXPERIMENT-1) at every SELECT and EXAMINE, and [NOMODSEQ] where
 * CONDSTORE is off. The proxy keeps them from clients in INBOX (proxy/README.md, "Extensions: an
 * allowlist"); a client that was told the extension is absent has no use for them.
 */
const ORACLE_ONLY_CODES = new Set(['HIGHESTMODSEQ', 'NOMODSEQ', 'MAILBOXID', 'URLMECH', 'ANNOTATIONS']);

/** Spells a UID of `side` as the oracle UID of the same message. */
export function uidSpeller(renaming: UidRenaming, side: Side): (uid: number) => string {
  return (uid) => {
    const oracle = side === 'oracle' ? (renaming.subjectOf(uid) === undefined ? undefined : uid) : renaming.oracleOf(uid);
    return oracle === undefined ? `u?${uid} (${side}, unpaired)` : `u${oracle}`;
  };
}

function uidSet(set: string, spell: (uid: number) => string): string {
  const uids = set.split(',').flatMap((part) => {
    const [from, to = from] = part.split(':').map(Number) as [number, number?];
    return Array.from({ length: Math.min(Math.abs(to - from) + 1, 1000) }, (_, i) => Math.min(from, to) + i);
  });
  return uids.map(spell).join(',');
}

function sortedList(text: string): string {
  return `(${text.replace(/^\(|\)$/g, '').split(/\s+/).filter(Boolean).sort().join(' ')})`;
}

function code(value: ResponseCode | null, spell: (uid: number) => string): string {
  if (!value) return '';
  const args = value.args.split(' ');
  switch (value.name) {
    case 'UIDNEXT':
    case 'UIDVALIDITY':
    case 'HIGHESTMODSEQ':
      return ` [${value.name} …]`;
    case 'APPENDUID':
      return ` [APPENDUID … ${uidSet(args[1] ?? '', spell)}]`;
    case 'COPYUID':
      return ` [COPYUID … ${uidSet(args[1] ?? '', spell)} ${uidSet(args[2] ?? '', spell)}]`;
    case 'PERMANENTFLAGS':
      return ` [PERMANENTFLAGS ${sortedList(value.args)}]`;
    case 'CAPABILITY':
      return ` [CAPABILITY ${args.sort().join(' ')}]`;
    default:
      return value.args === '' ? ` [${value.name}]` : ` [${value.name} ${value.args}]`;
  }
}

function flagList(flags: readonly string[], options: NormaliseOptions): string {
  return `(${flags.filter((flag) => !(options.dropRecent && flag.toUpperCase() === '\\RECENT')).sort().join(' ')})`;
}

/**
 * One response as a comparable line, or null when it carries nothing to compare. `uidSearch`
 * says whether a SEARCH response answers UID SEARCH (its numbers are then UIDs).
 */
export function normaliseResponse(
  response: ImapResponse, spell: (uid: number) => string, uidSearch: boolean, options: NormaliseOptions,
): string | null {
  switch (response.kind) {
    case 'continuation':
      return null;
    case 'tagged':
      // Cyrus also puts [HIGHESTMODSEQ] on the completion of EXPUNGE and STORE.
      if (options.dropHiddenCodes && response.code !== null && ORACLE_ONLY_CODES.has(response.code.name)) return `TAGGED ${response.status}`;
      return `TAGGED ${response.status}${code(response.code, spell)}`;
    case 'status':
      if (response.status === 'OK' && response.code === null) return null;
      if (options.dropHiddenCodes && response.code !== null && ORACLE_ONLY_CODES.has(response.code.name)) return null;
      return `* ${response.status}${code(response.code, spell)}`;
    case 'exists':
    case 'expunge':
      return `* ${response.number} ${response.kind.toUpperCase()}`;
    case 'recent':
      return options.dropRecent ? null : `* ${response.number} RECENT`;
    case 'flags':
      return `* FLAGS ${flagList(response.flags, options)}`;
    case 'search': {
      const hits = uidSearch ? [...response.numbers].sort((a, b) => a - b).map(spell) : [...response.numbers].sort((a, b) => a - b).map(String);
      return `* SEARCH ${hits.join(' ')}`.trimEnd();
    }
    case 'mailbox-status': {
      const attributes = [...response.attributes].map(([key, value]) => (key === 'UIDNEXT' || key === 'UIDVALIDITY' ? `${key} …` : `${key} ${value}`));
      return `* STATUS ${response.mailbox} (${attributes.sort().join(' ')})`;
    }
    case 'fetch': {
      const items = response.items.map((item) => {
        const name = item.section === null ? item.name : item.name.replace(/\[.*\]/, `[${normaliseSection(item.section)}]`);
        const value = item.value;
        if (item.name === 'UID' && value.kind === 'number') return `UID ${spell(value.value)}`;
        if (item.name === 'FLAGS' && value.kind === 'list') return `FLAGS ${flagList(value.items.map(canonicalValue), options)}`;
        if (item.name === 'INTERNALDATE' && value.kind === 'string') return `INTERNALDATE ${internalDateInstant(value.bytes.toString('latin1'))}`;
        if (options.foldBodyStructureCase && (item.name === 'BODY' || item.name === 'BODYSTRUCTURE')) return `${name} ${canonicalValue(value).toUpperCase()}`;
        // A body part the message does not have: Cyrus says NIL, Dovecot and the proxy "" (RFC
        // 3501 says neither); compared as "" behind Cyrus.
        if (options.foldBodyStructureCase && item.section !== null && value.kind === 'nil') return `${name} ""`;
        return `${name} ${canonicalValue(value)}`;
      });
      return `* ${response.seq} FETCH (${items.sort().join(' ')})`;
    }
    case 'other':
      return `* ${response.name} ${response.values.map(canonicalValue).join(' ')}`.trimEnd();
  }
}

/** Normalises a command's responses in order, dropping those with nothing to compare. */
export function normaliseResponses(
  responses: readonly ImapResponse[], spell: (uid: number) => string, uidSearch: boolean, options: NormaliseOptions,
): string[] {
  const lines = responses.flatMap((response) => {
    const line = normaliseResponse(response, spell, uidSearch, options);
    return line === null ? [] : [line];
  });
  const canonical = canonicalChangeRuns(lines, options.existsInChangeRuns ?? false);
  return options.existsInChangeRuns ? sortedSelectData(canonical) : canonical;
}

/**
 * A run of SELECT's untagged data (EXISTS, FLAGS, PERMANENTFLAGS, UNSEEN, UIDVALIDITY, UIDNEXT)
 * in one order: RFC 3501 fixes none; Cyrus sends FLAGS before EXISTS and UNSEEN after
 * PERMANENTFLAGS, the proxy EXISTS first and UNSEEN before FLAGS.
 */
function sortedSelectData(lines: readonly string[]): string[] {
  const result: string[] = [];
  let run: string[] = [];
  for (const line of [...lines, '']) {
    if (SELECT_DATA.test(line)) {
      run.push(line);
      continue;
    }
    result.push(...run.sort());
    run = [];
    if (line !== '') result.push(line);
  }
  return result;
}

const FETCH_SEQ = /^\* (\d+) FETCH /;
const EXPUNGE_SEQ = /^\* (\d+) EXPUNGE$/;
const EXISTS_LINE = /^\* \d+ EXISTS$/;
const KEYWORD_ANNOUNCEMENT = /^\* (FLAGS |OK \[PERMANENTFLAGS )/;
const SELECT_DATA = /^\* (FLAGS |\d+ EXISTS$|OK \[(PERMANENTFLAGS|UNSEEN|UIDVALIDITY|UIDNEXT)\b)/;

/**
 * Rewrites each run of consecutive FETCH and EXPUNGE responses into one canonical form carrying
 * the same information: every FETCH renumbered to the message's number at the start of the run
 * and the FETCHes ordered by it (those of one message keep their order: a later FLAGS overrides),
 * then the EXPUNGEs, highest first (as Dovecot sends them). RFC 3501 orders FETCH responses of
 * different messages in no way, and "* 8 EXPUNGE, * 3 EXPUNGE, * 6 EXPUNGE" removes the same
 * messages as "* 9, * 8, * 3": a client applying either ends with the same mailbox, each number
 * being right at the moment it is read. The proxy reports its own changes at other points than
 * a server would. EXISTS and everything else still delimit runs.
 */
function canonicalChangeRuns(lines: readonly string[], existsInRuns = false): string[] {
  const result: string[] = [];
  let exists: string[] = [];
  let fetches: { seq: number; line: string }[] = [];
  let removed: number[] = []; // numbers at the start of the run, ascending
  const original = (seq: number): number => {
    let position = seq;
    for (const gone of removed) if (gone <= position) position++;
    return position;
  };
  const flush = (keepExists = false): void => {
    result.push(...fetches.sort((a, b) => a.seq - b.seq).map((entry) => entry.line));
    result.push(...[...removed].reverse().map((seq) => `* ${seq} EXPUNGE`));
    fetches = [];
    removed = [];
    if (keepExists) return;
    result.push(...exists);
    exists = [];
  };
  for (const line of lines) {
    const fetch = FETCH_SEQ.exec(line);
    const expunge = fetch ? null : EXPUNGE_SEQ.exec(line);
    if (fetch) {
      const seq = original(Number(fetch[1]));
      fetches.push({ seq, line: line.replace(FETCH_SEQ, `* ${seq} FETCH `) });
    } else if (expunge) {
      removed.push(original(Number(expunge[1])));
      removed.sort((a, b) => a - b);
      // "EXISTS n, EXPUNGE k" says what "EXPUNGE k, EXISTS n-1" says: a waiting EXISTS counts it.
      exists = exists.map((counted) => `* ${Number(/\d+/.exec(counted)![0]) - 1} EXISTS`);
    } else if (existsInRuns && EXISTS_LINE.test(line)) {
      exists.push(line);
    } else if (existsInRuns && exists.length > 0 && KEYWORD_ANNOUNCEMENT.test(line)) {
      // Cyrus announces new keywords after its EXISTS, Dovecot and the proxy before: the EXISTS
      // waits past them too.
      flush(true);
      result.push(line);
    } else {
      flush();
      result.push(line);
    }
  }
  flush();
  return result;
}

