/**
 * When a failed delivery is tried again. The default schedule (5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 10 h — Standard Webhooks' suggestion, about 28 hours in all) covers a receiver that is
 * down over a night; `INLAY_DELIVERY_RETRY_SCHEDULE` replaces it. Each wait gets ±20 % jitter so a
 * receiver coming back is not hit by every queued delivery in the same second. Pure apart from the
 * random source, which callers may pass.
 */
import { ConfigError } from '@inlay/schemas';

export const DEFAULT_RETRY_SCHEDULE = '5,300,1800,7200,18000,36000,36000';
const JITTER = 0.2;
/** A Retry-After shorter than the schedule's step is honoured down to 1 s; longer is honoured up
 *  to 1 day: a receiver may slow us down but not park a delivery for ever. */
const RETRY_AFTER_MIN_MS = 1000;
const RETRY_AFTER_MAX_MS = 86_400_000;
/** A point failing without any success this long is disabled (it says so in its health). */
export const DISABLE_AFTER_FAILING_MS = 5 * 86_400_000;

/** Waits in ms after attempt 1, 2, …; parsed once at start-up. */
export function parseRetrySchedule(text: string): readonly number[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.length > 50 || parts.some((part) => !/^\d{1,7}$/.test(part))) {
    throw new ConfigError('delivery.retrySchedule (INLAY_DELIVERY_RETRY_SCHEDULE) must be 1 to 50 comma-separated whole seconds, e.g. 5,300,1800');
  }
  return Object.freeze(parts.map((part) => Number(part) * 1000));
}

/** Seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * When attempt number `attemptsMade + 1` is due after a failure, or undefined when the schedule
 * is used up (the delivery is dead).
 */
export function nextAttemptAt(schedule: readonly number[], attemptsMade: number, nowMs: number, retryAfterMs: number | undefined, random: () => number = Math.random): number | undefined {
  const step = schedule[attemptsMade - 1];
  if (step === undefined) return undefined;
  if (retryAfterMs !== undefined) return nowMs + Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, retryAfterMs));
  const jittered = step * (1 - JITTER + 2 * JITTER * random());
  return nowMs + Math.round(jittered);
}
