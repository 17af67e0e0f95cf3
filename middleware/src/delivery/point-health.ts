/**
 * A conversion point's health from its attempts: healthy until an attempt fails, failing from
 * then until one succeeds, disabled when a receiver answered 410, when it kept failing for 5 days
 * without a success, or when an operator said so. Pure: both stores apply these inside their
 * own atomic write.
 */
import { DISABLE_AFTER_FAILING_MS } from './schedule.js';
import type { Delivery, PointState, PointStateChange, RecoverWhich } from './delivery-types.js';

export type PointHealth = 'healthy' | 'failing' | 'disabled';

export const EMPTY_POINT_STATE: PointState = { secrets: [] };

export function applyPointChange(current: PointState | undefined, change: PointStateChange): PointState {
  const state = current ?? EMPTY_POINT_STATE;
  switch (change.kind) {
    case 'none':
      return state;
    case 'success': {
      const { failingSinceMs: _failingSince, lastError: _lastError, ...rest } = state;
      return { ...rest, lastSuccessAtMs: Math.max(change.atMs, state.lastSuccessAtMs ?? 0) };
    }
    case 'failure': {
      const failingSinceMs = state.failingSinceMs ?? change.atMs;
      const disableReason =
        change.disable ?? (change.atMs - failingSinceMs >= DISABLE_AFTER_FAILING_MS ? 'every delivery failed for 5 days without a success' : undefined);
      return {
        ...state,
        lastFailureAtMs: Math.max(change.atMs, state.lastFailureAtMs ?? 0),
        failingSinceMs,
        lastError: change.error,
        ...(disableReason !== undefined && state.disabled === undefined ? { disabled: { reason: disableReason, atMs: change.atMs } } : {}),
      };
    }
    default: {
      const never: never = change;
      return never;
    }
  }
}

export function pointHealth(state: PointState | undefined): PointHealth {
  if (state?.disabled !== undefined) return 'disabled';
  return state?.failingSinceMs !== undefined ? 'failing' : 'healthy';
}

/** The delivery made pending and due at `nowMs`, keeping its attempt count (the log goes on). */
export function requeued(delivery: Delivery, nowMs: number): Delivery {
  const { lastResult, ...rest } = delivery;
  return { ...rest, ...(lastResult === undefined ? {} : { lastResult }), state: 'pending', step: 0, dueAtMs: nowMs, updatedAtMs: nowMs };
}

/** Whether `recover` resends it: failed is dead, or pending after a failed attempt. */
export function isRecovered(delivery: Delivery, which: RecoverWhich): boolean {
  switch (which) {
    case 'failed':
      return delivery.state === 'dead' || (delivery.state === 'pending' && delivery.attempts > 0);
    case 'pending':
      return delivery.state === 'pending';
    default: {
      const never: never = which;
      return never;
    }
  }
}
