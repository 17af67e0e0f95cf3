/**
 * Messages that left the oracle's INBOX elsewhere — a campaign ended, another session expunged
 * them — while a session still has them, its EXPUNGE not sent yet. Until then RFC 2180 §4.1–4.2
 * lets a server answer for such a message in more than one way: its data as before, or empty data
 * and EXPUNGEISSUED (RFC 5530); a STORE on it applied and reported, or ignored; a SEARCH hit or
 * not. Dovecot's own answer depends on what its cache still holds (the full data in one run, NIL
 * in the next, at the same step), so no subject could match it. The comparison therefore leaves
 * out, on both sides and only for those messages, their FETCH responses, their SEARCH hits and
 * the EXPUNGEISSUED code; when the EXPUNGE comes, and everything about every other message, is
 * compared as before.
 *
 * To know which sequence numbers those are, OracleMailbox follows each oracle session's view
 * UID by UID from the INBOX's history (complete listings, APPENDUIDs, EXPUNGEs). Where its
 * account cannot be checked or stops adding up, it knows nothing for that session, and the
 * comparison is strict.
 */
import type { ImapResponse } from '../imap-invariants-wire.ts';
import type { HarnessCommand, SearchKey } from './commands.ts';

export class OracleMailbox {
  /** Every UID that has been in the INBOX. */
  private readonly known = new Set<number>();
  /** Those that are not any more. */
  private readonly gone = new Set<number>();
  /** Each session's messages in sequence order; null when unknown. */
  private readonly views = new WeakMap<object, number[] | null>();

  /** A complete listing of the INBOX now (an observer's UID FETCH 1:* after a sync). */
  listed(uids: readonly number[]): void {
    const present = new Set(uids);
    for (const uid of uids) this.known.add(uid);
    for (const uid of this.known) if (!present.has(uid)) this.gone.add(uid);
  }

  isGone(uid: number): boolean {
    return this.gone.has(uid);
  }

  /** The session's messages' UIDs in sequence order; null when unknown. */
  uidsIn(session: object): readonly number[] | null {
    return this.views.get(session) ?? null;
  }

  /** Which of the session's messages, by sequence number - 1, have left the INBOX; null when unknown. */
  goneIn(session: object): boolean[] | null {
    return this.views.get(session)?.map((uid) => this.gone.has(uid)) ?? null;
  }

  /**
   * Follows a session through one command's responses. `selected`: the command (re)selected the
   * INBOX, so its view starts from the INBOX as it is. `checked`: the UIDs the session's invariant
   * checker knows afterwards (null where it does not), which must agree.
   */
  follow(session: object, responses: readonly ImapResponse[], selected: boolean, checked: readonly (number | null)[] | undefined): void {
    for (const response of responses) {
      if (response.kind === 'tagged' && response.code?.name.toUpperCase() === 'APPENDUID') this.known.add(Number(response.code.args.split(' ')[1]));
    }
    let view = selected ? [] : this.views.get(session) ?? null;
    for (const response of responses) {
      if (view === null) break;
      if (response.kind === 'exists') view = this.grown(view, response.number, selected);
      else if (response.kind === 'expunge') {
        const [uid] = view.splice(response.number - 1, 1);
        if (uid === undefined) view = null;
        else this.gone.add(uid);
      }
    }
    if (view !== null && checked !== undefined && (checked.length !== view.length || checked.some((uid, index) => uid !== null && uid !== view![index]))) view = null;
    this.views.set(session, view);
  }

  /**
   * The view after EXISTS `count`: the INBOX's next messages by UID, or null if they do not add
   * up (at a SELECT, the whole INBOX must be counted). A sync that may not expunge (during FETCH,
   * STORE, SEARCH) counts the messages that came and went since the last one too (seed 20072:
   * new mail another session expunged at once): when only that adds up, those are in the view.
   */
  private grown(view: number[], count: number, selected: boolean): number[] | null {
    if (count < view.length) return null;
    const last = view.at(-1) ?? 0;
    const after = [...this.known].filter((uid) => uid > last).sort((a, b) => a - b);
    const present = after.filter((uid) => !this.gone.has(uid));
    const wanted = count - view.length;
    if (!selected && present.length !== wanted && after.length === wanted && after.length > present.length) return [...view, ...after];
    if (present.length < wanted || (selected && present.length !== wanted)) return null;
    return [...view, ...present.slice(0, wanted)];
  }
}

/**
 * One command's responses without what they say of messages gone elsewhere: `goneAt[seq - 1]`
 * tells whether message seq is one when the command starts; `isGoneUid` the same of a UID in a
 * UID SEARCH answer. Numbers follow the EXISTS and EXPUNGE responses on the way.
 */
export function withoutExpungedElsewhere(
  responses: readonly ImapResponse[], goneAt: readonly boolean[] | null, isGoneUid: (uid: number) => boolean, uidSearch: boolean,
): readonly ImapResponse[] {
  if (goneAt === null || !goneAt.includes(true)) return responses;
  const at = [...goneAt];
  const kept: ImapResponse[] = [];
  for (const response of responses) {
    switch (response.kind) {
      case 'exists':
        while (at.length < response.number) at.push(false);
        kept.push(response);
        break;
      case 'expunge':
        at.splice(response.number - 1, 1);
        kept.push(response);
        break;
      case 'fetch':
        if (at[response.seq - 1] !== true) kept.push(response);
        break;
      case 'search':
        kept.push({ ...response, numbers: response.numbers.filter((number) => !(uidSearch ? isGoneUid(number) : at[number - 1] === true)) });
        break;
      case 'tagged':
        kept.push(response.code?.name.toUpperCase() === 'EXPUNGEISSUED' ? { ...response, code: null } : response);
        break;
      default:
        kept.push(response);
    }
  }
  return kept;
}

/**
 * A UID SEARCH whose criteria name a set, in a session that still has messages gone elsewhere:
 * whether its answer reports their EXPUNGE depends on Dovecot's rewrite of the criteria against
 * its session's messages (a set naming none of them, or all, is dropped, and only a set left over
 * holds expunges back), which the proxy cannot see (proxy/README.md, "Where IMAP leaves a
 * choice"; seeds 41038, 40036). Both are legal, so the harness has the session sync first (a
 * NOOP on both sides) and the search then has no expunge to hold back or report.
 */
export function uidSearchNamingSetWhileGone(command: HarnessCommand, goneAt: readonly boolean[] | null): boolean {
  return command.kind === 'search' && command.uid && command.keys.some(namesSet) && goneAt !== null && goneAt.includes(true);
}

function namesSet(key: SearchKey): boolean {
  switch (key.kind) {
    case 'set':
      return true;
    case 'not':
      return namesSet(key.key);
    case 'or':
      return namesSet(key.left) || namesSet(key.right);
    case 'group':
      return key.keys.some(namesSet);
    default:
      return false;
  }
}
