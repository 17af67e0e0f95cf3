/**
 * The engine on top of each store (run by contract-views.ts inside the Store contract): what the
 * proxy relies on when several sessions, proxies and middleware nodes talk about one user at
 * once — an assign with a stale epoch does nothing, parallel assigns never hand out one UID twice,
 * a UID is never reused after an expunge or a withdrawal (nor across UIDVALIDITYs by a stale
 * session), and each event is stored once however many sessions report it.
 *
 * Each test is its own user with its own user list, and its campaigns target that list, so tests
 * sharing the tenant never see each other's campaigns. The clock is fixed and moved by hand.
 * Test support only: imports vitest.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { expect, test } from 'vitest';
import type { Campaign, EngineEventType, Tenant, ViewKey } from '@inlay/schemas';
import { Engine } from '../engine/engine.js';
import { testCampaign } from '../testing/campaign-fixture.js';
import { userKeyFor } from '../users/user-key.js';
import type { Store } from './store.js';

const HOUR = 3_600_000;

export function describeEngineContract(store: () => Store, tenant: () => Tenant, hashingTenant: () => Tenant): void {
  let nowMs = Date.UTC(2031, 5, 1, 12);
  /** One middleware node: its own caches (off) and the shared store and clock. */
  const node = (): Engine => new Engine({ store: store(), dataDir: tmpdir(), clock: () => new Date(nowMs), cacheMs: 0 });

  async function scenario(owner: Tenant = tenant()) {
    const list = `list-${randomBytes(4).toString('hex')}`;
    const login = `Reader.${list}@${owner.configuration.domains![0]!.toUpperCase()}`;
    const userKey = userKeyFor(owner, login);
    await store().upsertUsers(owner, [{ userKey, displayName: 'Zoë Example', attributes: { plan: 'gold' } }], list);
    const key: ViewKey = { login, mailbox: 'INBOX', serverUidValidity: 7 };
    return {
      key,
      userKey,
      viewRef: { id: owner.id, keyspaceName: owner.keyspaceName, userKey, mailbox: 'INBOX' },
      async campaign(overrides: Partial<Campaign> = {}): Promise<Campaign> {
        const campaign = testCampaign({ audience: { type: 'list', importId: list }, ...overrides });
        await store().createCampaign(owner, campaign);
        return campaign;
      },
      async events(type?: EngineEventType) {
        const all = await store().listEvents(owner, { since: new Date(nowMs - 2 * 24 * HOUR), until: new Date(nowMs + 2 * 24 * HOUR) });
        return all.filter((event) => event.userKey === userKey && (type === undefined || event.type === type));
      },
    };
  }

  test('engine: assign injects what applies, rendered for the user; a second assign adds nothing', async () => {
    const s = await scenario();
    const campaign = await s.campaign({ template: { subject: 'Hello {{displayName}}', from: 'Acme <news@acme.example>', html: '<p>{{plan}}</p>', text: '{{plan}}' } });
    const engine = node();
    const before = await engine.view(s.key);
    expect(before).toMatchObject({ known: true, epoch: 0, messages: [], pending: 1 });
    const result = await engine.assign({ ...s.key, epoch: before.epoch, anchorServerUid: 3 });
    expect(result).toMatchObject({ applied: true, assigned: [49], pending: 0, epoch: 0 });
    expect(result.messages).toEqual([{ uid: 49, campaignId: campaign.id, variantId: null, internalDate: new Date(nowMs).toISOString(), flags: [], rfc822: expect.any(String) }]);
    const rfc822 = Buffer.from(result.messages[0]!.rfc822, 'base64').toString('utf8');
    expect(rfc822).toMatch(/^Subject: .*Zo=C3=AB/m);
    expect(rfc822).toMatch(new RegExp(`^To: .*<${s.key.login.toLowerCase().replaceAll('.', '\\.')}>\r$`, 'm'));
    expect(rfc822).toContain('gold');
    const { applied: _applied, assigned: _assigned, ...view } = result;
    expect(await engine.view(s.key)).toEqual({ ...view, ttlMs: expect.any(Number) });
    expect((await engine.assign({ ...s.key, epoch: 0, anchorServerUid: 3 })).assigned).toEqual([]);
    expect(await s.events()).toMatchObject([{ type: 'injected', uid: 49, campaignId: campaign.id, tenantId: tenant().id, objectId: '7:49', uidValidity: 7 }]);
  });

  test('engine: an assign with a stale epoch does nothing', async () => {
    const s = await scenario();
    await s.campaign();
    const engine = node();
    const { epoch } = await engine.view(s.key);
    // Another session is about to show new real mail: it raises the epoch first.
    const revealed = await node().reveal(s.key);
    expect(revealed.epoch).toBe(epoch + 1);
    const stored = await store().getView(s.viewRef);
    const result = await engine.assign({ ...s.key, epoch, anchorServerUid: 1 });
    expect(result).toMatchObject({ applied: false, assigned: [], messages: [], pending: 1, epoch: epoch + 1 });
    expect(await store().getView(s.viewRef)).toEqual(stored);
    expect(await s.events()).toEqual([]);
    // With the epoch it read after the reveal (and an anchor learned after that), it applies.
    expect((await engine.assign({ ...s.key, epoch: epoch + 1, anchorServerUid: 2 })).assigned).toEqual([33]);
  });

  test('engine: many assigns in parallel, from several nodes and anchors, never hand out one UID twice', async () => {
    const s = await scenario();
    const campaigns = await Promise.all(Array.from({ length: 20 }, (_, index) => s.campaign({ priority: index })));
    const { epoch } = await node().view(s.key);
    const results = await Promise.all(Array.from({ length: 12 }, (_, index) => node().assign({ ...s.key, epoch, anchorServerUid: 1 + (index % 3) })));
    const assigned = results.flatMap((result) => result.assigned);
    expect(new Set(assigned).size).toBe(assigned.length);
    const final = await node().view(s.key);
    expect(final.messages.map((message) => message.uid)).toEqual([...assigned].sort((a, b) => a - b));
    expect(new Set(final.messages.map((message) => message.campaignId)).size).toBe(final.messages.length);
    for (const uid of assigned) expect(uid % 16).not.toBe(0);
    expect(final.messages.length + final.pending).toBe(campaigns.length);
    expect((await s.events('injected')).map((event) => event.uid).sort((a, b) => a - b)).toEqual(final.messages.map((message) => message.uid));
  });

  test('engine: UIDs are never reused after an expunge or a withdrawal; each comeback is reinjected', async () => {
    const s = await scenario();
    const engine = node();
    const returning = await s.campaign({ reinjection: { policy: 'afterExpunge', delayHours: 1, maxReinjections: 1 } });
    const steady = await s.campaign();
    const first = await engine.assign({ ...s.key, epoch: 0, anchorServerUid: 1 });
    // Equal priority: the older campaign first, so it takes the higher UID (shown on top).
    expect(first.messages.map((message) => [message.uid, message.campaignId])).toEqual([
      [17, steady.id],
      [18, returning.id],
    ]);

    expect((await engine.expunge({ ...s.key, uids: [18] })).messages.map((message) => message.uid)).toEqual([17]);
    expect(await engine.view(s.key)).toMatchObject({ pending: 0 });
    nowMs += HOUR;
    expect(await engine.view(s.key)).toMatchObject({ pending: 1 });
    expect((await engine.assign({ ...s.key, epoch: 0, anchorServerUid: 1 })).assigned).toEqual([19]);

    // Paused: withdrawn at the next view, for good. Resumed: back under a new UID.
    await store().updateCampaign(tenant(), steady.id, (current) => ({ ...current, status: 'paused' }));
    expect((await engine.view(s.key)).messages.map((message) => message.uid)).toEqual([19]);
    expect((await store().getView(s.viewRef)).messages.find((message) => message.uid === 17)).toMatchObject({ state: 'withdrawn' });
    await engine.flags({ ...s.key, changes: [{ uid: 17, mode: 'add', flags: ['\\Seen'] }] });
    await store().updateCampaign(tenant(), steady.id, (current) => ({ ...current, status: 'scheduled' }));
    expect((await engine.view(s.key)).messages.map((message) => message.uid)).toEqual([19]);
    expect((await engine.assign({ ...s.key, epoch: 0, anchorServerUid: 1 })).assigned).toEqual([20]);

    // Reinjected once already: after another expunge it stays away.
    await engine.expunge({ ...s.key, uids: [19, 404] });
    nowMs += 2 * HOUR;
    expect(await engine.view(s.key)).toMatchObject({ pending: 0, messages: [{ uid: 20, campaignId: steady.id }] });
    const events = (await s.events()).map((event) => `${event.type} ${event.uid}`);
    expect(events.sort()).toEqual(['expunged 18', 'expunged 19', 'injected 17', 'injected 18', 'reinjected 19', 'reinjected 20']);
  });

  test('engine: duplicate reports from many sessions on two nodes record each event once', async () => {
    const s = await scenario();
    await s.campaign();
    const [left, right] = [node(), node()];
    await left.assign({ ...s.key, epoch: 0, anchorServerUid: 1 });
    const seen = { ...s.key, changes: [{ uid: 17, mode: 'add' as const, flags: ['\\Seen'] }] };
    await Promise.all(Array.from({ length: 8 }, (_, index) => (index % 2 ? left : right).flags(seen)));
    expect((await left.view(s.key)).messages[0]?.flags).toEqual(['\\Seen']);
    // Unread and read again: still the one read event, at the first read's time.
    nowMs += 1000;
    await left.flags({ ...s.key, changes: [{ uid: 17, mode: 'remove', flags: ['\\Seen'] }] });
    await right.flags(seen);
    await Promise.all(Array.from({ length: 8 }, (_, index) => (index % 2 ? left : right).expunge({ ...s.key, uids: [17] })));
    const events = await s.events();
    expect(events.map((event) => event.type).sort()).toEqual(['expunged', 'injected', 'read']);
    expect(events.find((event) => event.type === 'read')?.occurredAt).toEqual(new Date(nowMs - 1000));
  });

  test('engine: a new UIDVALIDITY starts an empty view with UIDs from 1; the campaign history stays; an older one is stale', async () => {
    const s = await scenario();
    const once = await s.campaign();
    const engine = node();
    await engine.assign({ ...s.key, epoch: 0, anchorServerUid: 1 });
    await engine.expunge({ ...s.key, uids: [17] });
    const renewed = { ...s.key, serverUidValidity: 8 };
    expect(await engine.view(renewed)).toMatchObject({ known: true, messages: [], pending: 0 });
    const fresh = await s.campaign();
    expect(await engine.view(renewed)).toMatchObject({ pending: 1 });
    expect(await engine.assign({ ...renewed, epoch: 0, anchorServerUid: 0 })).toMatchObject({ applied: true, assigned: [1], messages: [{ uid: 1, campaignId: fresh.id }] });
    const stored = await store().getView(s.viewRef);
    expect(stored).toMatchObject({ uidValidity: 8, nextUid: 2, history: { [once.id]: { messages: 1, lastEnd: 'expunged' } } });
    expect(stored.messages.map((message) => message.uid)).toEqual([1]);
    // A session still on the old UIDVALIDITY changes nothing and is shown nothing.
    expect(await engine.view(s.key)).toMatchObject({ messages: [], pending: 0 });
    expect(await engine.assign({ ...s.key, epoch: 0, anchorServerUid: 5 })).toMatchObject({ applied: false, assigned: [] });
    await engine.flags({ ...s.key, changes: [{ uid: 1, mode: 'add', flags: ['\\Seen'] }] });
    await engine.expunge({ ...s.key, uids: [1] });
    expect(await store().getView(s.viewRef)).toEqual(stored);
  });

  test('engine: every keyword a client names on a virtual message stays in the view, for every node, until the UIDVALIDITY changes', async () => {
    const s = await scenario();
    await s.campaign();
    const engine = node();
    await engine.assign({ ...s.key, epoch: 0, anchorServerUid: 1 });
    expect((await engine.view(s.key)).keywords).toEqual([]);
    await engine.flags({ ...s.key, changes: [{ uid: 17, mode: 'add', flags: ['\\Seen', '$label1', 'Work'] }] });
    // Removing a keyword no message has creates nothing, as on Dovecot; the spelling first stored stays.
    await engine.flags({ ...s.key, changes: [{ uid: 17, mode: 'remove', flags: ['$Junk', '$label1'] }, { uid: 17, mode: 'add', flags: ['$LABEL1'] }] });
    expect((await engine.expunge({ ...s.key, uids: [17] })).keywords).toEqual(['$label1', 'Work']);
    expect(await node().view(s.key)).toMatchObject({ messages: [], keywords: ['$label1', 'Work'] });
    expect((await store().getView(s.viewRef)).keywords).toEqual(['$label1', 'Work']);
    expect((await engine.view({ ...s.key, serverUidValidity: 8 })).keywords).toEqual([]);
  });

  test('engine: a hashing tenant knows the user by the HMAC only; an unknown domain is no one', async () => {
    const s = await scenario(hashingTenant());
    await s.campaign();
    const result = await node().assign({ ...s.key, epoch: 0, anchorServerUid: 1 });
    expect(result.assigned).toEqual([17]);
    expect(s.userKey).toMatch(/^[0-9a-f]{64}$/);
    const events = await store().listEvents(hashingTenant(), { since: new Date(nowMs - HOUR), until: new Date(nowMs + HOUR) });
    expect(events.filter((event) => event.userKey === s.userKey)).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(s.key.login.toLowerCase());
    expect(await node().view({ ...s.key, login: `nobody@unknown-${randomBytes(4).toString('hex')}.example` })).toEqual({ known: false, epoch: 0, messages: [], keywords: [], pending: 0, ttlMs: 5000 });
  });
}
