/**
 * Campaigns: status, schedule, live totals (injected, read, read rate, refreshed every 15 s) and
 * the lifecycle actions the API offers in each state; a refused action shows the API's reason
 * beside its button.
 */
import { useEffect } from 'preact/hooks';
import type { CampaignOverview, CampaignView } from '@inlay/schemas';
import { call, getJson, sendJson, tenantPath } from '../api.js';
import { ActionButton, ErrorNote, Loading, Page, StatusBadge, useLoad } from '../components/common.js';
import { formatCount, formatRate, formatTime } from '../format.js';
import { tenantUrl } from '../router.js';

const LIVE_REFRESH_MS = 15_000;

export function CampaignListScreen({ tenant }: { tenant: string }) {
  const campaigns = useLoad(() => getJson<CampaignView[]>(tenantPath(tenant, 'campaigns')), [tenant]);
  const totals = useLoad(() => getJson<CampaignOverview>(tenantPath(tenant, 'reports')), [tenant]);
  useEffect(() => {
    const timer = setInterval(() => totals.reload(), LIVE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [tenant]);
  const figures = new Map((totals.data?.campaigns ?? []).map((entry) => [entry.campaignId, entry]));
  const reloadAll = (): void => {
    campaigns.reload();
    totals.reload();
  };
  return (
    <Page
      title="Campaigns"
      actions={
        <a class="button primary" href={tenantUrl(tenant, 'campaigns', 'new')}>
          New campaign
        </a>
      }
    >
      <ErrorNote error={campaigns.error ?? totals.error} />
      {campaigns.data === undefined ? (
        campaigns.loading ? <Loading what="campaigns" /> : null
      ) : campaigns.data.length === 0 ? (
        <p>No campaigns yet. Create the first one with “New campaign”.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Table, scrolls sideways on narrow screens">
          <table>
            <caption class="visually-hidden">Campaigns with status, schedule and totals</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Schedule</th>
                <th scope="col" class="num">
                  Injected
                </th>
                <th scope="col" class="num">
                  Read
                </th>
                <th scope="col" class="num">
                  Read rate
                </th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {campaigns.data.map((campaign) => {
                const figure = figures.get(campaign.id);
                return (
                  <tr key={campaign.id}>
                    <th scope="row">
                      <a href={tenantUrl(tenant, 'campaigns', campaign.id)}>{campaign.name}</a>
                    </th>
                    <td>
                      <StatusBadge status={campaign.status} />
                    </td>
                    <td>
                      {formatTime(campaign.schedule.startAt, campaign.schedule.timeZone)} – {formatTime(campaign.schedule.endAt, campaign.schedule.timeZone)}
                      <small class="muted"> {campaign.schedule.timeZone}</small>
                    </td>
                    <td class="num">{figure ? formatCount(figure.totals.injected) : '—'}</td>
                    <td class="num">{figure ? formatCount(figure.totals.read) : '—'}</td>
                    <td class="num">{figure ? formatRate(figure.readRate) : '—'}</td>
                    <td class="actions-cell">
                      <a class="button secondary" href={tenantUrl(tenant, 'campaigns', campaign.id, 'results')} aria-label={`Results of ${campaign.name}`}>
                        Results
                      </a>
                      {campaign.actions.map((action) => (
                        <ActionButton
                          key={action}
                          label={action[0]!.toUpperCase() + action.slice(1)}
                          kind={action === 'end' ? 'danger' : 'secondary'}
                          run={async () => {
                            await sendJson('POST', tenantPath(tenant, 'campaigns', campaign.id, action));
                            reloadAll();
                          }}
                        />
                      ))}
                      {campaign.status !== 'running' ? (
                        <ActionButton
                          label="Delete"
                          kind="danger"
                          run={async () => {
                            if (!confirm(`Delete the campaign “${campaign.name}”? This cannot be undone.`)) return;
                            await call(tenantPath(tenant, 'campaigns', campaign.id), { method: 'DELETE', headers: { 'if-match': `"${campaign.revision}"` } });
                            reloadAll();
                          }}
                        />
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
