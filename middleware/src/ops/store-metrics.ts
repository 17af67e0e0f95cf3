/**
 * Store metrics taken at the one Store interface, so no route, engine or dispatcher code carries
 * instrumentation: every method (and every DeliveryStore and AuditStore method, as `deliveries.<name>`
 * and `audit.<name>`) is timed
 * and its failures counted by store kind and method name — a fixed set, the interface's methods.
 * The calls that *are* the events the issue asks to count are read here too: recordEvents (events
 * by type), recordAttempt (delivery attempts by outcome), upsertUsers / recordImportErrors (import
 * rows). Must never change what a call returns or throws.
 */
import { ENGINE_EVENT_TYPES } from '@inlay/schemas';
import type { AttemptOutcome } from '../delivery/delivery-types.js';
import type { Store } from '../store/store.js';
import type { DeliveryAttemptOutcome, MiddlewareMetrics } from './metrics.js';

const EVENT_TYPES: ReadonlySet<string> = new Set(ENGINE_EVENT_TYPES);

type AnyMethod = (...args: unknown[]) => unknown;

/** What a call's arguments say that the metrics count, before the call's outcome is known. */
function countArguments(metrics: MiddlewareMetrics, operation: string, args: readonly unknown[]): (() => void) | null {
  switch (operation) {
    case 'recordEvents':
      return () => {
        for (const event of (args[1] as readonly { type: string }[] | undefined) ?? []) metrics.events.inc({ type: EVENT_TYPES.has(event.type) ? event.type : 'other' });
      };
    case 'upsertUsers':
      return () => metrics.importRows.inc({ result: 'imported' }, (args[1] as readonly unknown[] | undefined)?.length ?? 0);
    case 'recordImportErrors':
      return () => metrics.importRows.inc({ result: 'rejected' }, (args[2] as readonly unknown[] | undefined)?.length ?? 0);
    case 'deliveries.recordAttempt': {
      const outcome = args[1] as AttemptOutcome | undefined;
      if (outcome === undefined) return null;
      const result: DeliveryAttemptOutcome = outcome.attempt.ok ? 'delivered' : outcome.next.state === 'dead' ? 'dead' : 'retry';
      return () => metrics.deliveryAttempts.inc({ outcome: result });
    }
    default:
      return null;
  }
}

function instrumented<T extends object>(target: T, metrics: MiddlewareMetrics, store: string, prefix: string, nested: Partial<Record<keyof T, object>>): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof property !== 'string') return value;
      const cached = wrapped.get(property);
      if (cached !== undefined) return cached;
      const inner = (nested as Record<string, object | undefined>)[property];
      if (inner !== undefined) {
        wrapped.set(property, inner);
        return inner;
      }
      if (typeof value !== 'function') return value;
      const operation = `${prefix}${property}`;
      const method = value as AnyMethod;
      const timed = (...args: unknown[]): unknown => {
        const startedAt = performance.now();
        const labels = { store, operation };
        const settle = (ok: boolean): void => {
          metrics.storeDuration.observe(labels, (performance.now() - startedAt) / 1000);
          if (!ok) metrics.storeErrors.inc(labels);
        };
        let result: unknown;
        try {
          result = method.apply(object, args);
        } catch (err) {
          settle(false);
          throw err;
        }
        if (!(result instanceof Promise)) return result;
        const counted = countArguments(metrics, operation, args);
        return result.then(
          (resolved: unknown) => {
            settle(true);
            counted?.();
            return resolved;
          },
          (err: unknown) => {
            settle(false);
            throw err;
          },
        );
      };
      wrapped.set(property, timed);
      return timed;
    },
  });
}

/** The store as routes and services see it, with every call measured. */
export function instrumentStore(store: Store, metrics: MiddlewareMetrics): Store {
  // The error counter exists from the first scrape (one series at 0), so alerts over it have data.
  metrics.storeErrors.inc({ store: store.kind, operation: 'listTenants' }, 0);
  const deliveries = instrumented(store.deliveries, metrics, store.kind, 'deliveries.', {});
  const audit = instrumented(store.audit, metrics, store.kind, 'audit.', {});
  return instrumented(store, metrics, store.kind, '', { deliveries, audit });
}
