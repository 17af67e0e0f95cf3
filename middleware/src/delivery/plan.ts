/**
 * Which deliveries an event makes: one per conversion point of its tenant whose `eventType`
 * matches, due at once, dated by the event. Pure; the stores call it inside the write that records the event, so the
 * event and its deliveries are stored together or not at all.
 *
 * What is delivered is the event as the REST API lists it (toApiEvent, schema EngineEventSchema
 * in schemas/src/events.ts): one representation for GET …/events, webhook `data` and AMQP bodies,
 * so a field the API gains is delivered without a change here.
 */
import { createHash } from 'node:crypto';
import type { ConversionPoint } from '@inlay/schemas';
import type { EngineEventRecord } from '../store/view-types.js';
import { toApiEvent } from '../events/event-query.js';
import { DELIVERY_SHARDS, type Delivery } from './delivery-types.js';

export function deliveryShard(eventId: string): number {
  return createHash('sha256').update(`delivery\0${eventId}`).digest().readUInt16BE(0) % DELIVERY_SHARDS;
}

/** The event as delivered: the REST API's shape (`id`, not the record's `eventId`). */
export function eventPayload(event: EngineEventRecord): Record<string, unknown> {
  return { ...toApiEvent(event) };
}

export function plannedDeliveries(points: readonly ConversionPoint[], event: EngineEventRecord, nowMs: number): Delivery[] {
  return points
    .filter((point) => point.eventType === event.type)
    .map((point) => ({
      pointId: point.id,
      eventId: event.eventId,
      eventType: event.type,
      event: eventPayload(event),
      state: 'pending',
      attempts: 0,
      step: 0,
      dueAtMs: nowMs,
      // The event's time, not the staging time: recording the event again stages the same row.
      createdAtMs: event.occurredAt.getTime(),
      updatedAtMs: nowMs,
    }));
}
