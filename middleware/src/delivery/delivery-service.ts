/**
 * Builds the delivery side of a middleware from its configuration (parsed once): the address
 * guard, the HTTP and AMQP senders and the dispatcher. main.ts starts it after the HTTP server
 * listens and stops it (in-flight attempts recorded) before the store closes.
 */
import { ConfigError, type InlayConfig } from '@inlay/schemas';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { AddressGuard } from './address-guard.js';
import { DeliveryDispatcher, LEASE_MARGIN_MS, type DispatcherSettings } from './dispatcher.js';
import { HttpSender } from './http-attempt.js';
import { AmqpSender } from './amqp-sender.js';
import { parseRetrySchedule } from './schedule.js';

/** Nothing due: the outbox is looked at again this soon (a recorded event waits at most this). */
const IDLE_POLL_MS = 200;

export interface DeliveryService {
  readonly guard: AddressGuard;
  readonly dispatcher: DeliveryDispatcher;
  close(): Promise<void>;
}

export function dispatcherSettings(config: InlayConfig['delivery']): DispatcherSettings {
  if (config.leaseMs <= config.attemptTimeoutMs + LEASE_MARGIN_MS) {
    throw new ConfigError(
      `delivery.leaseMs (INLAY_DELIVERY_LEASE_MS) must be more than delivery.attemptTimeoutMs + ${LEASE_MARGIN_MS} ms: a node starts an attempt only while its lease outlasts it`,
    );
  }
  return Object.freeze({
    retryScheduleMs: parseRetrySchedule(config.retrySchedule),
    attemptTimeoutMs: config.attemptTimeoutMs,
    retentionMs: config.logRetentionDays * 86_400_000,
    concurrency: config.concurrency,
    leaseMs: config.leaseMs,
    idlePollMs: IDLE_POLL_MS,
  });
}

/** Throws ConfigError on a bad schedule or network list. */
export function createDeliveryService(store: Store, config: InlayConfig['delivery'], log: Logger | undefined): DeliveryService {
  const settings = dispatcherSettings(config);
  const guard = new AddressGuard(config.allowedNetworks);
  const http = new HttpSender(guard, settings.attemptTimeoutMs);
  const amqp = new AmqpSender(guard, settings.attemptTimeoutMs);
  const dispatcher = new DeliveryDispatcher(store, { http, amqp }, settings, log?.child({ component: 'delivery' }));
  return {
    guard,
    dispatcher,
    async close() {
      await dispatcher.stop();
      http.close();
      await amqp.close();
    },
  };
}
