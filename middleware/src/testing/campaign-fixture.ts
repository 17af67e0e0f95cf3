/**
 * Test support: a stored campaign with every field set, running through 2031 for everyone, with
 * an inline template; tests override what they are about. Ids are fresh timeuuids in creation
 * order (createdAt follows them). Nothing in the running middleware imports this module.
 */
import type { Campaign } from '@inlay/schemas';
import { newCampaignId } from '../campaigns/campaign-id.js';

let clockMs = Date.UTC(2030, 0, 1);

export function testCampaign(overrides: Partial<Campaign> = {}): Campaign {
  // Whole milliseconds, one apart, so creation order is unambiguous.
  clockMs += 1;
  const at = new Date(clockMs).toISOString();
  return {
    id: newCampaignId(clockMs),
    status: 'scheduled',
    revision: 1,
    createdAt: at,
    updatedAt: at,
    name: `Campaign ${clockMs}`,
    template: { subject: 'Hello {{displayName}}', from: 'Acme <news@acme.example>', html: '<p>Hi {{address}}</p>', text: 'Hi {{address}}' },
    audience: { type: 'all' },
    schedule: { startAt: '2031-01-01T00:00:00.000Z', endAt: '2032-01-01T00:00:00.000Z', timeZone: 'UTC' },
    position: { type: 'newest' },
    frequency: { maxVisibleUnseen: 1, minDelayMinutes: 0 },
    reinjection: { policy: 'never' },
    priority: 0,
    ...overrides,
  };
}
