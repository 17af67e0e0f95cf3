/**
 * Create or edit a campaign: template and variants in code editors, audience, schedule,
 * placement and frequency, then save. Save-time template errors land at their line in the right
 * editor; a save over someone else's change (412 on If-Match) asks: reload theirs, or overwrite.
 */
import { useState } from 'preact/hooks';
import type { CampaignView, ImportView } from '@inlay/schemas';
import { ApiError, call, getJson, tenantPath } from '../api.js';
import { draftFromView, inputFromDraft, newDraft, type Draft } from '../campaign-draft.js';
import { ErrorNote, Loading, Page, StatusBadge, errorText, useLoad } from '../components/common.js';
import { parseTemplateError, type TemplateError } from '../components/template-editor.js';
import { navigate, tenantUrl } from '../router.js';
import { AudienceSection, DeliverySection, ScheduleSection, TemplateFields, VariantsSection } from './campaign-sections.js';
import { PreviewPanel } from './preview-panel.js';

interface Loaded {
  readonly view: CampaignView | null;
  readonly campaigns: CampaignView[];
  readonly imports: ImportView[];
}

export function CampaignEditorScreen({ tenant, campaignId }: { tenant: string; campaignId: string | null }) {
  const loaded = useLoad<Loaded>(async () => {
    const [view, campaigns, imports] = await Promise.all([
      campaignId === null ? Promise.resolve(null) : getJson<CampaignView>(tenantPath(tenant, 'campaigns', campaignId)),
      getJson<CampaignView[]>(tenantPath(tenant, 'campaigns')),
      getJson<ImportView[]>(tenantPath(tenant, 'imports')).catch(() => [] as ImportView[]),
    ]);
    return { view, campaigns, imports };
  }, [tenant, campaignId]);
  if (loaded.data === undefined) {
    return (
      <Page title={campaignId === null ? 'New campaign' : 'Campaign'}>
        <ErrorNote error={loaded.error} />
        {loaded.loading ? <Loading what="the campaign" /> : null}
      </Page>
    );
  }
  return <Editor tenant={tenant} loaded={loaded.data} />;
}

function Editor({ tenant, loaded }: { tenant: string; loaded: Loaded }) {
  const [view, setView] = useState<CampaignView | null>(loaded.view);
  const [draft, setDraft] = useState<Draft>(loaded.view ? draftFromView(loaded.view) : newDraft());
  const [fieldErrors, setFieldErrors] = useState<ReadonlyMap<string, TemplateError>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState('');
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);
  const change = (patch: Partial<Draft>): void => {
    setDraft((current) => ({ ...current, ...patch }));
    setSaved('');
  };
  const editable = view === null || ['draft', 'scheduled', 'paused'].includes(view.status);

  const save = async (ifMatch: string | null): Promise<void> => {
    setBusy(true);
    setError(null);
    setSaved('');
    setFieldErrors(new Map());
    try {
      const input = inputFromDraft(draft);
      const response =
        view === null
          ? await call(tenantPath(tenant, 'campaigns'), { method: 'POST', json: input })
          : await call(tenantPath(tenant, 'campaigns', view.id), { method: 'PUT', json: input, headers: ifMatch === null ? {} : { 'if-match': ifMatch } });
      const next = (await response.json()) as CampaignView;
      setView(next);
      setConflict(false);
      setSaved(`Saved at ${new Date().toLocaleTimeString()} (revision ${next.revision}).`);
      if (view === null) history.replaceState(null, '', tenantUrl(tenant, 'campaigns', next.id));
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'INLAY_MW_CAMPAIGN_MODIFIED') setConflict(true);
      else if (caught instanceof ApiError && caught.code === 'INLAY_MW_TEMPLATE_INVALID') {
        const parsed = parseTemplateError(caught.message);
        if (parsed) setFieldErrors(new Map([[parsed.path, parsed.error]]));
        setError(`The template has an error: ${caught.message.replace(/^body\./, '')}. It is marked at its line below.`);
      } else setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  const reloadTheirs = async (): Promise<void> => {
    if (view === null) return;
    const theirs = await getJson<CampaignView>(tenantPath(tenant, 'campaigns', view.id));
    setView(theirs);
    setDraft(draftFromView(theirs));
    setConflict(false);
    setSaved('Reloaded the version saved by someone else.');
  };

  return (
    <Page title={view === null ? 'New campaign' : `Campaign: ${view.name}`} actions={view ? <a class="button secondary" href={tenantUrl(tenant, 'campaigns', view.id, 'results')}>Results</a> : null}>
      {view ? (
        <p>
          Status <StatusBadge status={view.status} /> · revision {view.revision}
          {editable ? null : ' · A running or ended campaign cannot be changed: pause it first (running), or copy it into a new one.'}
        </p>
      ) : null}
      <div class="editor-layout">
        <form
          class="campaign-form"
          aria-label="Campaign"
          onSubmit={(event) => {
            event.preventDefault();
            void save(view === null ? null : `"${view.revision}"`);
          }}
        >
          <section class="card" aria-labelledby="basics-title">
            <h2 id="basics-title">Message</h2>
            <div class="field">
              <label for="campaign-name">Campaign name</label>
              <input id="campaign-name" required maxLength={200} value={draft.name} onInput={(event) => change({ name: event.currentTarget.value })} />
            </div>
            {draft.templateObject ? (
              <p class="note">
                The template is the object “{draft.templateObject.objectKey}” in a data source; edit it there. Variants below can still be inline.
              </p>
            ) : (
              <TemplateFields path="template" legend={draft.variants.length > 0 ? 'Fallback template (variants below are what users get)' : 'Template (Handlebars: {{displayName}}, {{address}}, attributes)'} template={draft.template} errors={fieldErrors} onChange={(template) => change({ template })} />
            )}
          </section>
          <VariantsSection draft={draft} change={change} errors={fieldErrors} />
          <AudienceSection tenant={tenant} draft={draft} change={change} imports={loaded.imports} />
          <ScheduleSection draft={draft} change={change} campaigns={loaded.campaigns} selfId={view?.id ?? null} />
          <DeliverySection draft={draft} change={change} />
          <div class="save-bar">
            <button type="submit" class="button primary" disabled={busy || !editable} aria-busy={busy}>
              {busy ? 'Saving…' : view === null ? 'Create campaign' : 'Save changes'}
            </button>
            {view !== null ? (
              <button type="button" class="button secondary" onClick={() => navigate(tenantUrl(tenant, 'campaigns'))}>
                Back to campaigns
              </button>
            ) : null}
            <p role="status" class="saved">
              {saved}
            </p>
          </div>
          {conflict ? (
            <div class="note error" role="alert">
              <p>This campaign was changed by someone else since you opened it. Reload their version (your changes are lost), or overwrite it with yours.</p>
              <button type="button" class="button secondary" onClick={() => void reloadTheirs().catch((caught: unknown) => setError(errorText(caught)))}>
                Reload
              </button>{' '}
              <button
                type="button"
                class="button danger"
                onClick={async () => {
                  if (view === null) return;
                  try {
                    const current = await call(tenantPath(tenant, 'campaigns', view.id));
                    await save(current.headers.get('etag'));
                  } catch (caught) {
                    setError(errorText(caught));
                  }
                }}
              >
                Overwrite
              </button>
            </div>
          ) : null}
          <ErrorNote error={error} />
        </form>
        <PreviewPanel tenant={tenant} campaignId={view?.id ?? null} revision={view?.revision ?? 0} />
      </div>
    </Page>
  );
}
