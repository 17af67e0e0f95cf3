/**
 * The events part of the Store contract (contract.ts runs it for every store): `recordEvents`
 * keeps each event once with its first origin, lists it under every index newest first with
 * cursor paging, keeps report counters that equal what the raw event list says (a property test
 * over random sequences with repeats, several sessions and reinjections), and keeps what each
 * user was shown, bytes included. Test support only: imports vitest and fast-check.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import type { EngineEventType, EventOrigin, Tenant } from '@inlay/schemas';
import { newCampaignId } from '../campaigns/campaign-id.js';
import { engineEvent } from '../engine/events.js';
import { buildReport } from '../events/report.js';
import { DAY_MS, HOUR_MS, compareNewestFirst, uniqueKindOf, type EventQuery } from './event-types.js';
import type { Store, TenantRef } from './store.js';
import type { EngineEventRecord, StoredVirtualMessage } from './view-types.js';

const T0 = Date.UTC(2031, 6, 1, 0);
const SESSION_A: EventOrigin = { node: 'node-a', clientAddress: '203.0.113.7', clientName: 'Thunderbird', clientVersion: '128.0' };
const SESSION_B: EventOrigin = { node: 'node-b', clientAddress: '2001:db8::9', clientName: 'iOS Mail' };

function virtualMessage(campaignId: string, uid: number, variantId: string | null): StoredVirtualMessage {
  return {
    uid,
    campaignId,
    campaignRevision: 1,
    variantId,
    origin: 'first',
    messageId: `<${campaignId}.${uid}@inlay.invalid>`,
    contentHash: '00'.repeat(32),
    size: 1,
    internalDateMs: T0,
    injectedAtMs: T0,
    flags: [],
    state: 'visible',
    assignmentId: 'a',
  };
}

function eventOf(tenant: Tenant, userKey: string, campaignId: string, uid: number, variantId: string | null, type: EngineEventType, atMs: number, origin?: EventOrigin): EngineEventRecord {
  const subject = { tenantId: tenant.id, view: { keyspaceName: tenant.keyspaceName, id: tenant.id, userKey, mailbox: 'INBOX' }, uidValidity: 77, origin };
  return engineEvent(subject, virtualMessage(campaignId, uid, variantId), type, atMs);
}

/** Every page of a query, following cursors. */
async function allPages(store: Store, tenant: TenantRef, query: EventQuery): Promise<EngineEventRecord[]> {
  const events: EngineEventRecord[] = [];
  let page = await store.queryEvents(tenant, query);
  events.push(...page.events);
  while (page.next !== undefined) {
    page = await store.queryEvents(tenant, { ...query, after: page.next });
    events.push(...page.events);
  }
  return events;
}

/** What a report must say, computed from the distinct events alone. */
function expectedFigures(events: readonly EngineEventRecord[], variantOf: (userKey: string) => string | null) {
  const figures = (list: readonly EngineEventRecord[]) => {
    const totals = { injected: 0, reinjected: 0, read: 0, expunged: 0 };
    const users = { injected: new Set<string>(), read: new Set<string>(), expunged: new Set<string>() };
    for (const event of list) {
      totals[event.type] += 1;
      users[uniqueKindOf(event.type)].add(event.userKey);
    }
    return { totals, uniqueUsers: { injected: users.injected.size, read: users.read.size, expunged: users.expunged.size } };
  };
  const variants = [...new Set(events.map((event) => variantOf(event.userKey)))].sort((a, b) => (a ?? '').localeCompare(b ?? ''));
  const series = new Map<number, { injected: number; reinjected: number; read: number; expunged: number }>();
  for (const event of events) {
    const hour = Math.floor(event.occurredAt.getTime() / HOUR_MS) * HOUR_MS;
    const bucket = series.get(hour) ?? { injected: 0, reinjected: 0, read: 0, expunged: 0 };
    bucket[event.type] += 1;
    series.set(hour, bucket);
  }
  return { all: figures(events), variants: variants.map((variantId) => ({ variantId, ...figures(events.filter((event) => variantOf(event.userKey) === variantId)) })), series };
}

export function describeEventContract(store: () => Store, tenant: () => Tenant): void {
  const ref = (): TenantRef => ({ id: tenant().id, keyspaceName: tenant().keyspaceName });
  const range = { since: new Date(T0 - DAY_MS), until: new Date(T0 + 10 * DAY_MS) };

  test('events: recorded once with the first origin; listed under each index newest first, filtered and paged', async () => {
    const campaignId = newCampaignId();
    const user = `ev-${randomBytes(4).toString('hex')}@example.org`;
    const injected = eventOf(tenant(), user, campaignId, 33, 'b', 'injected', T0 + 1000, SESSION_A);
    const read = eventOf(tenant(), user, campaignId, 33, 'b', 'read', T0 + 5000, SESSION_B);
    // Same millisecond as `read`: ordered by id inside it, and the cursor must not lose either.
    const expunged = eventOf(tenant(), user, campaignId, 33, 'b', 'expunged', T0 + 5000);
    await store().recordEvents(ref(), [injected, read]);
    await store().recordEvents(ref(), [{ ...read, origin: SESSION_A }, expunged, injected]);

    const newestFirst = [read, expunged].sort(compareNewestFirst).concat(injected);
    for (const index of [{ kind: 'campaign', value: campaignId }, { kind: 'user', value: user }, { kind: 'message', value: injected.messageId }] as const) {
      const whole = await store().queryEvents(ref(), { index, range, limit: 10 });
      expect(whole.events).toEqual(newestFirst);
      expect(whole.next).toBeUndefined();
      expect(await allPages(store(), ref(), { index, range, limit: 1 })).toEqual(newestFirst);
    }
    const reads = await store().queryEvents(ref(), { index: { kind: 'campaign', value: campaignId }, range, types: ['read'], limit: 10 });
    expect(reads.events).toEqual([read]);
    expect(reads.events[0]!.origin).toEqual(SESSION_B);
    const early = await store().queryEvents(ref(), { index: { kind: 'user', value: user }, range: { since: new Date(T0), until: new Date(T0 + 5000) }, limit: 10 });
    expect(early.events).toEqual([injected]);
    const tenantWide = await allPages(store(), ref(), { index: { kind: 'all', value: '' }, range, campaignId, limit: 2 });
    expect(tenantWide).toEqual(newestFirst);

    const report = buildReport(campaignId, await store().readCampaignCounters(ref(), campaignId, range), range, 'day');
    expect(report.totals).toEqual({ injected: 1, reinjected: 0, read: 1, expunged: 1 });
    expect(report.uniqueUsers).toEqual({ injected: 1, read: 1, expunged: 1 });
  });

  test('tracking: a shown message keeps its bytes and every event with where it came from', async () => {
    const campaignId = newCampaignId();
    const user = `tr-${randomBytes(4).toString('hex')}@example.org`;
    const body = Buffer.from('Subject: hi\r\n\r\n\x00\xff bytes\r\n', 'latin1');
    const injected = eventOf(tenant(), user, campaignId, 49, null, 'injected', T0 + 10, SESSION_A);
    const read = eventOf(tenant(), user, campaignId, 49, null, 'read', T0 + 20, SESSION_B);
    await store().recordEvents(ref(), [injected], [{ userKey: user, objectId: injected.objectId, body }]);
    await store().recordEvents(ref(), [read]);
    const listed = await store().listTrackedMessages(ref(), user);
    expect(listed).toEqual([
      {
        userKey: user,
        objectId: '77:49',
        campaignId,
        variantId: null,
        messageId: injected.messageId,
        uid: 49,
        uidValidity: 77,
        events: [
          { eventId: injected.eventId, type: 'injected', occurredAt: injected.occurredAt, origin: SESSION_A },
          { eventId: read.eventId, type: 'read', occurredAt: read.occurredAt, origin: SESSION_B },
        ],
      },
    ]);
    const one = await store().getTrackedMessage(ref(), user, '77:49');
    expect(one?.body?.equals(body)).toBe(true);
    expect(await store().getTrackedMessage(ref(), user, '77:50')).toBeUndefined();
    expect(await store().listTrackedMessages(ref(), `nobody-${user}`)).toEqual([]);
  });

  test('reports: counters equal the counts of the raw event list (random sequences, repeats, sessions, reinjections)', async () => {
    const runs = store().kind === 'cassandra' ? 4 : 20;
    const message = fc.record({ read: fc.boolean(), expunged: fc.boolean(), atHour: fc.integer({ min: 0, max: 71 }), readAfterMin: fc.integer({ min: 0, max: 3000 }) });
    const userPlan = fc.record({ variant: fc.constantFrom(null, 'a', 'b'), messages: fc.array(message, { minLength: 1, maxLength: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(userPlan, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 1, max: 7 }), fc.integer(), async (plans, repeats, chunk, seed) => {
        const campaignId = newCampaignId();
        const variants = new Map<string, string | null>();
        const events: EngineEventRecord[] = [];
        plans.forEach((plan, userIndex) => {
          const user = `p${userIndex}-${randomBytes(3).toString('hex')}`;
          variants.set(user, plan.variant);
          plan.messages.forEach((planned, index) => {
            const uid = 16 * (index + 1) + 1;
            const at = T0 + planned.atHour * HOUR_MS + index;
            events.push(eventOf(tenant(), user, campaignId, uid, plan.variant, index === 0 ? 'injected' : 'reinjected', at, SESSION_A));
            if (planned.read) events.push(eventOf(tenant(), user, campaignId, uid, plan.variant, 'read', at + planned.readAfterMin * 60_000, SESSION_A));
            if (planned.expunged) events.push(eventOf(tenant(), user, campaignId, uid, plan.variant, 'expunged', at + planned.readAfterMin * 60_000 + 1, SESSION_B));
          });
        });
        // Another session reports some of them again (another origin), in a shuffled order.
        const reported = [...events, ...repeats.map((index) => ({ ...events[index % events.length]!, origin: SESSION_B }))];
        let state = seed;
        for (let i = reported.length - 1; i > 0; i--) {
          state = (state * 1103515245 + 12345) & 0x7fffffff;
          const j = state % (i + 1);
          [reported[i], reported[j]] = [reported[j]!, reported[i]!];
        }
        for (let start = 0; start < reported.length; start += chunk) await store().recordEvents(ref(), reported.slice(start, start + chunk));

        const expected = expectedFigures(events, (user) => variants.get(user) ?? null);
        const report = buildReport(campaignId, await store().readCampaignCounters(ref(), campaignId, range), range, 'hour');
        expect(report.totals).toEqual(expected.all.totals);
        expect(report.uniqueUsers).toEqual(expected.all.uniqueUsers);
        expect(report.variants.map(({ variantId, totals, uniqueUsers }) => ({ variantId, totals, uniqueUsers }))).toEqual(expected.variants);
        for (const bucket of report.series) {
          expect(bucket).toEqual({ start: bucket.start, ...(expected.series.get(Date.parse(bucket.start)) ?? { injected: 0, reinjected: 0, read: 0, expunged: 0 }) });
        }
        const listed = await allPages(store(), ref(), { index: { kind: 'campaign', value: campaignId }, range, limit: 5 });
        expect(listed.map((event) => event.eventId)).toEqual([...events].sort(compareNewestFirst).map((event) => event.eventId));
      }),
      { numRuns: runs, seed: 12 },
    );
  });

  test('retention: a sweep drops old events, their indexes and tracked messages, and keeps the counters', async () => {
    const campaignId = newCampaignId();
    const user = `rt-${randomBytes(4).toString('hex')}`;
    const old = eventOf(tenant(), user, campaignId, 17, null, 'injected', T0, SESSION_A);
    const recent = eventOf(tenant(), user, campaignId, 33, null, 'reinjected', T0 + 5 * DAY_MS, SESSION_A);
    await store().recordEvents(ref(), [old, recent], [{ userKey: user, objectId: old.objectId, body: Buffer.from('x') }]);
    const removed = await store().sweepEvents(ref(), new Date(T0 + DAY_MS));
    if (store().kind === 'cassandra') {
      expect(removed).toBe(0); // TTL does it
      return;
    }
    expect(removed).toBeGreaterThanOrEqual(1);
    expect((await store().queryEvents(ref(), { index: { kind: 'user', value: user }, range, limit: 10 })).events).toEqual([recent]);
    expect((await store().listTrackedMessages(ref(), user)).map((message) => message.objectId)).toEqual(['77:33']);
    expect(await store().getTrackedMessage(ref(), user, '77:17')).toBeUndefined();
    const report = buildReport(campaignId, await store().readCampaignCounters(ref(), campaignId, range), range, 'day');
    expect(report.totals).toEqual({ injected: 1, reinjected: 1, read: 0, expunged: 0 });
  });
}
