/**
 * Test support for deliveries: engine events made up the way the engine makes them (deterministic
 * ids), the delivery settings a test wants, and a wait for a condition on the store.
 */
import type { InlayConfig } from '@inlay/schemas';
import type { EngineEventType } from '@inlay/schemas';
import { eventId } from '../engine/events.js';
import type { EngineEventRecord } from '../store/view-types.js';

/** An event of `tenantId`'s user `user`, for virtual UID `uid`. */
export function makeEvent(tenantId: string, type: EngineEventType, uid: number, user = 'reader@example.org', occurredAtMs = Date.now()): EngineEventRecord {
  const subject = { tenantId, view: { keyspaceName: 'unused', userKey: user, mailbox: 'INBOX' }, uidValidity: 7 };
  return {
    eventId: eventId(subject, uid, type, occurredAtMs),
    type,
    tenantId,
    userKey: user,
    mailbox: 'INBOX',
    uidValidity: 7,
    uid,
    campaignId: '1d3c0b00-e000-11ee-8000-0123456789ab',
    variantId: 'a',
    objectId: `7:${uid}`,
    messageId: `<m${uid}@campaign.example>`,
    occurredAt: new Date(occurredAtMs),
  };
}

export function deliveryConfig(overrides: Partial<InlayConfig['delivery']> = {}): InlayConfig['delivery'] {
  return { retrySchedule: '1,1', allowedNetworks: ['127.0.0.0/8'], attemptTimeoutMs: 5000, concurrency: 64, leaseMs: 30_000, logRetentionDays: 90, ...overrides };
}

/** Polls `check` until it returns true; fails after `timeoutMs` with `what` and `progress()`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, progress?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${progress ? ` (${progress()})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
