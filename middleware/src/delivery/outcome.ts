/**
 * What an attempt's result means for the delivery and its point: 2xx delivered; 410 Gone dead
 * and the point disabled (the receiver says it is gone for good); anything else — 3xx, 4xx, 5xx,
 * no answer — retried on the schedule (Retry-After honoured within bounds) until the schedule is
 * used up, then dead. Pure.
 */
import type { AttemptOutcome, Delivery, DeliveryAttempt } from './delivery-types.js';
import type { AttemptResult } from './http-attempt.js';
import { nextAttemptAt, parseRetryAfter } from './schedule.js';

export function decideOutcome(delivery: Delivery, result: AttemptResult, schedule: readonly number[], nowMs: number, random: () => number = Math.random): AttemptOutcome {
  const attemptNumber = delivery.attempts + 1;
  const attempt: DeliveryAttempt = {
    pointId: delivery.pointId,
    eventId: delivery.eventId,
    attempt: attemptNumber,
    atMs: nowMs,
    latencyMs: result.latencyMs,
    ok: result.ok,
    ...(result.status === undefined ? {} : { status: result.status }),
    ...(result.response === undefined ? {} : { response: result.response }),
    ...(result.error === undefined ? {} : { error: result.error }),
  };
  const lastResult = result.status !== undefined ? `HTTP ${result.status}` : (result.error ?? 'failed');
  const base = { ...delivery, attempts: attemptNumber, updatedAtMs: nowMs, lastResult };
  if (result.ok) return { attempt, previous: delivery, next: { ...base, state: 'delivered' }, point: { kind: 'success', atMs: nowMs } };
  if (result.status === 410) {
    return { attempt, previous: delivery, next: { ...base, state: 'dead' }, point: { kind: 'failure', atMs: nowMs, error: lastResult, disable: 'the receiver answered 410 Gone' } };
  }
  const step = delivery.step + 1;
  const dueAtMs = nextAttemptAt(schedule, step, nowMs, parseRetryAfter(result.retryAfter, nowMs), random);
  const next: Delivery = dueAtMs === undefined ? { ...base, step, state: 'dead' } : { ...base, step, state: 'pending', dueAtMs };
  return { attempt, previous: delivery, next, point: { kind: 'failure', atMs: nowMs, error: lastResult } };
}
