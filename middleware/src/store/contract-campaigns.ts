/**
 * The campaigns part of the Store contract (contract.ts runs it for every store inside its own
 * suite, on tenant keyspaces it created). Test support only: imports vitest.
 */
import { expect, test } from 'vitest';
import type { Campaign, StoredCampaignStatus } from '@inlay/schemas';
import { newCampaignId } from '../campaigns/campaign-id.js';
import type { Store, TenantRef } from './store.js';

export function describeCampaignContract(store: () => Store, tenant: () => TenantRef, otherTenant: () => TenantRef): void {
  let clockMs = Date.UTC(2031, 0, 1);

  function campaign(overrides: Partial<Campaign> = {}): Campaign {
    // Whole milliseconds, one apart, so creation order is unambiguous in both stores.
    clockMs += 1;
    const at = new Date(clockMs).toISOString();
    return {
      id: newCampaignId(clockMs),
      status: 'draft',
      revision: 1,
      createdAt: at,
      updatedAt: at,
      // Unicode both stores must keep exactly.
      name: `Kampagne \u200f😀 ${clockMs}`,
      template: { subject: 'Hallo {{displayName}} — 👋', from: '"Acme, Inc." <news@acme.example>', html: '<p>ü\n{{#if vip}}VIP{{/if}}</p>', text: 'ü\r\n' },
      audience: { type: 'rules', match: 'any', rules: [{ attribute: 'plan', op: 'in', value: ['gold', 'ß'] }, { attribute: 'age', op: 'gt', value: 30 }, { attribute: 'vip', op: 'exists' }] },
      schedule: { startAt: '2031-02-01T08:00:00.000Z', endAt: '2031-03-01T08:00:00.000Z', dailyWindow: { from: '22:00', to: '06:00' }, timeZone: 'Europe/Berlin' },
      position: { type: 'fixedDate', date: '2031-02-01T00:00:00.000Z' },
      frequency: { maxVisibleUnseen: 2, minDelayMinutes: 30 },
      reinjection: { policy: 'afterExpunge', delayHours: 24, maxReinjections: 2 },
      priority: -3,
      variants: [
        { id: 'a', weight: 3, template: { objectKey: 'templates/a.hbs', dataSourceId: 'default' } },
        { id: 'b', weight: 1, template: { subject: 'B', from: 'b@acme.example', html: '', text: '' } },
      ],
      ...overrides,
    };
  }

  const pausedIfScheduled = (current: Campaign): Campaign => {
    if (current.status !== 'scheduled') throw Object.assign(new Error(`not scheduled but ${current.status}`), { code: 'TEST_STALE' });
    return { ...current, status: 'paused' };
  };

  test('campaigns: a created campaign reads back exactly; an unknown id is undefined', async () => {
    const created = campaign();
    await store().createCampaign(tenant(), created);
    expect(await store().getCampaign(tenant(), created.id)).toEqual(created);
    expect(await store().getCampaign(tenant(), newCampaignId())).toBeUndefined();
    // Another tenant's keyspace does not see it.
    expect(await store().getCampaign(otherTenant(), created.id)).toBeUndefined();
    await store().deleteCampaign(tenant(), created.id);
  });

  test('campaigns: listed oldest first, filtered by stored status, per tenant', async () => {
    const statuses: StoredCampaignStatus[] = ['draft', 'scheduled', 'paused', 'ended', 'scheduled'];
    const made = statuses.map((status) => campaign({ status }));
    // Created out of order: the list orders them anyway.
    for (const entry of [...made].reverse()) await store().createCampaign(tenant(), entry);
    const foreign = campaign();
    await store().createCampaign(otherTenant(), foreign);

    expect(await store().listCampaigns(tenant())).toEqual(made);
    expect(await store().listCampaigns(tenant(), { statuses: ['scheduled'] })).toEqual([made[1], made[4]]);
    expect(await store().listCampaigns(tenant(), { statuses: ['paused', 'ended'] })).toEqual([made[2], made[3]]);
    expect(await store().listCampaigns(tenant(), { statuses: [] })).toEqual([]);
    expect(await store().listCampaigns(otherTenant())).toEqual([foreign]);

    for (const entry of made) await store().deleteCampaign(tenant(), entry.id);
    await store().deleteCampaign(otherTenant(), foreign.id);
    expect(await store().listCampaigns(tenant())).toEqual([]);
  });

  test('campaigns: update applies change(current), keeps id and createdAt, raises the revision', async () => {
    const created = campaign();
    await store().createCampaign(tenant(), created);
    let seen: Campaign | undefined;
    const { variants: _dropped, ...withoutVariants } = created;
    const updated = await store().updateCampaign(tenant(), created.id, (current) => {
      seen = current;
      // A change cannot move the id, the creation time or the revision.
      return { ...withoutVariants, id: newCampaignId(), createdAt: 'tampered', revision: 99, name: 'renamed', status: 'scheduled', updatedAt: '2031-01-05T00:00:00.000Z' };
    });
    expect(seen).toEqual(created);
    expect(updated).toEqual({ ...withoutVariants, name: 'renamed', status: 'scheduled', revision: 2, updatedAt: '2031-01-05T00:00:00.000Z' });
    expect(await store().getCampaign(tenant(), created.id)).toEqual(updated);
    expect(await store().listCampaigns(tenant(), { statuses: ['scheduled'] })).toEqual([updated]);
    await store().deleteCampaign(tenant(), created.id);
  });

  test('campaigns: a change that throws writes nothing; an unknown id is CAMPAIGN_NOT_FOUND', async () => {
    const created = campaign();
    await store().createCampaign(tenant(), created);
    await expect(store().updateCampaign(tenant(), created.id, pausedIfScheduled)).rejects.toThrow('not scheduled but draft');
    expect(await store().getCampaign(tenant(), created.id)).toEqual(created);
    await expect(store().updateCampaign(tenant(), newCampaignId(), (current) => current)).rejects.toMatchObject({ code: 'INLAY_MW_CAMPAIGN_NOT_FOUND' });
    await store().deleteCampaign(tenant(), created.id);
  });

  test('campaigns: of concurrent transitions from one status exactly one applies; concurrent edits are all applied', async () => {
    const created = campaign({ status: 'scheduled' });
    await store().createCampaign(tenant(), created);
    const racing = await Promise.allSettled(Array.from({ length: 4 }, () => store().updateCampaign(tenant(), created.id, pausedIfScheduled)));
    expect(racing.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of racing) if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 'TEST_STALE' });
    expect(await store().getCampaign(tenant(), created.id)).toMatchObject({ status: 'paused', revision: 2 });

    // Each change depends on what it read: none may be lost.
    await Promise.all(Array.from({ length: 4 }, (_, index) => store().updateCampaign(tenant(), created.id, (current) => ({ ...current, name: `${current.name}+${index}` }))));
    const after = await store().getCampaign(tenant(), created.id);
    expect(after?.revision).toBe(6);
    expect(after?.name.split('+').slice(1).sort()).toEqual(['0', '1', '2', '3']);
    await store().deleteCampaign(tenant(), created.id);
  });

  test('campaigns: delete runs its check atomically, returns the campaign, and is then CAMPAIGN_NOT_FOUND', async () => {
    const created = campaign({ status: 'scheduled' });
    await store().createCampaign(tenant(), created);
    const refuse = (current: Campaign): void => {
      if (current.status === 'scheduled') throw new Error('refused: scheduled');
    };
    await expect(store().deleteCampaign(tenant(), created.id, refuse)).rejects.toThrow('refused: scheduled');
    expect(await store().getCampaign(tenant(), created.id)).toEqual(created);
    expect(await store().deleteCampaign(tenant(), created.id)).toEqual(created);
    expect(await store().getCampaign(tenant(), created.id)).toBeUndefined();
    expect(await store().listCampaigns(tenant())).toEqual([]);
    await expect(store().deleteCampaign(tenant(), created.id)).rejects.toMatchObject({ code: 'INLAY_MW_CAMPAIGN_NOT_FOUND' });
  });
}
