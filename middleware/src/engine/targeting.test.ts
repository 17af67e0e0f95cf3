// Which campaigns apply to a user at a fixed moment: status against the clock, daily windows in
// time zones (across midnight, across a DST change), every audience rule, and the boundaries that
// bound a view's ttl.
import { describe, expect, test } from 'vitest';
import type { AudienceRule, Campaign } from '@inlay/schemas';
import { appliesNow, audienceMatches, byPriority, inDailyWindow, localTimeOfDayMs, msUntilNextBoundary, msUntilWindowEdge, ruleHolds } from './targeting.js';
import { testCampaign } from '../testing/campaign-fixture.js';

const at = (iso: string): Date => new Date(iso);
const user = (attributes: Record<string, string> = {}, lists: string[] = []) => ({ attributes, lists });

describe('status and schedule', () => {
  const campaign = testCampaign({ schedule: { startAt: '2031-03-01T08:00:00.000Z', endAt: '2031-03-02T08:00:00.000Z', timeZone: 'UTC' } });

  test('a scheduled campaign applies from startAt (inclusive) to endAt (exclusive)', () => {
    expect(appliesNow(campaign, user(), at('2031-03-01T07:59:59.999Z'))).toBe(false);
    expect(appliesNow(campaign, user(), at('2031-03-01T08:00:00.000Z'))).toBe(true);
    expect(appliesNow(campaign, user(), at('2031-03-02T07:59:59.999Z'))).toBe(true);
    expect(appliesNow(campaign, user(), at('2031-03-02T08:00:00.000Z'))).toBe(false);
  });

  test('draft, paused and ended campaigns never apply', () => {
    for (const status of ['draft', 'paused', 'ended'] as const) expect(appliesNow({ ...campaign, status }, user(), at('2031-03-01T12:00:00Z'))).toBe(false);
  });
});

describe('daily windows', () => {
  const schedule = (from: string, to: string, timeZone = 'UTC'): Campaign['schedule'] => ({
    startAt: '2031-01-01T00:00:00Z',
    endAt: '2032-01-01T00:00:00Z',
    dailyWindow: { from, to },
    timeZone,
  });

  test('from < to: [from, to) local time', () => {
    expect(inDailyWindow(schedule('09:00', '17:30'), at('2031-05-05T08:59:59Z'))).toBe(false);
    expect(inDailyWindow(schedule('09:00', '17:30'), at('2031-05-05T09:00:00Z'))).toBe(true);
    expect(inDailyWindow(schedule('09:00', '17:30'), at('2031-05-05T17:29:59Z'))).toBe(true);
    expect(inDailyWindow(schedule('09:00', '17:30'), at('2031-05-05T17:30:00Z'))).toBe(false);
  });

  test('from > to spans midnight', () => {
    const night = schedule('22:00', '06:00');
    expect(inDailyWindow(night, at('2031-05-05T21:59:00Z'))).toBe(false);
    expect(inDailyWindow(night, at('2031-05-05T22:00:00Z'))).toBe(true);
    expect(inDailyWindow(night, at('2031-05-06T00:30:00Z'))).toBe(true);
    expect(inDailyWindow(night, at('2031-05-06T05:59:59Z'))).toBe(true);
    expect(inDailyWindow(night, at('2031-05-06T06:00:00Z'))).toBe(false);
    expect(inDailyWindow(night, at('2031-05-06T12:00:00Z'))).toBe(false);
  });

  test('from = to is the whole day; no window is always', () => {
    expect(inDailyWindow(schedule('08:00', '08:00'), at('2031-05-05T03:00:00Z'))).toBe(true);
    expect(inDailyWindow({ startAt: '2031-01-01T00:00:00Z', endAt: '2032-01-01T00:00:00Z', timeZone: 'UTC' }, at('2031-05-05T03:00:00Z'))).toBe(true);
  });

  test("in the campaign's time zone, with daylight saving", () => {
    // Berlin is UTC+1 in winter, UTC+2 in summer: 09:00 local is 08:00Z, then 07:00Z.
    const berlin = schedule('09:00', '10:00', 'Europe/Berlin');
    expect(inDailyWindow(berlin, at('2031-01-15T08:30:00Z'))).toBe(true);
    expect(inDailyWindow(berlin, at('2031-01-15T07:30:00Z'))).toBe(false);
    expect(inDailyWindow(berlin, at('2031-07-15T07:30:00Z'))).toBe(true);
    expect(inDailyWindow(berlin, at('2031-07-15T08:30:00Z'))).toBe(false);
    // Kathmandu is UTC+5:45; a window across its midnight.
    const kathmandu = schedule('23:30', '00:30', 'Asia/Kathmandu');
    expect(inDailyWindow(kathmandu, at('2031-05-05T18:00:00Z'))).toBe(true); // 23:45 local
    expect(inDailyWindow(kathmandu, at('2031-05-05T18:50:00Z'))).toBe(false); // 00:35 local
    expect(localTimeOfDayMs(at('2031-05-05T18:15:00.250Z'), 'Asia/Kathmandu')).toBe(250);
  });

  test('the next edge: the nearer of opening and closing', () => {
    expect(msUntilWindowEdge(schedule('09:00', '17:00'), at('2031-05-05T08:59:58Z'))).toBe(2000);
    expect(msUntilWindowEdge(schedule('09:00', '17:00'), at('2031-05-05T16:00:00Z'))).toBe(3_600_000);
    expect(msUntilWindowEdge(schedule('09:00', '17:00'), at('2031-05-05T09:00:00Z'))).toBe(8 * 3_600_000);
    expect(msUntilWindowEdge(schedule('22:00', '06:00'), at('2031-05-05T23:00:00Z'))).toBe(7 * 3_600_000);
    expect(msUntilWindowEdge(schedule('08:00', '08:00'), at('2031-05-05T03:00:00Z'))).toBeUndefined();
  });
});

describe('audience', () => {
  const rule = (value: AudienceRule) => value;

  test('all: everyone, imported or not; list: the users of that import', () => {
    expect(audienceMatches({ type: 'all' }, user())).toBe(true);
    expect(audienceMatches({ type: 'list', importId: 'imp-1' }, user({}, ['imp-0', 'imp-1']))).toBe(true);
    expect(audienceMatches({ type: 'list', importId: 'imp-1' }, user({}, ['imp-2']))).toBe(false);
  });

  test.each([
    [rule({ attribute: 'plan', op: 'eq', value: 'gold' }), { plan: 'gold' }, true],
    [rule({ attribute: 'plan', op: 'eq', value: 'gold' }), { plan: 'Gold' }, false],
    [rule({ attribute: 'plan', op: 'eq', value: 'gold' }), {}, false],
    [rule({ attribute: 'plan', op: 'ne', value: 'gold' }), { plan: 'silver' }, true],
    [rule({ attribute: 'plan', op: 'ne', value: 'gold' }), {}, true],
    [rule({ attribute: 'plan', op: 'ne', value: 'gold' }), { plan: 'gold' }, false],
    [rule({ attribute: 'plan', op: 'in', value: ['gold', 'ß'] }), { plan: 'ß' }, true],
    [rule({ attribute: 'plan', op: 'in', value: ['gold'] }), {}, false],
    [rule({ attribute: 'vip', op: 'exists' }), { vip: '' }, true],
    [rule({ attribute: 'vip', op: 'exists' }), {}, false],
    [rule({ attribute: 'age', op: 'gt', value: 30 }), { age: '31' }, true],
    [rule({ attribute: 'age', op: 'gt', value: 30 }), { age: '4' }, false],
    [rule({ attribute: 'age', op: 'gt', value: 30 }), { age: '100' }, true],
    [rule({ attribute: 'age', op: 'lt', value: '30' }), { age: '4' }, true],
    [rule({ attribute: 'age', op: 'gt', value: 30 }), { age: 'old' }, true],
    [rule({ attribute: 'age', op: 'gt', value: 30 }), {}, false],
    [rule({ attribute: 'city', op: 'gt', value: 'Köln' }), { city: 'München' }, true],
    [rule({ attribute: 'city', op: 'lt', value: 'Köln' }), { city: 'Berlin' }, true],
    [rule({ attribute: 'email', op: 'prefix', value: 'info' }), { email: 'info@x' }, true],
    [rule({ attribute: 'email', op: 'prefix', value: 'info' }), { email: 'x-info' }, false],
    [rule({ attribute: 'toString', op: 'exists' }), {}, false],
  ] as const)('%o on %o: %s', (theRule, attributes, expected) => {
    expect(ruleHolds(theRule, attributes)).toBe(expected);
  });

  test('match all (the default) and any', () => {
    const rules: AudienceRule[] = [
      { attribute: 'plan', op: 'eq', value: 'gold' },
      { attribute: 'country', op: 'eq', value: 'de' },
    ];
    expect(audienceMatches({ type: 'rules', rules }, user({ plan: 'gold' }))).toBe(false);
    expect(audienceMatches({ type: 'rules', match: 'all', rules }, user({ plan: 'gold', country: 'de' }))).toBe(true);
    expect(audienceMatches({ type: 'rules', match: 'any', rules }, user({ plan: 'gold' }))).toBe(true);
    expect(audienceMatches({ type: 'rules', match: 'any', rules }, user({}))).toBe(false);
  });
});

describe('boundaries and priority', () => {
  test('the nearest start, end or window edge of a scheduled campaign', () => {
    const now = at('2031-03-01T10:00:00Z');
    const starting = testCampaign({ schedule: { startAt: '2031-03-01T10:00:03Z', endAt: '2031-04-01T00:00:00Z', timeZone: 'UTC' } });
    const ending = testCampaign({ schedule: { startAt: '2031-02-01T00:00:00Z', endAt: '2031-03-01T10:00:01.500Z', timeZone: 'UTC' } });
    const windowed = testCampaign({ schedule: { startAt: '2031-02-01T00:00:00Z', endAt: '2031-04-01T00:00:00Z', dailyWindow: { from: '10:00', to: '10:00' }, timeZone: 'UTC' } });
    expect(msUntilNextBoundary([starting], now)).toBe(3000);
    expect(msUntilNextBoundary([starting, ending], now)).toBe(1500);
    expect(msUntilNextBoundary([windowed], now)).toBe(31 * 86_400_000 - 36_000_000);
    expect(msUntilNextBoundary([{ ...ending, status: 'paused' }], now)).toBeUndefined();
    expect(msUntilNextBoundary([], now)).toBeUndefined();
  });

  test('higher priority first, then older', () => {
    const low = testCampaign({ priority: -5 });
    const old = testCampaign({ priority: 10 });
    const young = testCampaign({ priority: 10 });
    expect([low, young, old].sort(byPriority)).toEqual([old, young, low]);
  });
});
