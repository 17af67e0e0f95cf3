/**
 * Whether a campaign applies to a user at a moment: effective status `running` (lifecycle.ts: a
 * stored `scheduled` campaign between startAt and endAt), inside its daily window in its time
 * zone, and the user in its audience. Also when the answer can next change by the clock alone,
 * so the proxy knows how long a view stays true (ttlMs).
 *
 * Pure: the clock is a parameter. Must never read the store or the wall clock.
 */
import type { Audience, AudienceRule, Campaign } from '@inlay/schemas';
import { effectiveStatus } from '../campaigns/lifecycle.js';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** What audience rules look at; an unknown user has no attributes and no lists. */
export interface AudienceSubject {
  readonly attributes: Readonly<Record<string, string>>;
  readonly lists: readonly string[];
}

export const NOBODY_KNOWN: AudienceSubject = Object.freeze({ attributes: {}, lists: [] });

export function appliesNow(campaign: Campaign, user: AudienceSubject, now: Date): boolean {
  return effectiveStatus(campaign, now) === 'running' && inDailyWindow(campaign.schedule, now) && audienceMatches(campaign.audience, user);
}

/** "all" is everyone who logs in, imported or not; a list is an import's users. */
export function audienceMatches(audience: Audience, user: AudienceSubject): boolean {
  switch (audience.type) {
    case 'all':
      return true;
    case 'list':
      return user.lists.includes(audience.importId);
    case 'rules': {
      const holds = (rule: AudienceRule): boolean => ruleHolds(rule, user.attributes);
      return (audience.match ?? 'all') === 'any' ? audience.rules.some(holds) : audience.rules.every(holds);
    }
  }
}

export function ruleHolds(rule: AudienceRule, attributes: Readonly<Record<string, string>>): boolean {
  const value = Object.hasOwn(attributes, rule.attribute) ? attributes[rule.attribute] : undefined;
  switch (rule.op) {
    case 'exists':
      return value !== undefined;
    case 'ne':
      // "missing or differs": a user without the attribute is not excluded by it.
      return value !== rule.value;
    case 'eq':
      return value === rule.value;
    case 'in':
      return value !== undefined && rule.value.includes(value);
    case 'prefix':
      return value !== undefined && value.startsWith(rule.value);
    case 'gt':
    case 'lt': {
      if (value === undefined) return false;
      const order = compareForRule(value, rule.value);
      return rule.op === 'gt' ? order > 0 : order < 0;
    }
  }
}

/** Numerically when both sides are numbers (attributes are stored as text), else by text. */
function compareForRule(attribute: string, value: number | string): number {
  const left = asNumber(attribute);
  const right = typeof value === 'number' ? value : asNumber(value);
  if (left !== undefined && right !== undefined) return left - right;
  const text = String(value);
  return attribute < text ? -1 : attribute > text ? 1 : 0;
}

function asNumber(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : undefined;
}

// --- daily windows ---

const localClocks = new Map<string, Intl.DateTimeFormat>();

/** Milliseconds since local midnight in `timeZone`. */
export function localTimeOfDayMs(now: Date, timeZone: string): number {
  let clock = localClocks.get(timeZone);
  if (clock === undefined) {
    try {
      clock = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    } catch {
      // Stored zones were checked when the campaign was saved; a runtime without this zone's data
      // falls back to UTC rather than failing every view.
      clock = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    localClocks.set(timeZone, clock);
  }
  let hours = 0;
  let minutes = 0;
  let seconds = 0;
  for (const part of clock.formatToParts(now)) {
    if (part.type === 'hour') hours = Number(part.value);
    else if (part.type === 'minute') minutes = Number(part.value);
    else if (part.type === 'second') seconds = Number(part.value);
  }
  return ((hours * 60 + minutes) * 60 + seconds) * 1000 + now.getUTCMilliseconds();
}

const clockTimeMs = (hhmm: string): number => (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))) * MINUTE_MS;

/** Inside [from, to) local time; from > to spans midnight; from = to is the whole day. */
export function inDailyWindow(schedule: Campaign['schedule'], now: Date): boolean {
  const window = schedule.dailyWindow;
  if (window === undefined) return true;
  const from = clockTimeMs(window.from);
  const to = clockTimeMs(window.to);
  if (from === to) return true;
  const time = localTimeOfDayMs(now, schedule.timeZone);
  return from < to ? time >= from && time < to : time >= from || time < to;
}

/** Milliseconds until the window next opens or closes; undefined without a window. Ignores a
 *  daylight-saving jump within the day, which only matters when a view is already cached longer
 *  than the few seconds a ttl allows. */
export function msUntilWindowEdge(schedule: Campaign['schedule'], now: Date): number | undefined {
  const window = schedule.dailyWindow;
  if (window === undefined || window.from === window.to) return undefined;
  const time = localTimeOfDayMs(now, schedule.timeZone);
  const until = (edge: number): number => (edge - time + DAY_MS) % DAY_MS || DAY_MS;
  return Math.min(until(clockTimeMs(window.from)), until(clockTimeMs(window.to)));
}

/** Milliseconds until any of `campaigns` can start or stop applying by the clock: a start, an
 *  end, a window edge. undefined when none can. */
export function msUntilNextBoundary(campaigns: readonly Campaign[], now: Date): number | undefined {
  const nowMs = now.getTime();
  let nearest: number | undefined;
  const consider = (ms: number | undefined): void => {
    if (ms !== undefined && ms > 0 && (nearest === undefined || ms < nearest)) nearest = ms;
  };
  for (const campaign of campaigns) {
    if (campaign.status !== 'scheduled') continue;
    const startMs = Date.parse(campaign.schedule.startAt);
    const endMs = Date.parse(campaign.schedule.endAt);
    if (nowMs >= endMs) continue;
    consider(startMs - nowMs);
    consider(endMs - nowMs);
    consider(msUntilWindowEdge(campaign.schedule, now));
  }
  return nearest;
}

/** Higher priority first; among equals the older campaign (the order campaigns are listed in). */
export function byPriority(a: Campaign, b: Campaign): number {
  return b.priority - a.priority || a.createdAt.localeCompare(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
