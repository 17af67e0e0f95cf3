/**
 * The campaign editor's form state and its translation to and from the API's CampaignInput /
 * CampaignView (types from @inlay/schemas). Times are edited as wall-clock times in the
 * campaign's own time zone and sent as UTC instants.
 */
import type { Audience, AudienceRule, CampaignInput, CampaignView, InlineTemplate } from '@inlay/schemas';
import { utcToZoned, zonedToUtc } from './format.js';

export interface VariantDraft {
  id: string;
  weight: number;
  template: InlineTemplate;
}

export interface RuleDraft {
  attribute: string;
  op: AudienceRule['op'];
  value: string;
}

export interface Draft {
  name: string;
  template: InlineTemplate;
  /** A template named by objectKey in a data source: kept as it is, not edited here. */
  templateObject: { dataSourceId?: string; objectKey: string } | null;
  variants: VariantDraft[];
  audienceType: Audience['type'];
  importId: string;
  match: 'all' | 'any';
  rules: RuleDraft[];
  timeZone: string;
  startLocal: string;
  endLocal: string;
  windowOn: boolean;
  windowFrom: string;
  windowTo: string;
  positionType: 'newest' | 'fixedDate';
  positionLocal: string;
  maxVisibleUnseen: number;
  minDelayMinutes: number;
  reinjection: 'never' | 'afterExpunge';
  delayHours: number;
  maxReinjections: number;
  priority: number;
}

const HOUR_MS = 3_600_000;

export function emptyTemplate(): InlineTemplate {
  return { subject: '', from: '', html: '', text: '' };
}

export function newDraft(now = new Date()): Draft {
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const start = new Date(Math.ceil(now.getTime() / HOUR_MS) * HOUR_MS);
  return {
    name: '',
    template: emptyTemplate(),
    templateObject: null,
    variants: [],
    audienceType: 'all',
    importId: '',
    match: 'all',
    rules: [{ attribute: '', op: 'eq', value: '' }],
    timeZone,
    startLocal: utcToZoned(start.toISOString(), timeZone),
    endLocal: utcToZoned(new Date(start.getTime() + 7 * 24 * HOUR_MS).toISOString(), timeZone),
    windowOn: false,
    windowFrom: '09:00',
    windowTo: '18:00',
    positionType: 'newest',
    positionLocal: utcToZoned(start.toISOString(), timeZone),
    maxVisibleUnseen: 1,
    minDelayMinutes: 0,
    reinjection: 'never',
    delayHours: 24,
    maxReinjections: 1,
    priority: 0,
  };
}

const isInline = (template: CampaignView['template']): template is InlineTemplate => 'subject' in template;

export function draftFromView(view: CampaignView): Draft {
  const timeZone = view.schedule.timeZone;
  const base = newDraft();
  return {
    ...base,
    name: view.name,
    template: isInline(view.template) ? { ...view.template } : emptyTemplate(),
    templateObject: isInline(view.template) ? null : { ...view.template },
    variants: (view.variants ?? []).map((variant) => ({ id: variant.id, weight: variant.weight, template: isInline(variant.template) ? { ...variant.template } : emptyTemplate() })),
    audienceType: view.audience.type,
    importId: view.audience.type === 'list' ? view.audience.importId : '',
    match: view.audience.type === 'rules' ? (view.audience.match ?? 'all') : 'all',
    rules:
      view.audience.type === 'rules'
        ? view.audience.rules.map((rule) => ({ attribute: rule.attribute, op: rule.op, value: rule.op === 'exists' ? '' : Array.isArray(rule.value) ? rule.value.join(', ') : String(rule.value) }))
        : base.rules,
    timeZone,
    startLocal: utcToZoned(view.schedule.startAt, timeZone),
    endLocal: utcToZoned(view.schedule.endAt, timeZone),
    windowOn: view.schedule.dailyWindow !== undefined,
    windowFrom: view.schedule.dailyWindow?.from ?? base.windowFrom,
    windowTo: view.schedule.dailyWindow?.to ?? base.windowTo,
    positionType: view.position.type,
    positionLocal: view.position.type === 'fixedDate' ? utcToZoned(view.position.date, timeZone) : base.positionLocal,
    maxVisibleUnseen: view.frequency.maxVisibleUnseen,
    minDelayMinutes: view.frequency.minDelayMinutes,
    reinjection: view.reinjection.policy,
    delayHours: view.reinjection.policy === 'afterExpunge' ? view.reinjection.delayHours : base.delayHours,
    maxReinjections: view.reinjection.policy === 'afterExpunge' ? (view.reinjection.maxReinjections ?? 1) : base.maxReinjections,
    priority: view.priority,
  };
}

function ruleOf(rule: RuleDraft): AudienceRule {
  const attribute = rule.attribute.trim();
  switch (rule.op) {
    case 'exists':
      return { attribute, op: 'exists' };
    case 'in':
      return { attribute, op: 'in', value: rule.value.split(',').map((value) => value.trim()).filter((value) => value !== '') };
    case 'gt':
    case 'lt': {
      const number = Number(rule.value);
      return { attribute, op: rule.op, value: rule.value.trim() !== '' && Number.isFinite(number) ? number : rule.value };
    }
    case 'eq':
    case 'ne':
    case 'prefix':
      return { attribute, op: rule.op, value: rule.value };
  }
}

export function audienceOf(draft: Draft): Audience {
  switch (draft.audienceType) {
    case 'all':
      return { type: 'all' };
    case 'list':
      return { type: 'list', importId: draft.importId };
    case 'rules':
      return { type: 'rules', match: draft.match, rules: draft.rules.map(ruleOf) };
  }
}

/** Throws with a message naming the field when a time cannot be read. */
export function inputFromDraft(draft: Draft): CampaignInput {
  const at = (local: string, field: string): string => {
    try {
      return zonedToUtc(local, draft.timeZone);
    } catch {
      throw new Error(`${field}: enter a date and a time`);
    }
  };
  return {
    name: draft.name,
    template: draft.templateObject ?? draft.template,
    audience: audienceOf(draft),
    schedule: {
      startAt: at(draft.startLocal, 'Start'),
      endAt: at(draft.endLocal, 'End'),
      timeZone: draft.timeZone,
      ...(draft.windowOn ? { dailyWindow: { from: draft.windowFrom, to: draft.windowTo } } : {}),
    },
    position: draft.positionType === 'newest' ? { type: 'newest' } : { type: 'fixedDate', date: at(draft.positionLocal, 'Message date') },
    frequency: { maxVisibleUnseen: draft.maxVisibleUnseen, minDelayMinutes: draft.minDelayMinutes },
    reinjection: draft.reinjection === 'never' ? { policy: 'never' } : { policy: 'afterExpunge', delayHours: draft.delayHours, maxReinjections: draft.maxReinjections },
    priority: draft.priority,
    ...(draft.variants.length > 0 ? { variants: draft.variants.map((variant) => ({ id: variant.id, weight: variant.weight, template: variant.template })) } : {}),
  };
}
