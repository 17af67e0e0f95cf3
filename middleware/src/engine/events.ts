/**
 * Engine events (injected, reinjected, read, expunged) as stored rows. The id is a version-1 UUID
 * whose time is when the event happened (the time the view partition recorded: injectedAt,
 * readAt, expungedAt — fixed by the compare-and-set that first recorded it) and whose other 74
 * bits are a hash of tenant, user, mailbox, UIDVALIDITY, UID and type. So however many sessions
 * or proxies report the same read, they all derive the same id and the same partition, and the
 * event is stored once. Pure.
 */
import { createHash } from 'node:crypto';
import type { EngineEventType, EventOrigin } from '@inlay/schemas';
import { formatTimeUuid } from '../campaigns/campaign-id.js';
import type { EngineEventRecord, StoredVirtualMessage, ViewRef } from '../store/view-types.js';

export interface EventSubject {
  readonly tenantId: string;
  readonly view: ViewRef;
  readonly uidValidity: number;
  /** Where the request that made the events happen came from (the proxy's session). */
  readonly origin?: EventOrigin | undefined;
}

export function eventId(subject: EventSubject, uid: number, type: EngineEventType, occurredAtMs: number): string {
  const digest = createHash('sha256')
    .update([subject.tenantId, subject.view.userKey, subject.view.mailbox, String(subject.uidValidity), String(uid), type].join('\0'))
    .digest();
  // RFC 4122 §4.5: a node id that is not a MAC address has the multicast bit set.
  const node = Buffer.from(digest.subarray(4, 10));
  node[0]! |= 0x01;
  return formatTimeUuid(occurredAtMs, digest.readUInt16BE(0) % 10_000, digest.readUInt16BE(2), node.toString('hex'));
}

export function engineEvent(subject: EventSubject, message: StoredVirtualMessage, type: EngineEventType, occurredAtMs: number): EngineEventRecord {
  return {
    eventId: eventId(subject, message.uid, type, occurredAtMs),
    type,
    tenantId: subject.tenantId,
    userKey: subject.view.userKey,
    mailbox: subject.view.mailbox,
    uidValidity: subject.uidValidity,
    uid: message.uid,
    campaignId: message.campaignId,
    variantId: message.variantId,
    objectId: `${subject.uidValidity}:${message.uid}`,
    messageId: message.messageId,
    occurredAt: new Date(occurredAtMs),
    ...(subject.origin === undefined ? {} : { origin: subject.origin }),
  };
}

/** The injected / reinjected event of a message the engine just assigned. */
export function injectionEvent(subject: EventSubject, message: StoredVirtualMessage): EngineEventRecord {
  return engineEvent(subject, message, message.origin === 'first' ? 'injected' : 'reinjected', message.injectedAtMs);
}
