/**
 * Rules on a campaign that a JSON Schema cannot say, and the stored form of a posted campaign:
 * timestamps that exist (no 30 February) in UTC, endAt after startAt, a time zone Intl knows
 * (stored under its canonical name), a From that is an address, unique variant ids, a template
 * reference naming one of the tenant's data sources, and Handlebars sources that compile.
 * Defaults are applied here, not left to the validator, so the stored campaign is complete.
 *
 * Pure apart from the clock the caller passes; throws 400-class MiddlewareErrors naming the field.
 * Must never store a campaign that has not passed every check.
 */
import type { Campaign, CampaignInput, CampaignTemplate, Position, Reinjection, Schedule, Tenant } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { checkUniqueIds } from '../tenants/rules.js';
import { checkCampaignTemplates, isInlineTemplate } from './template-check.js';

export const DEFAULT_TIME_ZONE = 'UTC';

function invalid(message: string): MiddlewareError {
  return new MiddlewareError('INLAY_MW_VALIDATION', message);
}

const TIMESTAMP_PARTS = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2}))?/;

/** An RFC 3339 timestamp (the schema checked its shape) as UTC ISO text; refuses impossible dates. */
export function normalizeTimestamp(value: string, field: string): string {
  const parts = TIMESTAMP_PARTS.exec(value)?.slice(1).map(Number);
  const instant = Date.parse(value);
  if (parts === undefined || !Number.isFinite(instant)) throw invalid(`${field} is not a valid timestamp`);
  const [year, month, day, hour, minute, second = 0] = parts as [number, number, number, number, number, number?];
  const probe = new Date(Date.UTC(year, month - 1, day));
  // Date.parse rolls 30 February over into March and accepts 24:00; neither is a real time.
  if (probe.getUTCDate() !== day || probe.getUTCMonth() !== month - 1 || hour > 23 || minute > 59 || second > 59) {
    throw invalid(`${field} is not a valid timestamp (no such date or time)`);
  }
  if (year < 2000 || year > 9999) throw invalid(`${field} must be between the years 2000 and 9999`);
  return new Date(instant).toISOString();
}

/** The canonical IANA name (`europe/berlin` → `Europe/Berlin`), or a 400 naming the field. */
export function canonicalTimeZone(name: string, field: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw invalid(`${field} is not an IANA time zone name known to this server (e.g. "Europe/Berlin", "UTC")`);
  }
}

/**
 * A From header source: `addr@domain`, or `Display Name <addr@domain>`, where any part may be a
 * Handlebars expression (`{{brand}} <news@{{domain}}>`). Expressions stand in for one character
 * of text; what renders is checked again when the message is composed.
 */
const FROM_BARE = /^[^\s<>@"]+@[^\s<>@"]+$/;
const FROM_NAMED = /^[^<>]*<[^\s<>@"]+@[^\s<>@"]+>$/;
const HANDLEBARS_EXPRESSION = /\{\{[^}]*\}\}\}?/g;

export function checkFromAddress(source: string, field: string): void {
  const shape = source.replace(HANDLEBARS_EXPRESSION, 'x').trim();
  if (!FROM_BARE.test(shape) && !FROM_NAMED.test(shape)) {
    throw invalid(`${field} must be an address ("news@example.com") or a display name and an address ("Example News <news@example.com>")`);
  }
}

function checkTemplateReference(template: CampaignTemplate, tenant: Tenant, field: string): void {
  if (isInlineTemplate(template)) {
    checkFromAddress(template.from, `${field}.from`);
    return;
  }
  if (template.dataSourceId === undefined) {
    if (!tenant.dataSources.some((dataSource) => dataSource.defaultDataSource)) {
      throw invalid(`${field}.dataSourceId is required: tenant "${tenant.id}" has no default data source`);
    }
  } else if (!tenant.dataSources.some((dataSource) => dataSource.id === template.dataSourceId)) {
    throw invalid(`${field}.dataSourceId names no data source of tenant "${tenant.id}"`);
  }
}

function normalizeSchedule(schedule: Schedule, field: string): Campaign['schedule'] {
  const startAt = normalizeTimestamp(schedule.startAt, `${field}.startAt`);
  const endAt = normalizeTimestamp(schedule.endAt, `${field}.endAt`);
  if (Date.parse(endAt) <= Date.parse(startAt)) throw invalid(`${field}.endAt must be after ${field}.startAt`);
  if (schedule.dailyWindow && schedule.dailyWindow.from === schedule.dailyWindow.to) {
    throw invalid(`${field}.dailyWindow.to must differ from ${field}.dailyWindow.from (leave dailyWindow out for all day)`);
  }
  return {
    startAt,
    endAt,
    ...(schedule.dailyWindow ? { dailyWindow: { ...schedule.dailyWindow } } : {}),
    timeZone: canonicalTimeZone(schedule.timeZone ?? DEFAULT_TIME_ZONE, `${field}.timeZone`),
  };
}

function normalizePosition(position: Position | undefined, field: string): Position {
  if (position === undefined || position.type === 'newest') return { type: 'newest' };
  return { type: 'fixedDate', date: normalizeTimestamp(position.date, `${field}.date`) };
}

function normalizeReinjection(reinjection: Reinjection | undefined): Reinjection {
  if (reinjection === undefined || reinjection.policy === 'never') return { policy: 'never' };
  return { policy: 'afterExpunge', delayHours: reinjection.delayHours, maxReinjections: reinjection.maxReinjections ?? 1 };
}

/** What the client defines (no id, status, revision or timestamps), checked and completed. */
export type CampaignDefinition = Omit<Campaign, 'id' | 'status' | 'revision' | 'createdAt' | 'updatedAt'>;

/** Checks a POST or PUT body against the tenant and returns the definition to store. */
export function campaignDefinitionFromInput(input: CampaignInput, tenant: Tenant, field = 'body'): CampaignDefinition {
  const schedule = normalizeSchedule(input.schedule, `${field}.schedule`);
  checkTemplateReference(input.template, tenant, `${field}.template`);
  if (input.variants) {
    checkUniqueIds(input.variants, `${field}.variants`);
    input.variants.forEach((variant, index) => checkTemplateReference(variant.template, tenant, `${field}.variants[${index}].template`));
  }
  checkCampaignTemplates(input, field);
  return {
    name: input.name,
    template: input.template,
    audience: input.audience.type === 'rules' ? { ...input.audience, match: input.audience.match ?? 'all' } : input.audience,
    schedule,
    position: normalizePosition(input.position, `${field}.position`),
    frequency: { maxVisibleUnseen: input.frequency?.maxVisibleUnseen ?? 1, minDelayMinutes: input.frequency?.minDelayMinutes ?? 0 },
    reinjection: normalizeReinjection(input.reinjection),
    priority: input.priority ?? 0,
    ...(input.variants ? { variants: input.variants } : {}),
  };
}
