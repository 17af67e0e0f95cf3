/** The campaign editor's fieldsets: template, variants, audience, schedule (with a timeline of the
 *  tenant's campaigns), delivery rules. Each edits a slice of the Draft. */
import type { CampaignView, ImportView, InlineTemplate } from '@inlay/schemas';
import { audienceOf, emptyTemplate, type Draft, type RuleDraft } from '../campaign-draft.js';
import { AudienceCount } from '../components/audience-count.js';
import { TemplateEditor, type TemplateError } from '../components/template-editor.js';
import { formatCount, formatTime, isTimeZone } from '../format.js';

export type Change = (patch: Partial<Draft>) => void;
export type FieldErrors = ReadonlyMap<string, TemplateError>;

const RULE_OPS: readonly { op: RuleDraft['op']; label: string }[] = [
  { op: 'eq', label: 'equals' },
  { op: 'ne', label: 'is missing or differs from' },
  { op: 'in', label: 'is one of (comma-separated)' },
  { op: 'exists', label: 'exists' },
  { op: 'gt', label: 'is greater than' },
  { op: 'lt', label: 'is less than' },
  { op: 'prefix', label: 'starts with' },
];

export function TemplateFields({ path, legend, template, onChange, errors }: { path: string; legend: string; template: InlineTemplate; onChange: (template: InlineTemplate) => void; errors: FieldErrors }) {
  const idBase = path.replace(/[^\w]/g, '-');
  return (
    <fieldset class="template-fields">
      <legend>{legend}</legend>
      <TemplateEditor id={`${idBase}-subject`} label="Subject" multiline={false} value={template.subject} onChange={(subject) => onChange({ ...template, subject })} error={errors.get(`${path}.subject`) ?? null} />
      <TemplateEditor id={`${idBase}-from`} label="From" multiline={false} value={template.from} onChange={(from) => onChange({ ...template, from })} error={errors.get(`${path}.from`) ?? null} />
      <TemplateEditor id={`${idBase}-html`} label="HTML body" value={template.html} onChange={(html) => onChange({ ...template, html })} error={errors.get(`${path}.html`) ?? null} />
      <TemplateEditor id={`${idBase}-text`} label="Text body" value={template.text} onChange={(text) => onChange({ ...template, text })} error={errors.get(`${path}.text`) ?? null} />
    </fieldset>
  );
}

export function VariantsSection({ draft, change, errors }: { draft: Draft; change: Change; errors: FieldErrors }) {
  const total = draft.variants.reduce((sum, variant) => sum + variant.weight, 0);
  return (
    <section aria-labelledby="variants-title" class="card">
      <h2 id="variants-title">A/B variants</h2>
      <p class="help">Each user gets one variant, chosen by weight and the same every time. Without variants everyone gets the template above.</p>
      {draft.variants.map((variant, index) => (
        <div class="variant" key={index}>
          <div class="row">
            <div class="field">
              <label for={`variant-${index}-id`}>Variant {index + 1} id</label>
              <input id={`variant-${index}-id`} value={variant.id} required pattern="[A-Za-z0-9_.\-]{1,64}" onInput={(event) => change({ variants: draft.variants.map((v, i) => (i === index ? { ...v, id: event.currentTarget.value } : v)) })} />
            </div>
            <div class="field">
              <label for={`variant-${index}-weight`}>Weight</label>
              <input id={`variant-${index}-weight`} type="number" min={1} max={10000} value={variant.weight} aria-describedby={`variant-${index}-share`} onInput={(event) => change({ variants: draft.variants.map((v, i) => (i === index ? { ...v, weight: Number(event.currentTarget.value) } : v)) })} />
              <p class="help" id={`variant-${index}-share`}>
                {total > 0 ? `${Math.round((100 * variant.weight) / total)} % of users` : ''}
              </p>
            </div>
            <button type="button" class="button danger" onClick={() => change({ variants: draft.variants.filter((_, i) => i !== index) })}>
              Remove variant {index + 1}
            </button>
          </div>
          <TemplateFields path={`variants[${index}].template`} legend={`Variant ${index + 1} template`} template={variant.template} errors={errors} onChange={(template) => change({ variants: draft.variants.map((v, i) => (i === index ? { ...v, template } : v)) })} />
        </div>
      ))}
      <button
        type="button"
        class="button secondary"
        disabled={draft.variants.length >= 10}
        onClick={() => change({ variants: [...draft.variants, { id: String.fromCharCode(97 + draft.variants.length), weight: 1, template: draft.variants.length === 0 ? { ...draft.template } : emptyTemplate() }] })}
      >
        Add variant
      </button>
    </section>
  );
}

export function AudienceSection({ tenant, draft, change, imports }: { tenant: string; draft: Draft; change: Change; imports: readonly ImportView[] }) {
  const setRule = (index: number, patch: Partial<RuleDraft>): void => change({ rules: draft.rules.map((rule, i) => (i === index ? { ...rule, ...patch } : rule)) });
  return (
    <section aria-labelledby="audience-title" class="card">
      <h2 id="audience-title">Audience</h2>
      <fieldset>
        <legend>Who gets this campaign</legend>
        {(
          [
            ['all', 'Every user of the tenant'],
            ['list', 'The users of an import'],
            ['rules', 'Users whose attributes match rules'],
          ] as const
        ).map(([type, label]) => (
          <label class="choice" key={type}>
            <input type="radio" name="audience" value={type} checked={draft.audienceType === type} onChange={() => change({ audienceType: type })} /> {label}
          </label>
        ))}
      </fieldset>
      {draft.audienceType === 'list' ? (
        <div class="field">
          <label for="audience-import">Import</label>
          <select id="audience-import" value={draft.importId} onChange={(event) => change({ importId: event.currentTarget.value })}>
            <option value="">Choose an import…</option>
            {imports.map((entry) => (
              <option key={entry.id} value={entry.id}>
                {entry.objectKey} · {formatTime(entry.createdAt)} · {formatCount(entry.rowsImported)} users
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {draft.audienceType === 'rules' ? (
        <fieldset>
          <legend>Rules</legend>
          <div class="field inline">
            <label for="audience-match">Match</label>
            <select id="audience-match" value={draft.match} onChange={(event) => change({ match: event.currentTarget.value as 'all' | 'any' })}>
              <option value="all">all rules</option>
              <option value="any">any rule</option>
            </select>
          </div>
          {draft.rules.map((rule, index) => (
            <div class="row rule" key={index}>
              <div class="field">
                <label for={`rule-${index}-attribute`}>Rule {index + 1} attribute</label>
                <input id={`rule-${index}-attribute`} value={rule.attribute} placeholder="plan" onInput={(event) => setRule(index, { attribute: event.currentTarget.value })} />
              </div>
              <div class="field">
                <label for={`rule-${index}-op`}>Condition</label>
                <select id={`rule-${index}-op`} value={rule.op} onChange={(event) => setRule(index, { op: event.currentTarget.value as RuleDraft['op'] })}>
                  {RULE_OPS.map((entry) => (
                    <option key={entry.op} value={entry.op}>
                      {entry.label}
                    </option>
                  ))}
                </select>
              </div>
              {rule.op !== 'exists' ? (
                <div class="field">
                  <label for={`rule-${index}-value`}>Value</label>
                  <input id={`rule-${index}-value`} value={rule.value} onInput={(event) => setRule(index, { value: event.currentTarget.value })} />
                </div>
              ) : null}
              <button type="button" class="button danger" disabled={draft.rules.length === 1} onClick={() => change({ rules: draft.rules.filter((_, i) => i !== index) })}>
                Remove rule {index + 1}
              </button>
            </div>
          ))}
          <button type="button" class="button secondary" onClick={() => change({ rules: [...draft.rules, { attribute: '', op: 'eq', value: '' }] })}>
            Add rule
          </button>
        </fieldset>
      ) : null}
      <AudienceCount tenant={tenant} audience={audienceOf(draft)} />
    </section>
  );
}

const TIME_ZONES: readonly string[] = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : ['UTC'];
/** Made once: the same vnode on every render, so ~400 options are never diffed per keystroke. */
const zoneList = (
  <datalist id="time-zones">
    {TIME_ZONES.map((zone) => (
      <option key={zone} value={zone} />
    ))}
  </datalist>
);

export function ScheduleSection({ draft, change, campaigns, selfId }: { draft: Draft; change: Change; campaigns: readonly CampaignView[]; selfId: string | null }) {
  return (
    <section aria-labelledby="schedule-title" class="card">
      <h2 id="schedule-title">Schedule</h2>
      <div class="row">
        <div class="field">
          <label for="schedule-zone">Time zone</label>
          <input id="schedule-zone" list="time-zones" value={draft.timeZone} aria-invalid={!isTimeZone(draft.timeZone)} aria-describedby="schedule-zone-help" onInput={(event) => change({ timeZone: event.currentTarget.value })} />
          {zoneList}
          <p class="help" id="schedule-zone-help">
            {isTimeZone(draft.timeZone) ? 'Start, end and the daily window are in this zone.' : 'Not a known time zone: use a name such as Europe/Berlin.'}
          </p>
        </div>
        <div class="field">
          <label for="schedule-start">Start</label>
          <input id="schedule-start" type="datetime-local" required value={draft.startLocal} onInput={(event) => change({ startLocal: event.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="schedule-end">End</label>
          <input id="schedule-end" type="datetime-local" required value={draft.endLocal} onInput={(event) => change({ endLocal: event.currentTarget.value })} />
        </div>
      </div>
      <label class="choice">
        <input type="checkbox" checked={draft.windowOn} onChange={(event) => change({ windowOn: event.currentTarget.checked })} /> Only during a daily window
      </label>
      {draft.windowOn ? (
        <div class="row">
          <div class="field">
            <label for="window-from">Daily from</label>
            <input id="window-from" type="time" value={draft.windowFrom} onInput={(event) => change({ windowFrom: event.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="window-to">Daily until</label>
            <input id="window-to" type="time" value={draft.windowTo} onInput={(event) => change({ windowTo: event.currentTarget.value })} />
          </div>
        </div>
      ) : null}
      <Timeline campaigns={campaigns} selfId={selfId} />
    </section>
  );
}

/** The tenant's campaigns on one time axis, this one marked; a list says the same in words. */
function Timeline({ campaigns, selfId }: { campaigns: readonly CampaignView[]; selfId: string | null }) {
  if (campaigns.length === 0) return null;
  const shown = campaigns.slice(-12);
  const start = Math.min(...shown.map((c) => Date.parse(c.schedule.startAt)));
  const end = Math.max(...shown.map((c) => Date.parse(c.schedule.endAt)));
  const span = Math.max(1, end - start);
  const now = Date.now();
  return (
    <figure class="timeline">
      <figcaption>Beside the other campaigns ({formatTime(new Date(start).toISOString())} – {formatTime(new Date(end).toISOString())})</figcaption>
      <svg viewBox={`0 0 600 ${shown.length * 18 + 6}`} role="img" aria-label={`Timeline of ${shown.length} campaigns`} preserveAspectRatio="none">
        {now > start && now < end ? <line x1={(600 * (now - start)) / span} x2={(600 * (now - start)) / span} y1={0} y2={shown.length * 18 + 6} class="now" /> : null}
        {shown.map((campaign, index) => {
          const x = (600 * (Date.parse(campaign.schedule.startAt) - start)) / span;
          const width = Math.max(2, (600 * (Date.parse(campaign.schedule.endAt) - Date.parse(campaign.schedule.startAt))) / span);
          return <rect key={campaign.id} x={x} y={index * 18 + 4} width={width} height={12} rx={3} class={campaign.id === selfId ? 'self' : `other status-${campaign.status}`} />;
        })}
      </svg>
      <ul class="timeline-list">
        {shown.map((campaign) => (
          <li key={campaign.id}>
            {campaign.id === selfId ? <strong>{campaign.name} (this campaign)</strong> : campaign.name}: {formatTime(campaign.schedule.startAt)} – {formatTime(campaign.schedule.endAt)}, {campaign.status}
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function DeliverySection({ draft, change }: { draft: Draft; change: Change }) {
  return (
    <section aria-labelledby="delivery-title" class="card">
      <h2 id="delivery-title">Placement, frequency and reinjection</h2>
      <div class="row">
        <div class="field">
          <label for="position">Position in the inbox</label>
          <select id="position" value={draft.positionType} onChange={(event) => change({ positionType: event.currentTarget.value as Draft['positionType'] })}>
            <option value="newest">On top, dated when shown</option>
            <option value="fixedDate">Among mail, at a fixed date</option>
          </select>
        </div>
        {draft.positionType === 'fixedDate' ? (
          <div class="field">
            <label for="position-date">Message date</label>
            <input id="position-date" type="datetime-local" value={draft.positionLocal} onInput={(event) => change({ positionLocal: event.currentTarget.value })} />
          </div>
        ) : null}
        <div class="field">
          <label for="priority">Priority</label>
          <input id="priority" type="number" min={-1000} max={1000} value={draft.priority} onInput={(event) => change({ priority: Number(event.currentTarget.value) })} />
        </div>
      </div>
      <div class="row">
        <div class="field">
          <label for="max-unseen">At most unseen at once</label>
          <input id="max-unseen" type="number" min={1} max={100} value={draft.maxVisibleUnseen} onInput={(event) => change({ maxVisibleUnseen: Number(event.currentTarget.value) })} />
        </div>
        <div class="field">
          <label for="min-delay">Minutes between two injections</label>
          <input id="min-delay" type="number" min={0} value={draft.minDelayMinutes} onInput={(event) => change({ minDelayMinutes: Number(event.currentTarget.value) })} />
        </div>
        <div class="field">
          <label for="reinjection">After the user deletes it</label>
          <select id="reinjection" value={draft.reinjection} onChange={(event) => change({ reinjection: event.currentTarget.value as Draft['reinjection'] })}>
            <option value="never">Never show it again</option>
            <option value="afterExpunge">Show it again after a delay</option>
          </select>
        </div>
        {draft.reinjection === 'afterExpunge' ? (
          <>
            <div class="field">
              <label for="reinject-delay">Delay (hours)</label>
              <input id="reinject-delay" type="number" min={0} max={8760} value={draft.delayHours} onInput={(event) => change({ delayHours: Number(event.currentTarget.value) })} />
            </div>
            <div class="field">
              <label for="reinject-max">At most (times)</label>
              <input id="reinject-max" type="number" min={1} max={100} value={draft.maxReinjections} onInput={(event) => change({ maxReinjections: Number(event.currentTarget.value) })} />
            </div>
          </>
        ) : null}
      </div>
    </section>
  );
}
