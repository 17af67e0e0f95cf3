/**
 * The invariant tap wired into vitest: every session opened through the returned tap is
 * checked after each test of the calling file, and the test fails with the violations found.
 * Kept apart from the tap itself so the harness can use the tap outside a vitest run.
 */
import { afterEach } from 'vitest';
import { ImapTap } from './imap-invariants-tap.ts';

export function useImapTap(): ImapTap {
  const tap = new ImapTap();
  afterEach(() => tap.assertClean());
  return tap;
}
