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
 * order of FETCH responses of different messages between two other responses (sortFetchRuns),
 * the order of consecutive EXPUNGE responses (canonicalExpungeRuns), and quoted-versus-literal
 * string forms. \Recent and RECENT only when asked (see dropRecent).
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
}

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
      return `TAGGED ${response.status}${code(response.code, spell)}`;
    case 'status':
      if (response.status === 'OK' && response.code === null) return null;
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
  return canonicalExpungeRuns(sortFetchRuns(lines));
}

const EXPUNGE_SEQ = /^\* (\d+) EXPUNGE$/;

/**
 * Rewrites each run of consecutive EXPUNGE responses into the same removals, highest first (as
 * Dovecot sends them). "* 8 EXPUNGE, * 3 EXPUNGE, * 6 EXPUNGE" and "* 9, * 8, * 3" remove the
 * same messages: a client applying either ends with the same mailbox, each number being right at
 * the moment it is read. The proxy announces its own removals after the server's.
 */
function canonicalExpungeRuns(lines: readonly string[]): string[] {
  const result: string[] = [];
  let removed: number[] = []; // positions before the run, ascending
  const flush = (): void => {
    result.push(...[...removed].reverse().map((seq) => `* ${seq} EXPUNGE`));
    removed = [];
  };
  for (const line of lines) {
    const match = EXPUNGE_SEQ.exec(line);
    if (!match) {
      flush();
      result.push(line);
      continue;
    }
    // The message now numbered n: the n-th position, counting only those not removed yet.
    let position = Number(match[1]);
    for (const gone of removed) if (gone <= position) position++;
    removed.push(position);
    removed.sort((a, b) => a - b);
  }
  flush();
  return result;
}

const FETCH_SEQ = /^\* (\d+) FETCH /;

/**
 * Within each run of consecutive FETCH responses, orders them by sequence number, keeping the
 * order of those for the same message (a later FLAGS overrides an earlier one). RFC 3501 orders
 * FETCH responses of different messages in no way — unsolicited flag updates may come before,
 * among or after the data a command asked for — and the proxy adds its virtual messages' data
 * and flag updates at other points than a server would. EXISTS and EXPUNGE still delimit runs:
 * sequence numbers mean something else on either side of them.
 */
function sortFetchRuns(lines: readonly string[]): string[] {
  const sorted: string[] = [];
  let run: { seq: number; line: string }[] = [];
  const flush = (): void => {
    sorted.push(...run.sort((a, b) => a.seq - b.seq).map((entry) => entry.line));
    run = [];
  };
  for (const line of lines) {
    const match = FETCH_SEQ.exec(line);
    if (match) {
      run.push({ seq: Number(match[1]), line });
      continue;
    }
    flush();
    sorted.push(line);
  }
  flush();
  return sorted;
}
