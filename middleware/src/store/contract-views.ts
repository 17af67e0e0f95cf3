/**
 * The views-and-events part of the Store contract (contract.ts runs it for every store inside its
 * own suite, on tenant keyspaces it created): the atomic changeView primitive — exact round trips,
 * nothing written by a decision that declines or throws, and no lost or doubled change under
 * concurrency — and idempotent events. The engine's behaviour on top of it is contract-engine.ts.
 * Test support only: imports vitest.
 */
import { randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import type { Tenant } from '@inlay/schemas';
import type { Store } from './store.js';
import { EMPTY_VIEW, applyViewChange, type EngineEventRecord, type StoredVirtualMessage, type ViewRef } from './view-types.js';
import { describeEngineContract } from './contract-engine.js';

const T0 = Date.UTC(2031, 5, 1, 12);

export function describeViewContract(store: () => Store, tenant: () => Tenant, hashingTenant: () => Tenant): void {
  const viewRef = (mailbox = 'INBOX'): ViewRef => ({ id: tenant().id, keyspaceName: tenant().keyspaceName, userKey: `user-${randomBytes(4).toString('hex')}@example.org`, mailbox });

  function message(uid: number, overrides: Partial<StoredVirtualMessage> = {}): StoredVirtualMessage {
    return {
      uid,
      campaignId: '6c5a3f10-4e2b-11ef-8000-0242ac120002',
      campaignRevision: 3,
      variantId: 'b',
      origin: 'first',
      messageId: `<m${uid}.é@inlay.invalid>`,
      contentHash: 'ab'.repeat(32),
      size: 7,
      // Bytes a text column would mangle: NUL, 0xFF, a lone CR, CRLF.
      body: Buffer.from([0x00, 0xff, 0x0d, 0x41, 0x0d, 0x0a, 0x80]),
      internalDateMs: T0 - 1234,
      injectedAtMs: T0,
      flags: ['$Label1', '\\Flagged'],
      state: 'visible',
      assignmentId: 'assign-1',
      ...overrides,
    };
  }

  test('views: an unknown user has the empty view', async () => {
    expect(await store().getView(viewRef())).toEqual(EMPTY_VIEW);
  });

  test('views: the view state epoch (the UIDVALIDITY part) is kept, up to 2^32 − 1, and a later change leaves it', async () => {
    const ref = viewRef();
    const first = { uidValidity: 7, nextUid: 2, epoch: 1, stateEpoch: 0xffff_fffe };
    const written = await store().changeView(ref, () => ({ change: first, result: undefined }));
    expect(written.view.stateEpoch).toBe(0xffff_fffe);
    expect(await store().getView(ref)).toEqual(written.view);
    await store().changeView(ref, (current) => ({ change: { epoch: current.epoch + 1 }, result: undefined }));
    const after = await store().getView(ref);
    expect(after.stateEpoch).toBe(0xffff_fffe);
    expect(after.epoch).toBe(2);
  });

  test('views: a change reads back exactly, from getView and as changeView returns it', async () => {
    const ref = viewRef();
    const history = { '6c5a3f10-4e2b-11ef-8000-0242ac120002': { messages: 2, lastInjectedAtMs: T0 - 5, reinjectionsAfterExpunge: 1, lastEnd: 'expunged' as const, lastExpungedAtMs: T0 - 4 } };
    const first = { uidValidity: 4_000_000_000, nextUid: 20, epoch: 2, history, insert: [message(17), message(18, { variantId: null, flags: [], readAtMs: T0 + 1 })] };
    const written = await store().changeView(ref, (current) => ({ change: first, result: current }));
    expect(written.result).toEqual(EMPTY_VIEW);
    expect(written.view).toEqual(applyViewChange(EMPTY_VIEW, first));
    expect(await store().getView(ref)).toEqual(written.view);

    const second = { update: [{ uid: 17, state: 'expunged' as const, expungedAtMs: T0 + 2, dropBody: true, flags: ['\\Seen'], flagsChanges: 3 }, { uid: 18, withdrawnAtMs: T0 + 3 }] };
    const changed = await store().changeView(ref, () => ({ change: second, result: 'ok' }));
    expect(changed.view).toEqual(applyViewChange(written.view, second));
    expect(changed.view.messages[0]).not.toHaveProperty('body');
    expect(changed.view.messages.map((message) => message.flagsChanges)).toEqual([3, undefined]);
    expect(await store().getView(ref)).toEqual(changed.view);

    // A new UIDVALIDITY: every old row goes, even one whose UID is written again.
    const reset = { dropMessages: true, uidValidity: 4_000_000_001, nextUid: 1, insert: [message(18, { flags: [] })] };
    const after = await store().changeView(ref, () => ({ change: reset, result: undefined }));
    expect(after.view.messages).toEqual([message(18, { flags: [] })]);
    expect(await store().getView(ref)).toEqual(after.view);
  });

  test('views: the keyword list reads back, is kept by changes that do not name it, and goes with the UIDVALIDITY', async () => {
    const ref = viewRef();
    expect((await store().getView(ref)).keywords).toEqual([]);
    const first = await store().changeView(ref, () => ({ change: { uidValidity: 9, nextUid: 2, insert: [message(1)], keywords: ['$Junk', '$Label1'] }, result: undefined }));
    expect(first.view.keywords).toEqual(['$Junk', '$Label1']);
    expect(await store().getView(ref)).toEqual(first.view);
    // A change without a list (the message expunged, its keywords gone from every message) keeps it.
    const expunged = await store().changeView(ref, () => ({ change: { epoch: 1, update: [{ uid: 1, state: 'expunged' as const, flags: [], dropBody: true }] }, result: undefined }));
    expect(expunged.view.keywords).toEqual(['$Junk', '$Label1']);
    expect(await store().getView(ref)).toEqual(expunged.view);
    const grown = await store().changeView(ref, () => ({ change: { keywords: ['$Junk', '$Label1', '$Work'] }, result: undefined }));
    expect((await store().getView(ref)).keywords).toEqual(['$Junk', '$Label1', '$Work']);
    expect(await store().getView(ref)).toEqual(grown.view);
    const reset = await store().changeView(ref, () => ({ change: { dropMessages: true, uidValidity: 10, nextUid: 1, keywords: [] }, result: undefined }));
    expect(reset.view.keywords).toEqual([]);
    expect(await store().getView(ref)).toEqual(reset.view);
  });

  test('views: a decision that declines writes nothing; one that throws writes nothing and fails', async () => {
    const ref = viewRef();
    await store().changeView(ref, () => ({ change: { epoch: 1, nextUid: 2, insert: [message(1)] }, result: undefined }));
    const before = await store().getView(ref);
    expect(await store().changeView(ref, (current) => ({ change: null, result: current.epoch }))).toEqual({ view: before, result: 1 });
    await expect(
      store().changeView(ref, () => {
        throw new Error('refused by the decision');
      }),
    ).rejects.toThrow('refused by the decision');
    expect(await store().getView(ref)).toEqual(before);
  });

  test('views: concurrent changes each see the one before (no UID handed out twice, no epoch lost)', async () => {
    const ref = viewRef();
    const writers = 16;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, index) =>
        store().changeView(ref, (current) => ({
          change: { nextUid: current.nextUid + 1, epoch: current.epoch + 1, insert: [message(current.nextUid, { assignmentId: `writer-${index}` })] },
          result: current.nextUid,
        })),
      ),
    );
    const uids = results.map(({ result }) => result).sort((a, b) => a - b);
    expect(uids).toEqual(Array.from({ length: writers }, (_, index) => index + 1));
    const stored = await store().getView(ref);
    expect(stored).toMatchObject({ nextUid: writers + 1, epoch: writers });
    // Each UID carries the writer that was told it got that UID.
    results.forEach(({ result }, index) => expect(stored.messages.find((entry) => entry.uid === result)?.assignmentId).toBe(`writer-${index}`));
  });

  test('views: separate per user, per mailbox and per tenant', async () => {
    const ref = viewRef();
    await store().changeView(ref, () => ({ change: { epoch: 5, insert: [message(3)] }, result: undefined }));
    expect(await store().getView({ ...ref, mailbox: 'Archive' })).toEqual(EMPTY_VIEW);
    expect(await store().getView({ ...ref, userKey: `${ref.userKey}x` })).toEqual(EMPTY_VIEW);
    expect(await store().getView({ ...ref, keyspaceName: hashingTenant().keyspaceName })).toEqual(EMPTY_VIEW);
  });

  test('events: stored once per id however often and concurrently written, listed by time range', async () => {
    const base: Omit<EngineEventRecord, 'eventId' | 'occurredAt' | 'type' | 'uid'> = {
      tenantId: tenant().id,
      userKey: `events-${randomBytes(4).toString('hex')}`,
      mailbox: 'INBOX',
      uidValidity: 7,
      campaignId: '6c5a3f10-4e2b-11ef-8000-0242ac120002',
      variantId: null,
      objectId: '7:17',
      messageId: '<m@inlay.invalid>',
    };
    const hour = Date.UTC(2031, 6, 1, 10);
    const events: EngineEventRecord[] = [
      { ...base, eventId: 'b3f1c000-3c31-11f1-8000-010203040506', type: 'injected', uid: 17, occurredAt: new Date(hour) },
      { ...base, eventId: 'b3f1c001-3c31-11f1-8000-010203040506', type: 'read', uid: 17, variantId: 'a', occurredAt: new Date(hour + 59 * 60_000) },
      { ...base, eventId: '1d8f1400-3c3a-11f1-8000-010203040506', type: 'expunged', uid: 17, occurredAt: new Date(hour + 3_600_000) },
    ];
    await Promise.all([store().recordEvents(tenant(), events), store().recordEvents(tenant(), events), store().recordEvents(tenant(), [events[1]!, events[1]!])]);
    const mine = async (since: number, until: number) => (await store().listEvents(tenant(), { since: new Date(since), until: new Date(until) })).filter((event) => event.userKey === base.userKey);
    expect(await mine(hour, hour + 2 * 3_600_000)).toEqual(events);
    // since inclusive, until exclusive
    expect(await mine(hour + 1, hour + 3_600_000)).toEqual([events[1]]);
    expect(await mine(hour, hour)).toEqual([]);
    expect((await store().listEvents(hashingTenant(), { since: new Date(hour), until: new Date(hour + 7_200_000) })).filter((event) => event.userKey === base.userKey)).toEqual([]);
    await expect(store().listEvents(tenant(), { since: new Date(hour), until: new Date(hour + 32 * 86_400_000) })).rejects.toMatchObject({ code: 'INLAY_MW_VALIDATION' });
  });

  describeEngineContract(store, tenant, hashingTenant);
}
