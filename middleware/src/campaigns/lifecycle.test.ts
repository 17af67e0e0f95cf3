// The campaign state machine on its own: effective status against the clock, allowed actions,
// and what each action does from each status.
import { describe, expect, test } from 'vitest';
import type { Campaign, CampaignAction, CampaignStatus } from '@inlay/schemas';
import { allowedActions, applyAction, effectiveStatus, isDeletable, isEditable, nextStatus } from './lifecycle.js';
import { newCampaignId } from './campaign-id.js';

const schedule = { startAt: '2031-01-01T00:00:00.000Z', endAt: '2031-01-02T00:00:00.000Z', timeZone: 'UTC' };
const before = new Date('2030-12-31T23:59:59.999Z');
const during = new Date('2031-01-01T12:00:00.000Z');
const after = new Date('2031-01-02T00:00:00.000Z');

function campaign(status: Campaign['status']): Campaign {
  return {
    id: newCampaignId(),
    status,
    revision: 1,
    createdAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:00:00.000Z',
    name: 'c',
    template: { objectKey: 'k' },
    audience: { type: 'all' },
    schedule,
    position: { type: 'newest' },
    frequency: { maxVisibleUnseen: 1, minDelayMinutes: 0 },
    reinjection: { policy: 'never' },
    priority: 0,
  };
}

describe('effectiveStatus', () => {
  test.each([
    ['draft', before, 'draft'],
    ['draft', after, 'draft'],
    ['scheduled', before, 'scheduled'],
    ['scheduled', during, 'running'],
    ['scheduled', after, 'ended'],
    ['paused', during, 'paused'],
    ['paused', after, 'ended'],
    ['ended', before, 'ended'],
  ] as const)('stored %s at %s is %s', (stored, now, expected) => {
    expect(effectiveStatus(campaign(stored), now)).toBe(expected);
  });
});

describe('transitions', () => {
  const table: Record<CampaignStatus, Partial<Record<CampaignAction, string>>> = {
    draft: { schedule: 'scheduled', end: 'ended' },
    scheduled: { pause: 'paused', end: 'ended' },
    running: { pause: 'paused', end: 'ended' },
    paused: { resume: 'scheduled', end: 'ended' },
    ended: {},
  };
  test.each(Object.entries(table))('from %s', (status, allowed) => {
    for (const action of ['schedule', 'pause', 'resume', 'end'] as const) expect(nextStatus(status as CampaignStatus, action), action).toBe(allowed[action]);
    expect(allowedActions(status as CampaignStatus)).toEqual(Object.keys(allowed));
  });

  test('edit and delete rules', () => {
    expect((['draft', 'scheduled', 'running', 'paused', 'ended'] as const).map((status) => [status, isEditable(status), isDeletable(status)])).toEqual([
      ['draft', true, true],
      ['scheduled', true, true],
      ['running', false, false],
      ['paused', true, true],
      ['ended', false, true],
    ]);
  });

  test('applyAction changes only the status, and refuses with INLAY_MW_CAMPAIGN_STATE', () => {
    const draft = campaign('draft');
    expect(applyAction(draft, 'schedule', before)).toEqual({ ...draft, status: 'scheduled' });
    expect(() => applyAction(draft, 'schedule', after)).toThrow(/schedule\.endAt has passed/);
    expect(() => applyAction(campaign('scheduled'), 'resume', during)).toThrow(expect.objectContaining({ code: 'INLAY_MW_CAMPAIGN_STATE', message: expect.stringContaining('is running: cannot resume (allowed: pause, end)') }));
    expect(applyAction(campaign('scheduled'), 'pause', during).status).toBe('paused');
  });
});

test('campaign ids are version-1 UUIDs, distinct and time-ordered within a millisecond', () => {
  const ids = Array.from({ length: 50 }, () => newCampaignId(Date.UTC(2031, 0, 1)));
  expect(new Set(ids).size).toBe(50);
  for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // time_low grows with each id of one millisecond.
  const timeLows = ids.map((id) => parseInt(id.slice(0, 8), 16));
  expect([...timeLows].sort((a, b) => a - b)).toEqual(timeLows);
});
