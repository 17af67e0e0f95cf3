/**
 * Behind a Cyrus oracle: Cyrus reports what changed since a session's last command at the
 * *start* of its next one (index_check before the work), and lets it count in that command — a
 * message delivered meanwhile is in its `1:*`, its STORE, its SEARCH. Dovecot reports at the
 * end, after the work, and the proxy follows Dovecot (it announces new mail and campaigns at a
 * command's end, once their place among the virtual messages is known). Both are legal (RFC 3501
 * §5.2 asks only that a change seen during a command be reported in it). So, behind Cyrus, a
 * session that the world or another session changed since its last command first sends a NOOP,
 * on both sides; the NOOP's answers are compared like any other. It draws no randomness, so a
 * seed's commands stay the same.
 */
import type { HarnessCommand } from './commands.ts';

/** Commands that report changes themselves. STATUS is not one: Cyrus reports the selected
 *  mailbox's changes with it, where Dovecot, and the proxy after it, report none. */
const REPORTS_ITSELF = new Set<HarnessCommand['kind']>(['noop', 'check', 'idle', 'select']);

export class ReportedAtStart {
  private readonly changed = new Set<string>();

  constructor(private readonly enabled: boolean) {}

  /** Something changed the INBOX for every session (new mail, a campaign starting or ending). */
  world(sessions: readonly string[]): void {
    for (const session of sessions) this.changed.add(session);
  }

  /** A command of `actor` completed: it may have changed the INBOX for the others; it is synced itself. */
  completed(actor: string, command: HarnessCommand, sessions: readonly string[]): void {
    this.changed.delete(actor);
    if (command.kind === 'fetch' && !/BODY\[|RFC822(?!\.)|RFC822\.TEXT/.test(command.items)) return;
    if (REPORTS_ITSELF.has(command.kind) || command.kind === 'status') return;
    for (const session of sessions) if (session !== actor) this.changed.add(session);
  }

  needsSyncBefore(session: string, command: HarnessCommand): boolean {
    return this.enabled && this.changed.has(session) && !REPORTS_ITSELF.has(command.kind);
  }
}
