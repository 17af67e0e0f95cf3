/**
 * A campaign that started and ended while a session sent nothing — or whose message another
 * session expunged meanwhile: on the oracle, a message APPENDed and expunged between two of that
 * session's syncs. When the session's next command
 * syncs without expunges (FETCH, STORE, SEARCH), Dovecot counts that message in its EXISTS and
 * sends its EXPUNGE later; at a sync that may expunge it says nothing of it. The proxy never
 * shows a message already withdrawn. Both are legal (RFC 3501 lets a server hold an EXPUNGE
 * back; nothing obliges it to announce a message that is gone), and no subject could follow
 * Dovecot's first answer without serving a message it no longer has (seeds 41017, 42017, 42022,
 * 21004). So before such a command the harness has the session sync first, with a NOOP on both
 * sides; the NOOP's answers are compared like any other. It draws no randomness, so a seed's
 * commands stay the same.
 */
import type { HarnessCommand } from './commands.ts';

/** FETCH, STORE and SEARCH, also in their UID forms: Dovecot syncs some of those without expunges
 *  too (UID SEARCH naming a set), and a NOOP first costs nothing in the others. */
function syncsWithoutExpunges(command: HarnessCommand): boolean {
  return command.kind === 'fetch' || command.kind === 'store' || command.kind === 'search';
}

/**
 * Whether Dovecot synced the session at the end of `command`: after every command that completed
 * OK but STATUS, which reports nothing of the selected mailbox (seed 47016).
 */
export function syncs(command: HarnessCommand, ok: boolean): boolean {
  return ok && command.kind !== 'status';
}

/** Which sessions have not synced since a campaign both started and ended. */
export class CampaignsCameAndWent {
  /** Per session, the campaigns that started since its last sync. */
  private readonly startedSince = new Map<string, Set<string>>();
  private readonly stale = new Set<string>();

  started(campaignId: string, sessions: readonly string[]): void {
    for (const session of sessions) {
      const started = this.startedSince.get(session) ?? new Set<string>();
      started.add(campaignId);
      this.startedSince.set(session, started);
    }
  }

  ended(campaignId: string, sessions: readonly string[]): void {
    for (const session of sessions) if (this.startedSince.get(session)?.has(campaignId)) this.stale.add(session);
  }

  /**
   * Another session expunged messages: one may have been a campaign message that started since
   * (seed 50025) — gone as if its campaign had ended, for every session that has not seen it.
   */
  expungedBy(actor: string, sessions: readonly string[]): void {
    for (const session of sessions) if (session !== actor && (this.startedSince.get(session)?.size ?? 0) > 0) this.stale.add(session);
  }

  /** A command of `session` completed; `ok`: its answer was OK (Dovecot then synced, unless it was STATUS). */
  completed(session: string, command: HarnessCommand, ok: boolean): void {
    if (!syncs(command, ok)) return;
    this.startedSince.delete(session);
    this.stale.delete(session);
  }

  /** Whether `command` in `session` must wait for a NOOP first. */
  needsSyncBefore(session: string, command: HarnessCommand): boolean {
    return this.stale.has(session) && syncsWithoutExpunges(command);
  }
}
