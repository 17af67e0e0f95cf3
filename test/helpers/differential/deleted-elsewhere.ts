/**
 * An EXPUNGE in a session that has not yet been told of another session's change to \Deleted:
 * Dovecot judges which messages to remove by the flags its session last synced, so it may leave a
 * message another session has just marked (reporting its new flags instead) or remove one whose
 * mark was just taken away; the proxy removes the messages that have the flag now (RFC 3501, and
 * proxy/README.md "Where IMAP leaves a choice"). Both are legal and no subject could match
 * Dovecot's choice (seed 20091), so before such an EXPUNGE the harness has the session sync
 * first, with a NOOP on both sides; every other EXPUNGE goes out as generated.
 *
 * A session counts as synced once a command of its own other than STATUS has completed OK:
 * Dovecot ends those with a sync that brings other sessions' flag changes into its view. This decides only
 * whether to sync; it draws no randomness, so a seed's commands stay the same.
 */
import type { HarnessCommand } from './commands.ts';
import { syncs } from './came-and-went.ts';

/** A STORE that may change \Deleted: one naming it, or one replacing the whole flag list. */
export function touchesDeleted(command: HarnessCommand): boolean {
  if (command.kind !== 'store') return false;
  const replaces = /^FLAGS\b/i.test(command.action);
  return replaces || /\\Deleted\b/i.test(command.flags);
}

/** Commands that remove the messages marked \Deleted (the harness sends no CLOSE). */
function expunges(command: HarnessCommand): boolean {
  return command.kind === 'expunge' || command.kind === 'uid-expunge';
}

/** Which sessions have not synced since another session's STORE touched \Deleted. */
export class UnsyncedDeletions {
  private readonly stale = new Set<string>();

  /**
   * A command completed in session `session` (`ok`: its answer was OK; a reconnected session's
   * SELECT counts). `others` are the sessions that can expunge (the read-only observer need not
   * be listed).
   */
  completed(session: string, command: HarnessCommand, ok: boolean, others: readonly string[]): void {
    if (!ok) return;
    if (syncs(command, ok)) this.stale.delete(session);
    if (!touchesDeleted(command)) return;
    for (const other of others) if (other !== session) this.stale.add(other);
  }

  /** Whether `command` in `session` must wait for a NOOP first. */
  needsSyncBefore(session: string, command: HarnessCommand): boolean {
    return expunges(command) && this.stale.has(session);
  }
}
