/**
 * Works the delivery outbox: leases shards of each tenant's due queue (so several middleware
 * nodes on one store split the work and never attempt one delivery at the same time), takes the
 * due deliveries of the shards it holds, attempts them with bounded concurrency, and records each
 * outcome (attempt log, next state, point health) in one write.
 *
 * Why a lease per shard and not per delivery: one compare-and-set per shard every few seconds
 * instead of one Paxos round per delivery. An attempt is only started while the lease has longer
 * to run than the attempt can take (its timeout plus a margin), so when a lease passes to another
 * node — this one died or lost the store — no attempt of the old holder can still be running.
 * A delivery's outcome is recorded after its attempt: a crash in between resends it, with the
 * same webhook-id (at least once on the wire).
 *
 * Must never log a secret or a whole URL's query (it may hold one): points are named by id.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ConversionPoint, Tenant } from '@inlay/schemas';
import type { Store } from '../store/store.js';
import { DELIVERY_SHARDS, type Delivery, type PointState } from './delivery-types.js';
import { decideOutcome } from './outcome.js';
import { sendDelivery, type Senders } from './senders.js';
import { newPointSecret, signingSecrets } from './webhook.js';
import { EMPTY_POINT_STATE } from './point-health.js';

export interface DispatcherSettings {
  readonly retryScheduleMs: readonly number[];
  readonly attemptTimeoutMs: number;
  readonly retentionMs: number;
  readonly concurrency: number;
  readonly leaseMs: number;
  /** How long the loop sleeps when nothing is due. */
  readonly idlePollMs: number;
}

/** A lease is used for new attempts only while this much longer than an attempt remains. */
export const LEASE_MARGIN_MS = 5000;
/** A disabled point's deliveries are looked at again this often (enabling it requeues them at once). */
const PARKED_MS = 3_600_000;
/** Tenants and point states are re-read this often: a changed point shows within about this long. */
const CACHE_MS = 2000;
/** The embedded store's retention sweep runs this often. */
const SWEEP_EVERY_MS = 3_600_000;
/** A tenant whose outbox failed to read is left alone this long (and logged once per failure). */
const TENANT_REST_MS = 5000;

export class DeliveryDispatcher {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Attempts in flight per tenant keyspace and shard: they are still first in their shard's
   *  queue (their outcome is not written yet), so a read of the shard asks for that many more. */
  private readonly inFlightByShard = new Map<string, number>();
  private readonly leases = new Map<string, number>();
  private readonly pointStates = new Map<string, { state: PointState; readAtMs: number }>();
  private readonly restingUntil = new Map<string, number>();
  private tenants: { list: Tenant[]; readAtMs: number } | undefined;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastSweepMs = 0;

  constructor(
    private readonly store: Store,
    private readonly senders: Senders,
    private readonly settings: DispatcherSettings,
    private readonly log: Logger | undefined,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Something was recorded: look at the queue now rather than after the idle poll. */
  nudge(): void {
    this.pointStates.clear();
    this.wake?.();
  }

  /** Stops taking work and waits for the attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let started = 0;
      try {
        started = await this.tick();
        await this.maybeSweep();
      } catch (error) {
        this.log?.warn({ err: (error as Error).message }, 'delivery: a pass over the outbox failed; retrying');
      }
      // Nothing new: wait for an attempt to finish (what comes after it in its shard may be due)
      // or for the idle poll, whichever is first.
      if (started === 0 && this.running) await Promise.race([this.sleep(this.settings.idlePollMs), ...this.inFlight.values()]);
    }
  }

  /** One pass over every tenant's shards; returns how many attempts it started. A tenant whose
   *  outbox cannot be read (its keyspace gone, the store failing) is logged and left alone for a
   *  while; the others go on. */
  private async tick(): Promise<number> {
    let started = 0;
    const now = Date.now();
    for (const tenant of await this.currentTenants()) {
      if (tenant.conversionPoints.length === 0 || (this.restingUntil.get(tenant.id) ?? 0) > now) continue;
      try {
        started += await this.tickTenant(tenant);
      } catch (error) {
        this.restingUntil.set(tenant.id, Date.now() + TENANT_REST_MS);
        this.log?.warn({ tenant: tenant.id, err: (error as Error).message }, `delivery: the tenant's outbox could not be read; trying again in ${TENANT_REST_MS / 1000} s`);
      }
    }
    return started;
  }

  private async tickTenant(tenant: Tenant): Promise<number> {
    let started = 0;
    // A shard is read when a good share of the slots is free, not for every attempt that ends:
    // a read costs a round trip whatever it returns (on Cassandra the bulk of a delivery's cost).
    const refill = Math.max(1, Math.floor(this.settings.concurrency / 4));
    const inFlightHere = (pointId: string, eventId: string): boolean => this.inFlight.has(`${tenant.id}\0${pointId}\0${eventId}`);
    for (let shard = 0; shard < DELIVERY_SHARDS && this.running; shard++) {
      while (this.inFlight.size > this.settings.concurrency - refill) await Promise.race(this.inFlight.values());
      if (!(await this.holdLease(tenant, shard))) continue;
      const shardKey = `${tenant.keyspaceName}\0${shard}`;
      const busy = this.inFlightByShard.get(shardKey) ?? 0;
      const due = await this.store.deliveries.dueDeliveries(tenant, shard, Date.now(), this.settings.concurrency - this.inFlight.size + busy, inFlightHere);
      for (const delivery of due) {
        const key = `${tenant.id}\0${delivery.pointId}\0${delivery.eventId}`;
        if (this.inFlight.has(key) || this.inFlight.size >= this.settings.concurrency) continue;
        this.inFlightByShard.set(shardKey, (this.inFlightByShard.get(shardKey) ?? 0) + 1);
        const work = this.attempt(tenant, delivery)
          .catch((error: unknown) => this.log?.warn({ tenant: tenant.id, point: delivery.pointId, eventId: delivery.eventId, err: (error as Error).message }, 'delivery: recording an attempt failed; it will be retried'))
          .finally(() => {
            this.inFlight.delete(key);
            this.inFlightByShard.set(shardKey, (this.inFlightByShard.get(shardKey) ?? 1) - 1);
          });
        this.inFlight.set(key, work);
        started++;
      }
    }
    return started;
  }

  /** True while this node may start attempts on the shard. */
  private async holdLease(tenant: Tenant, shard: number): Promise<boolean> {
    const key = `${tenant.keyspaceName}\0${shard}`;
    const now = Date.now();
    const until = this.leases.get(key) ?? 0;
    const needed = this.settings.attemptTimeoutMs + LEASE_MARGIN_MS;
    // Renew once a third of the lease is used, well before it gets too short to start attempts.
    if (until - now > this.settings.leaseMs * (2 / 3) && until - now > needed) return true;
    const held = await this.store.deliveries.leaseShard(tenant, shard, this.owner, this.settings.leaseMs);
    if (!held) {
      this.leases.delete(key);
      return false;
    }
    this.leases.set(key, now + this.settings.leaseMs);
    return this.settings.leaseMs > needed;
  }

  private async attempt(tenant: Tenant, delivery: Delivery): Promise<void> {
    const deliveries = this.store.deliveries;
    // The tenant list is cached for CACHE_MS, and a point added just before its first event is
    // not in it yet: only a point the store no longer has is "removed".
    let point = tenant.conversionPoints.find((candidate) => candidate.id === delivery.pointId);
    if (point === undefined) {
      this.tenants = undefined;
      point = (await this.store.getTenant(tenant.id))?.conversionPoints.find((candidate) => candidate.id === delivery.pointId);
    }
    const now = Date.now();
    if (point === undefined) {
      const outcome = decideOutcome(delivery, { ok: false, latencyMs: 0, error: 'the conversion point was removed' }, [], now);
      await deliveries.recordAttempt(tenant, { ...outcome, point: { kind: 'none' } }, this.settings.retentionMs);
      return;
    }
    const state = await this.pointState(tenant, point);
    if (state.disabled !== undefined) {
      await deliveries.requeue(tenant, delivery.pointId, delivery.eventId, now + PARKED_MS);
      return;
    }
    const result = await sendDelivery(this.senders, point, delivery, signingSecrets(state.secrets, now), now);
    const outcome = decideOutcome(delivery, result, this.settings.retryScheduleMs, Date.now());
    await deliveries.recordAttempt(tenant, outcome, this.settings.retentionMs);
    if (outcome.point.kind === 'failure' && outcome.point.disable !== undefined) this.pointStates.delete(`${tenant.id}\0${point.id}`);
    if (!result.ok) this.log?.info({ tenant: tenant.id, point: point.id, eventId: delivery.eventId, attempt: outcome.attempt.attempt, result: outcome.next.lastResult, state: outcome.next.state }, 'delivery attempt failed');
  }

  /** The point's state, made with a secret if it has none yet. Cached briefly. */
  private async pointState(tenant: Tenant, point: ConversionPoint): Promise<PointState> {
    const key = `${tenant.id}\0${point.id}`;
    const cached = this.pointStates.get(key);
    const now = Date.now();
    // A disabled state is never taken from the cache: enabling a point must send its parked
    // deliveries, not park them again for an hour.
    if (cached !== undefined && cached.state.disabled === undefined && now - cached.readAtMs < CACHE_MS) return cached.state;
    let state = (await this.store.deliveries.getPointState(tenant, point.id)) ?? EMPTY_POINT_STATE;
    if (signingSecrets(state.secrets, now).length === 0) state = await ensurePointSecret(this.store, tenant, point.id);
    this.pointStates.set(key, { state, readAtMs: now });
    return state;
  }

  private async currentTenants(): Promise<Tenant[]> {
    const now = Date.now();
    if (this.tenants === undefined || now - this.tenants.readAtMs >= CACHE_MS) this.tenants = { list: await this.store.listTenants(), readAtMs: now };
    return this.tenants.list;
  }

  private async maybeSweep(): Promise<void> {
    const now = Date.now();
    if (this.store.kind !== 'embedded' || now - this.lastSweepMs < SWEEP_EVERY_MS) return;
    this.lastSweepMs = now;
    for (const tenant of await this.currentTenants()) {
      const removed = await this.store.deliveries.sweep(tenant, now - this.settings.retentionMs);
      if (removed > 0) this.log?.info({ tenant: tenant.id, removed }, 'delivery: expired delivery logs removed');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** The point's state with a live secret, made (once, atomically) if it has none. */
export async function ensurePointSecret(store: Store, tenant: Tenant, pointId: string): Promise<PointState> {
  return store.deliveries.changePointState(tenant, pointId, (current) => {
    const state = current ?? EMPTY_POINT_STATE;
    return signingSecrets(state.secrets, Date.now()).length > 0 ? state : { ...state, secrets: [...state.secrets, newPointSecret(Date.now())] };
  });
}
