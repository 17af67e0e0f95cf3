/**
 * Where an event row lives in the `events` table of the plan: partition (bucket, shard) with
 * bucket = the UTC hour of the event ('YYYY-MM-DDTHH') and shard = a hash of the event id modulo
 * EVENT_SHARDS, so one busy hour is spread over 16 partitions. Both stores use the same keys, so
 * a range listing walks the same buckets. Pure.
 */
import { createHash } from 'node:crypto';
import { MiddlewareError } from '../errors.js';
import { EVENT_SHARDS } from './tenant-tables.js';
import type { EventRange } from './view-types.js';

const HOUR_MS = 3_600_000;
/** A listing walks every hour × 16 shards; a month (11,904 partitions) is the most a report or a
 *  test should ask for at once. */
export const MAX_EVENT_RANGE_MS = 31 * 24 * HOUR_MS;

export function eventBucket(occurredAt: Date): string {
  return occurredAt.toISOString().slice(0, 13);
}

export function eventShard(eventId: string): number {
  return createHash('sha256').update(eventId).digest().readUInt16BE(0) % EVENT_SHARDS;
}

/** The hour buckets that can hold events of `range`, oldest first. */
export function bucketsOf(range: EventRange): string[] {
  const since = range.since.getTime();
  const until = range.until.getTime();
  if (!(until > since)) return [];
  if (until - since > MAX_EVENT_RANGE_MS) {
    throw new MiddlewareError('INLAY_MW_VALIDATION', `an event listing covers at most ${MAX_EVENT_RANGE_MS / (24 * HOUR_MS)} days`);
  }
  const buckets: string[] = [];
  for (let hour = Math.floor(since / HOUR_MS) * HOUR_MS; hour < until; hour += HOUR_MS) buckets.push(eventBucket(new Date(hour)));
  return buckets;
}

export function inRange(occurredAt: Date, range: EventRange): boolean {
  const at = occurredAt.getTime();
  return at >= range.since.getTime() && at < range.until.getTime();
}

/** Oldest first, then by id: the order both stores list in. */
export function compareEvents(a: { occurredAt: Date; eventId: string }, b: { occurredAt: Date; eventId: string }): number {
  return a.occurredAt.getTime() - b.occurredAt.getTime() || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}
