/**
 * The names of the IMAP invariants the checker enforces, what a violation report holds and
 * its text form, and the small readers of command arguments the rules need (who logged in,
 * which UIDs a set names). Plain data and pure functions; no state.
 */
import type { ParsedCommand } from './imap-invariants-wire.ts';

export type InvariantRule =
  /** UIDs strictly ascend with sequence numbers. */
  | 'uid-order'
  /** The UID at a sequence number moves only by EXPUNGE renumbering. */
  | 'uid-changed'
  /** A UID once expunged is never seen again under the same UIDVALIDITY. */
  | 'uid-reused'
  /** A UID never changes its message: INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, bytes (partials too). */
  | 'message-changed'
  /** UIDNEXT is above every UID seen and never decreases; a message present at SELECT is below its UIDNEXT. */
  | 'uidnext'
  /** A message appearing after SELECT announced UIDNEXT n has a UID ≥ n; so do APPENDUID/COPYUID UIDs. */
  | 'new-uid-below-uidnext'
  /** EXISTS never drops below the count the client can infer (only EXPUNGE removes messages). */
  | 'exists-shrank'
  /** No EXPUNGE while no command is in progress, or during FETCH, STORE or SEARCH (non-UID). */
  | 'expunge-forbidden'
  /** UID FETCH / UID STORE answer each message of their set with a FETCH carrying UID. */
  | 'fetch-without-uid'
  /** During UID FETCH / UID STORE, UID is the first item of a FETCH response. */
  | 'uid-not-first'
  /** Sequence numbers in FETCH, EXPUNGE and SEARCH stay within the mailbox. */
  | 'seq-out-of-range'
  /** A UID SEARCH hit names a message the client knows (checked when it knows every UID). */
  | 'search-unknown-uid'
  /** A FETCH that completes OK (without [EXPUNGEISSUED]) answered every message of its set. */
  | 'fetch-incomplete'
  /** Bytes that are no IMAP response, or a tagged response to no command. */
  | 'protocol';

export interface InvariantViolation {
  readonly rule: InvariantRule;
  readonly session: string;
  readonly message: string;
  /** The session's last lines ("C: " client, "S: " server) when it was found. */
  readonly context: readonly string[];
}

export function tagged(command: ParsedCommand): string {
  return `(tag ${command.tag})`;
}

export function atomOrString(value: ParsedCommand['args'][number] | undefined): string {
  if (value?.kind === 'string') return value.bytes.toString('utf8');
  return value?.kind === 'atom' ? value.text : '?';
}

export function saslPlainUser(initial: ParsedCommand['args'][number] | undefined): string {
  if (initial?.kind !== 'atom') return '?';
  const [authzid = '', authcid = ''] = Buffer.from(initial.text, 'base64').toString('utf8').split('\u0000');
  return authzid || authcid || '?';
}

export function uidsIn(set: string): number[] {
  return set.split(',').flatMap((part) => {
    const [from, to = from] = part.split(':').map(Number) as [number, number?];
    const low = Math.min(from, to);
    return Array.from({ length: Math.min(Math.abs(to - from) + 1, 10_000) }, (_, i) => low + i);
  });
}

export function formatViolations(violations: readonly InvariantViolation[]): string {
  return violations
    .map((violation) => `[${violation.rule}] ${violation.session}: ${violation.message}\n  last lines:\n${violation.context.map((line) => `    ${line}`).join('\n')}`)
    .join('\n\n');
}
