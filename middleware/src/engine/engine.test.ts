// The engine on the embedded store with a fixed clock moved by hand: tenant resolution, audiences
// and daily windows turning on and off (withdrawal, then a new UID), ttl near boundaries, the
// anchor's gap filling up, positions, variants and a template that fails to render. What must
// hold on every store (concurrency, stale epochs, events once) is in store/contract-engine.ts.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Campaign, Tenant, ViewKey } from '@inlay/schemas';
import { EmbeddedStore } from '../store/embedded-store.js';
import { testCampaign } from '../testing/campaign-fixture.js';
import { hashAddress } from '../users/user-key.js';
import { Engine } from './engine.js';
import { tenantForLogin } from './tenant-directory.js';

const MINUTE = 60_000;
let dir: string;
let store: EmbeddedStore;
let nowMs = Date.UTC(2031, 5, 1, 12);
let engine: Engine;

function tenant(id: string, overrides: Partial<Tenant['configuration']> = {}): Tenant {
  return { id, name: id, keyspaceName: `ks_${id}`, configuration: { secretKey: `key-${id}`, hashedEmailAddresses: false, ...overrides }, conversionPoints: [], dataSources: [] };
}

const acme = tenant('acme', { domains: ['acme.example', 'acme-mail.example'] });
const hashing = tenant('hashing', { hashedEmailAddresses: true, domains: ['hashing.example'] });
const fallback = tenant('default');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inlay-engine-'));
  store = EmbeddedStore.open(dir);
  for (const entry of [acme, hashing, fallback]) await store.createTenant(entry, { createDB: true });
  engine = new Engine({ store, dataDir: dir, clock: () => new Date(nowMs), cacheMs: 0 });
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

let users = 0;
/** A fresh user at acme (or another tenant) and a helper to add campaigns aimed at that user only. */
async function user(owner: Tenant = acme, attributes: Record<string, string> = {}) {
  users += 1;
  const list = `list-${users}`;
  const login = `user${users}@${owner.configuration.domains?.[0] ?? 'elsewhere.example'}`;
  await store.upsertUsers(owner, [{ userKey: login, attributes }], list);
  const key: ViewKey = { login, mailbox: 'INBOX', serverUidValidity: 1 };
  const campaign = async (overrides: Partial<Campaign> = {}): Promise<Campaign> => {
    const made = testCampaign({ audience: { type: 'list', importId: list }, ...overrides });
    await store.createCampaign(owner, made);
    return made;
  };
  const uids = async () => (await engine.view(key)).messages.map((message) => message.uid);
  return { key, login, list, campaign, uids };
}

describe('tenants and users', () => {
  test('a login belongs to the tenant listing its domain, else to "default", else to no one', () => {
    expect(tenantForLogin([acme, fallback, hashing], ' Anna@ACME-Mail.Example ')?.id).toBe('acme');
    expect(tenantForLogin([acme, fallback], 'anna@other.example')?.id).toBe('default');
    expect(tenantForLogin([acme, fallback], 'anna')?.id).toBe('default');
    expect(tenantForLogin([acme], 'anna@other.example')).toBeUndefined();
    // Two tenants claiming one domain (a race past the check): the lowest id, everywhere.
    const twin = { ...tenant('zeta'), configuration: { ...acme.configuration } };
    expect(tenantForLogin([twin, acme], 'x@acme.example')?.id).toBe('acme');
  });

  test('a hashing tenant finds its users by HMAC', async () => {
    const login = 'Hidden@Hashing.Example';
    await store.upsertUsers(hashing, [{ userKey: hashAddress('key-hashing', login), attributes: { tier: 'gold' } }], 'vip');
    await store.createCampaign(hashing, testCampaign({ audience: { type: 'rules', rules: [{ attribute: 'tier', op: 'eq', value: 'gold' }] } }));
    const key: ViewKey = { login, mailbox: 'INBOX', serverUidValidity: 1 };
    expect(await engine.view(key)).toMatchObject({ known: true, pending: 1 });
    expect((await engine.assign({ ...key, epoch: 0, anchorServerUid: 0 })).assigned).toEqual([1]);
    expect((await store.getView({ keyspaceName: hashing.keyspaceName, userKey: hashAddress('key-hashing', login), mailbox: 'INBOX' })).messages).toHaveLength(1);
  });
});

describe('what applies, and withdrawal', () => {
  test('a user who leaves the audience loses the message for good; back in, a new UID', async () => {
    const u = await user(acme, { plan: 'gold' });
    await store.createCampaign(acme, testCampaign({ audience: { type: 'rules', match: 'all', rules: [{ attribute: 'plan', op: 'eq', value: 'gold' }, { attribute: 'marker', op: 'eq', value: u.list }] } }));
    await store.upsertUsers(acme, [{ userKey: u.login, attributes: { marker: u.list } }], u.list);
    expect((await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 })).assigned).toEqual([17]);
    await store.upsertUsers(acme, [{ userKey: u.login, attributes: { plan: 'silver' } }], u.list);
    expect(await engine.view(u.key)).toMatchObject({ messages: [], pending: 0 });
    await store.upsertUsers(acme, [{ userKey: u.login, attributes: { plan: 'gold' } }], u.list);
    expect(await engine.view(u.key)).toMatchObject({ messages: [], pending: 1 });
    expect((await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 })).assigned).toEqual([18]);
  });

  test('a daily window closes (withdrawn) and opens again (reinjected under a new UID); ttl stops at the edges', async () => {
    nowMs = Date.UTC(2031, 5, 2, 8, 59, 58);
    const u = await user();
    await u.campaign({ schedule: { startAt: '2031-01-01T00:00:00Z', endAt: '2032-01-01T00:00:00Z', dailyWindow: { from: '11:00', to: '13:00' }, timeZone: 'Europe/Berlin' } });
    // 10:59:58 in Berlin (summer time): the window opens in two seconds.
    expect(await engine.view(u.key)).toMatchObject({ pending: 0, ttlMs: 2000 });
    nowMs += 2000;
    expect(await engine.view(u.key)).toMatchObject({ pending: 1 });
    expect((await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 })).assigned).toEqual([17]);
    nowMs = Date.UTC(2031, 5, 2, 10, 59, 59, 500);
    expect(await engine.view(u.key)).toMatchObject({ messages: [{ uid: 17 }], ttlMs: 500 });
    nowMs += 500;
    expect(await engine.view(u.key)).toMatchObject({ messages: [], pending: 0 });
    nowMs = Date.UTC(2031, 5, 3, 9);
    expect((await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 })).assigned).toEqual([18]);
    expect(await store.listEvents(acme, { since: new Date(Date.UTC(2031, 5, 2)), until: new Date(Date.UTC(2031, 5, 4)) })).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'injected', uid: 17 }), expect.objectContaining({ type: 'reinjected', uid: 18 })]),
    );
  });

  test('an ended, deleted or paused campaign is withdrawn; ttl shrinks before an end', async () => {
    nowMs = Date.UTC(2031, 5, 1, 12);
    const u = await user();
    const ending = await u.campaign({ schedule: { startAt: '2031-01-01T00:00:00Z', endAt: new Date(nowMs + 1500).toISOString(), timeZone: 'UTC' } });
    const deleted = await u.campaign();
    const paused = await u.campaign();
    expect((await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 })).messages.map((message) => message.campaignId).sort()).toEqual([ending.id, deleted.id, paused.id].sort());
    expect((await engine.view(u.key)).ttlMs).toBe(1500);
    nowMs += 1500;
    await store.deleteCampaign(acme, deleted.id);
    await store.updateCampaign(acme, paused.id, (current) => ({ ...current, status: 'paused' }));
    // Nothing listed, but the three UIDs (17, 18, 19 after server UID 1) stay handed out.
    expect(await engine.view(u.key)).toMatchObject({ messages: [], uidNext: 20, pending: 0, ttlMs: 5000 });
    expect((await store.getView({ keyspaceName: acme.keyspaceName, userKey: u.login, mailbox: 'INBOX' })).messages.map((message) => message.state)).toEqual(['withdrawn', 'withdrawn', 'withdrawn']);
  });

  test('minDelayMinutes keeps a comeback waiting, and the ttl ends when the wait does', async () => {
    nowMs = Date.UTC(2031, 5, 1, 12);
    const u = await user();
    const campaign = await u.campaign({ frequency: { maxVisibleUnseen: 1, minDelayMinutes: 10 } });
    await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 });
    await store.updateCampaign(acme, campaign.id, (current) => ({ ...current, status: 'paused' }));
    await engine.view(u.key);
    await store.updateCampaign(acme, campaign.id, (current) => ({ ...current, status: 'scheduled' }));
    nowMs += 10 * MINUTE - 3000;
    expect(await engine.view(u.key)).toMatchObject({ pending: 0, ttlMs: 3000 });
    nowMs += 3000;
    expect(await engine.view(u.key)).toMatchObject({ pending: 1 });
  });
});

describe('assignment', () => {
  test("the anchor's gap holds 15: the rest waits for a later anchor; priority decides who waits", async () => {
    const u = await user();
    const campaigns = await Promise.all(Array.from({ length: 17 }, (_, index) => u.campaign({ priority: index })));
    const first = await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 });
    expect(first.assigned).toEqual(Array.from({ length: 15 }, (_, index) => 17 + index));
    expect(first.pending).toBe(2);
    // The two lowest priorities wait; the highest has the highest UID.
    expect(first.messages.at(-1)?.campaignId).toBe(campaigns[16]!.id);
    expect(first.messages.map((message) => message.campaignId)).not.toContain(campaigns[0]!.id);
    expect((await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 })).assigned).toEqual([]);
    expect((await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 2 })).assigned).toEqual([33, 34]);
  });

  test('position fixedDate dates the message; newest dates it now; the Date header agrees', async () => {
    const u = await user();
    const fixed = await u.campaign({ position: { type: 'fixedDate', date: '2031-05-01T06:30:00.000Z' } });
    const newest = await u.campaign();
    const result = await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 });
    const byCampaign = new Map(result.messages.map((message) => [message.campaignId, message]));
    expect(byCampaign.get(fixed.id)?.internalDate).toBe('2031-05-01T06:30:00.000Z');
    expect(Buffer.from(byCampaign.get(fixed.id)!.rfc822, 'base64').toString()).toMatch(/^Date: Thu, 01 May 2031 06:30:00 \+0000\r$/m);
    expect(byCampaign.get(newest.id)?.internalDate).toBe(new Date(nowMs).toISOString());
  });

  test('a variant per user, stable; a reinjection gets a Message-ID of its own', async () => {
    const u = await user();
    const campaign = await u.campaign({
      variants: [
        { id: 'a', weight: 1, template: { subject: 'A', from: 'a@acme.example', html: 'A', text: 'A' } },
        { id: 'b', weight: 1, template: { subject: 'B', from: 'b@acme.example', html: 'B', text: 'B' } },
      ],
    });
    const first = (await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 })).messages[0]!;
    expect(['a', 'b']).toContain(first.variantId);
    const subject = Buffer.from(first.rfc822, 'base64').toString().match(/^Subject: (\w)\r$/m)?.[1];
    expect(subject?.toLowerCase()).toBe(first.variantId);
    await store.updateCampaign(acme, campaign.id, (current) => ({ ...current, status: 'paused' }));
    await engine.view(u.key);
    await store.updateCampaign(acme, campaign.id, (current) => ({ ...current, status: 'scheduled' }));
    const second = (await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 })).messages[0]!;
    expect(second.variantId).toBe(first.variantId);
    const unfolded = (message: typeof first) => Buffer.from(message.rfc822, 'base64').toString().replace(/\r\n[ \t]+/g, ' ');
    const messageId = (message: typeof first) => unfolded(message).match(/^Message-ID: (<[^>]+>)\r$/m)?.[1];
    expect(messageId(second)).not.toBe(messageId(first));
    expect(messageId(second)).toMatch(/\.2@inlay\.invalid>$/);
  });

  test('a campaign whose template cannot be rendered is left out; the others go in', async () => {
    const u = await user();
    const broken = await u.campaign({ template: { objectKey: 'missing/template.json' } });
    await mkdir(join(dir, 'templates', 'acme', 'ok'), { recursive: true });
    await writeFile(join(dir, 'templates', 'acme', 'ok', 'template.json'), JSON.stringify({ subject: 'From a file', from: 'f@acme.example', html: '<b>f</b>', text: 'f' }));
    const fromFile = await u.campaign({ template: { objectKey: 'ok/template.json' } });
    const result = await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 1 });
    expect(result.messages.map((message) => message.campaignId)).toEqual([fromFile.id]);
    expect(Buffer.from(result.messages[0]!.rfc822, 'base64').toString()).toMatch(/^Subject: From a file\r$/m);
    // Still pending: an assign tries again once the template is there.
    expect(result.pending).toBe(1);
    expect(broken.id).toBeDefined();
  });

  test('a campaign that fails to render gives its slot to the next one', async () => {
    const u = await user();
    await u.campaign({ priority: 9, template: { objectKey: 'missing/template.json' } });
    const next = await u.campaign({ priority: 1 });
    // One free slot left after anchor 0: UID 15.
    await store.changeView({ keyspaceName: acme.keyspaceName, userKey: u.login, mailbox: 'INBOX' }, () => ({ change: { uidValidity: 1, nextUid: 15 }, result: undefined }));
    const result = await engine.assign({ ...u.key, epoch: 0, anchorServerUid: 0 });
    expect(result).toMatchObject({ assigned: [15], pending: 1, messages: [{ uid: 15, campaignId: next.id }] });
  });
});
