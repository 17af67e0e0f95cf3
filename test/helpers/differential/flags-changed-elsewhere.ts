/**
 * A SEARCH whose criteria test flags, run in a session that has not yet been told of a flag change
 * another session made: the server may judge such a message by its flags now or by those this
 * session last synced, and reports the change (FETCH FLAGS) in the same answer either way. RFC 3501
 * says neither; Dovecot does both, by what its session's index view holds at the time (seeds 9106
 * and 20001 by the flags last synced, 13115 by those now), so no subject could match it. The
 * comparison therefore leaves out, on both sides and only for those messages, their SEARCH hits:
 * the messages the oracle's answer itself reports with changed flags. Their updates, and every
 * other hit, are compared as before; a criterion without a flag in it leaves the answer whole.
 */
import type { ImapResponse } from '../imap-invariants-wire.ts';

/** Search keys whose result depends on a message's flags (RFC 3501 §6.4.4), quoted strings aside. */
const FLAG_KEY = /\b(?:UN)?(?:ANSWERED|DELETED|DRAFT|FLAGGED|SEEN|KEYWORD)\b|\b(?:NEW|OLD|RECENT)\b/i;

export function searchTestsFlags(commandLine: string): boolean {
  return FLAG_KEY.test(commandLine.replace(/"(?:[^"\\]|\\.)*"/g, '""'));
}

/**
 * The sequence numbers, as at the start of the command, of the messages a SEARCH answer reports
 * with a flag update (a SEARCH fetches nothing, so each FETCH FLAGS in it is news of a change).
 * Updates come before the sync's EXPUNGEs; one after an EXPUNGE is mapped back through it.
 */
export function flagsReportedIn(responses: readonly ImapResponse[]): Set<number> {
  const reported = new Set<number>();
  const removed: number[] = []; // numbers as at the start, ascending
  for (const response of responses) {
    if (response.kind === 'expunge') {
      let original = response.number;
      for (const gone of removed) if (gone <= original) original += 1;
      removed.push(original);
      removed.sort((a, b) => a - b);
    } else if (response.kind === 'fetch' && response.items.some((item) => item.name.toUpperCase() === 'FLAGS')) {
      let original = response.seq;
      for (const gone of removed) if (gone <= original) original += 1;
      reported.add(original);
    }
  }
  return reported;
}

/**
 * A SEARCH answer without its hits on the messages in `changed` (sequence numbers at the start of
 * the command); `isChangedUid` says the same of a UID in a UID SEARCH answer.
 */
export function withoutHitsOnFlagsChangedElsewhere(
  responses: readonly ImapResponse[], changed: ReadonlySet<number>, isChangedUid: (uid: number) => boolean, uidSearch: boolean,
): readonly ImapResponse[] {
  if (changed.size === 0) return responses;
  return responses.map((response) =>
    response.kind === 'search' ? { ...response, numbers: response.numbers.filter((number) => !(uidSearch ? isChangedUid(number) : changed.has(number))) } : response,
  );
}
